import CGRPCShim
import Dispatch
import Foundation
import TesseraCore

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
    /// The token callers must present, TLS, and limits. With a token, every method
    /// (reflection too) requires it except the health check; the echo is off.
    public var security: ServerSecurity = .open

    public init(maxMessageBytes: Int = 64 << 20, healthCheck: Bool = true, echo: Bool = false,
                reflection: Bool = true, security: ServerSecurity = .open) {
        self.maxMessageBytes = maxMessageBytes
        self.healthCheck = healthCheck
        self.echo = echo
        self.reflection = reflection
        self.security = security
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
    private let callGuard: CallGuard

    /// Binds `host:port` (port 0: the OS picks) and starts serving `router`.
    public init(host: String, port: Int, router: RPCRouter, options: ServerOptions = ServerOptions()) throws(RPCError) {
        var router = router
        if options.reflection {
            router.registerReflection(healthCheck: options.healthCheck)
        }
        let callGuard = CallGuard(security: options.security)
        let dispatcher = Unmanaged.passRetained(Dispatcher(router: router, callGuard: callGuard))
        var out: OpaquePointer? = nil
        var bound: Int32 = 0
        let tls = options.security.tls
        do {
            try withCStrings(router.streamMethods) { (streamMethods, streamMethodCount) throws(RPCError) in
                try withOptionalCStrings([tls?.certificateChain, tls?.privateKey, tls?.clientCA]) { strings throws(RPCError) in
                    var shimOptions = tsr_server_options(
                        max_message_bytes: Int32(clamping: max(options.maxMessageBytes, options.security.limits.maxMessageBytes)),
                        enable_health_check: options.healthCheck ? 1 : 0,
                        // The echo is answered inside the shim, past the token check.
                        enable_echo: options.echo && options.security.token == nil ? 1 : 0,
                        stream_methods: streamMethods,
                        stream_method_count: streamMethodCount,
                        tls_certificate_chain: strings[0], tls_private_key: strings[1], tls_client_ca: strings[2],
                        tls_require_client_certificate: tls?.requireClientCertificate == true ? 1 : 0)
                    try checkShim("cannot serve on \(host):\(port)") { error in
                        tsr_server_start("\(host):\(port)", &shimOptions, serverHandler, dispatcher.toOpaque(), &out, &bound, error)
                    }
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
        self.callGuard = callGuard
        self.port = Int(bound)
        self.address = "\(host):\(bound)"
    }

    /// The limits in force (``ServerOptions/security``).
    public var limits: RPCLimitSettings { callGuard.limits }

    /// Replaces the request limits while serving (a shard learns them from the
    /// scheduler after it started listening). The transport's own message size
    /// limit, fixed at start, still caps `maxMessageBytes`.
    public func update(limits: RPCLimitSettings) {
        callGuard.update(limits: limits)
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
    let callGuard: CallGuard

    init(router: RPCRouter, callGuard: CallGuard) {
        self.router = router
        self.callGuard = callGuard
    }

    /// Takes one event from the shim: a unary call, or an event of a stream call.
    ///
    /// A new call passes the guard (token, size, rate) before anything else:
    /// a refused call ends here, before it reaches a handler.
    func dispatch(_ handle: OpaquePointer) {
        if let stream = ServerCall.openStream(handle) {
            deliver(stream)
            return
        }
        let method = String(cString: tsr_server_call_method(handle))
        let authorization = tsr_server_call_metadata(handle, "authorization").map { String(cString: $0) }
        var length = 0
        if tsr_server_call_has_message(handle) != 0 { _ = tsr_server_call_request(handle, &length) }
        if let refusal = callGuard.refusal(method: method, authorization: authorization,
                                           requestBytes: tsr_server_call_has_message(handle) != 0 ? length : nil) {
            tsr_server_call_fail(handle, refusal.code.shim, refusal.message)
            return
        }
        let maxKeys = callGuard.limits.maxKeysPerRequest
        if router.streamHandler(for: method) != nil {
            deliver(ServerCall.startStream(handle, maxKeysPerRequest: maxKeys))
            return
        }
        let call = ServerCall(handle: handle, maxKeysPerRequest: maxKeys)
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
