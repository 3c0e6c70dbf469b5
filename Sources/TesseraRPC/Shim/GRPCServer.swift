import CGRPCShim
import Dispatch
import Foundation

/// Settings of a gRPC server.
public struct ServerOptions: Sendable {
    /// Largest message accepted or sent.
    public var maxMessageBytes: Int = 64 << 20
    /// Serve the standard grpc.health.v1.Health service.
    public var healthCheck: Bool = true
    /// Answer `/tessera.bench.v1.Echo/Echo` inside the shim (benchmarks only).
    public var echo: Bool = false

    public init(maxMessageBytes: Int = 64 << 20, healthCheck: Bool = true, echo: Bool = false) {
        self.maxMessageBytes = maxMessageBytes
        self.healthCheck = healthCheck
        self.echo = echo
    }
}

/// A running gRPC server, owning the shim's server handle.
///
/// Serves from `init` until `shutdown()`; every call is dispatched to the
/// router on a new task. Unknown methods are answered UNIMPLEMENTED.
public final class GRPCServer: Sendable {
    /// The port actually bound (useful when 0 was asked for).
    public let port: Int
    /// "host:port" this server listens on.
    public let address: String
    private let handle: ShimHandle
    private let dispatcher: Unmanaged<Dispatcher>

    /// Binds `host:port` (port 0: the OS picks) and starts serving `router`.
    public init(host: String, port: Int, router: RPCRouter, options: ServerOptions = ServerOptions()) throws(RPCError) {
        let dispatcher = Unmanaged.passRetained(Dispatcher(router: router))
        var shimOptions = tsr_server_options(
            max_message_bytes: Int32(clamping: options.maxMessageBytes),
            enable_health_check: options.healthCheck ? 1 : 0,
            enable_echo: options.echo ? 1 : 0)
        var out: OpaquePointer? = nil
        var bound: Int32 = 0
        do {
            try checkShim("cannot serve on \(host):\(port)") { error in
                tsr_server_start("\(host):\(port)", &shimOptions, serverHandler, dispatcher.toOpaque(), &out, &bound, error)
            }
        } catch {
            dispatcher.release()
            throw error
        }
        guard let out else {
            dispatcher.release()
            throw RPCError(.internal, "shim returned no server for \(host):\(port)")
        }
        self.handle = ShimHandle(pointer: out)
        self.dispatcher = dispatcher
        self.port = Int(bound)
        self.address = "\(host):\(bound)"
    }

    deinit {
        tsr_server_destroy(handle.pointer)
        dispatcher.release()
    }

    /// Stops accepting calls, lets calls in flight finish for up to `grace`,
    /// then cancels the rest. Idempotent.
    ///
    /// Handlers still holding calls must answer them (cancelled calls too)
    /// before this returns; it waits on a thread outside Swift's cooperative pool.
    public func shutdown(grace: Duration = .seconds(1)) async {
        let handle = self.handle
        let graceMs = grace.milliseconds
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread {
                tsr_server_shutdown(handle.pointer, graceMs)
                continuation.resume()
            }
        }
    }
}

/// Receives every call from the shim and starts its handler.
private final class Dispatcher: Sendable {
    let router: RPCRouter

    init(router: RPCRouter) {
        self.router = router
    }

    func dispatch(_ call: ServerCall) {
        guard let handler = router.handler(for: call.method) else {
            call.fail(RPCError(.unimplemented, "unknown method \(call.method)"))
            return
        }
        Task { await handler(call) }
    }
}

private let serverHandler: tsr_server_handler = { context, call in
    guard let context, let call else { return }
    let dispatcher = Unmanaged<Dispatcher>.fromOpaque(context).takeUnretainedValue()
    dispatcher.dispatch(ServerCall(handle: call))
}
