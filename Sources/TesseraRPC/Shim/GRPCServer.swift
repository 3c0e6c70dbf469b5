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
    /// Serve gRPC server reflection (`grpc.reflection.v1` and `v1alpha`), so that
    /// grpcurl and other tools can list and describe the router's services.
    public var reflection: Bool = true

    public init(maxMessageBytes: Int = 64 << 20, healthCheck: Bool = true, echo: Bool = false,
                reflection: Bool = true) {
        self.maxMessageBytes = maxMessageBytes
        self.healthCheck = healthCheck
        self.echo = echo
        self.reflection = reflection
    }
}

/// A running gRPC server, owning the shim's server handle.
///
/// Serves from `init` until `shutdown()`; every call (every message of a
/// stream call) is dispatched to the router on a new task. Unknown methods are
/// answered UNIMPLEMENTED. Unless `options.reflection` is off, the server also
/// answers gRPC server reflection about the router's services.
public final class GRPCServer: Sendable {
    /// The port actually bound (useful when 0 was asked for).
    public let port: Int
    /// "host:port" this server listens on.
    public let address: String
    private let handle: ShimHandle
    private let dispatcher: Unmanaged<Dispatcher>

    /// Binds `host:port` (port 0: the OS picks) and starts serving `router`.
    public init(host: String, port: Int, router: RPCRouter, options: ServerOptions = ServerOptions()) throws(RPCError) {
        var router = router
        if options.reflection {
            router.registerReflection(healthCheck: options.healthCheck)
        }
        let dispatcher = Unmanaged.passRetained(Dispatcher(router: router))
        var out: OpaquePointer? = nil
        var bound: Int32 = 0
        do {
            try withCStrings(router.streamMethods) { (streamMethods, streamMethodCount) throws(RPCError) in
                var shimOptions = tsr_server_options(
                    max_message_bytes: Int32(clamping: options.maxMessageBytes),
                    enable_health_check: options.healthCheck ? 1 : 0,
                    enable_echo: options.echo ? 1 : 0,
                    stream_methods: streamMethods,
                    stream_method_count: streamMethodCount)
                try checkShim("cannot serve on \(host):\(port)") { error in
                    tsr_server_start("\(host):\(port)", &shimOptions, serverHandler, dispatcher.toOpaque(), &out, &bound, error)
                }
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

    /// Takes one event from the shim: a unary call, or an event of a stream call.
    func dispatch(_ handle: OpaquePointer) {
        if let stream = ServerCall.openStream(handle) {
            deliver(stream)
            return
        }
        let method = String(cString: tsr_server_call_method(handle))
        if router.streamHandler(for: method) != nil {
            deliver(ServerCall.startStream(handle))
            return
        }
        let call = ServerCall(handle: handle)
        guard let handler = router.handler(for: method) else {
            call.fail(RPCError(.unimplemented, "unknown method \(method)"))
            return
        }
        Task { await handler(call) }
    }

    /// Hands the stream's next message to its handler, or lets the call end.
    private func deliver(_ stream: ServerCall) {
        guard let message = stream.nextMessage() else { return }
        guard let handler = router.streamHandler(for: stream.method) else {
            message.fail(RPCError(.unimplemented, "unknown method \(stream.method)"))
            return
        }
        Task { await handler(message) }
    }
}

private let serverHandler: tsr_server_handler = { context, call in
    guard let context, let call else { return }
    let dispatcher = Unmanaged<Dispatcher>.fromOpaque(context).takeUnretainedValue()
    dispatcher.dispatch(call)
}

/// Lays `strings` out as a C array of C strings valid for the duration of `body`.
private func withCStrings<R, E: Error>(
    _ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>?, Int32) throws(E) -> R
) throws(E) -> R {
    if strings.isEmpty { return try body(nil, 0) }
    let copies = strings.map { strdup($0) }
    defer { for copy in copies { free(copy) } }
    let pointers = copies.map { UnsafePointer($0) }
    return try pointers.withUnsafeBufferPointer { buffer throws(E) in
        try body(buffer.baseAddress, Int32(buffer.count))
    }
}
