import CGRPCShim
import Foundation
import Synchronization

/// One incoming call, owning the shim's call handle until it is answered.
///
/// A call is answered exactly once, with `respond` or `fail`; later attempts
/// are ignored. A call dropped unanswered is failed with INTERNAL, so a client
/// never waits on a handler that forgot it.
public final class ServerCall: Sendable {
    private let handle: Mutex<ShimHandle?>
    /// Full method name, e.g. "/tessera.v1.ParameterServer/Pull".
    public let method: String

    init(handle: OpaquePointer) {
        self.handle = Mutex(ShimHandle(pointer: handle))
        self.method = String(cString: tsr_server_call_method(handle))
    }

    deinit {
        handle.withLock { handle in
            if let call = handle {
                tsr_server_call_fail(call.pointer, TSR_INTERNAL, "the handler ended without answering")
            }
        }
    }

    /// Runs `body` over the serialized request, without copying it.
    ///
    /// The buffer is valid only inside `body`. Throws if the call was already answered.
    public func withRequest<R>(_ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        try handle.withLock { handle in
            guard let call = handle else { throw RPCError(.internal, "request read after the call was answered") }
            var length = 0
            let bytes = tsr_server_call_request(call.pointer, &length)
            return try body(UnsafeRawBufferPointer(start: bytes, count: length))
        }
    }

    /// The value of call metadata `key` (lower case), if the client sent it.
    public func metadata(_ key: String) -> String? {
        handle.withLock { handle in
            guard let call = handle, let value = tsr_server_call_metadata(call.pointer, key) else { return nil }
            return String(cString: value)
        }
    }

    /// Time left before the client's deadline; nil when it set none.
    public var remaining: Duration? {
        handle.withLock { handle in
            guard let call = handle else { return .zero }
            let ms = tsr_server_call_remaining_ms(call.pointer)
            return ms == Int64.max ? nil : .milliseconds(ms)
        }
    }

    /// Whether the client cancelled or its deadline passed.
    public var isCancelled: Bool {
        handle.withLock { handle in
            guard let call = handle else { return true }
            return tsr_server_call_is_cancelled(call.pointer) != 0
        }
    }

    /// Answers with OK and the serialized response.
    public func respond(_ response: [UInt8]) {
        guard let call = take() else { return }
        response.withUnsafeBufferPointer { tsr_server_call_respond(call.pointer, $0.baseAddress, $0.count) }
    }

    /// Answers with a non-OK status.
    public func fail(_ error: RPCError) {
        guard let call = take() else { return }
        let code = error.code == .ok ? RPCStatusCode.unknown : error.code
        tsr_server_call_fail(call.pointer, code.shim, error.message)
    }

    private func take() -> ShimHandle? {
        handle.withLock { handle in
            defer { handle = nil }
            return handle
        }
    }
}
