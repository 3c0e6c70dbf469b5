import CGRPCShim
import Foundation
import Synchronization

/// One incoming call, owning the shim's call handle until it is answered.
///
/// A unary call is answered exactly once, with `respond` or `fail`; later
/// attempts are ignored. A call dropped unanswered is failed with INTERNAL, so
/// a client never waits on a handler that forgot it.
///
/// A stream call (``isStream``) stays open across messages: each request
/// message arrives as a ``StreamMessage`` that answers it, and the call ends
/// when the client stops sending, or when a message is failed. Every use of
/// the handle happens under one lock, and the call is ended only while a
/// message (or the end of input) is unanswered, so nothing can touch the
/// handle after the shim frees it.
public final class ServerCall: Sendable {
    private let state: Mutex<State>
    /// Full method name, e.g. "/tessera.v1.ParameterServer/Pull".
    public let method: String
    /// Whether the call is a bidirectional stream answered message by message.
    public let isStream: Bool
    /// The server's limit on keys in one request (`security.limits.max_keys_per_request`).
    public let maxKeysPerRequest: Int

    private struct State {
        /// The shim's call; nil once the call has ended.
        var handle: ShimHandle?
        /// Whether the shim waits for an answer: for a unary call until it ends;
        /// for a stream, from each event (a message, or the end of input) to its answer.
        var awaitingAnswer: Bool
        /// Serial of the stream's current message, so a stale message cannot answer a newer one.
        var serial: UInt64 = 0
        /// An end asked for between stream messages, carried out at the next event.
        var pendingEnd: PendingEnd?
        /// The reference the shim holds (as the call's user data) while a stream is open.
        var anchor: Unmanaged<ServerCall>?
    }

    private enum PendingEnd {
        case finish
        case fail(RPCError)
    }

    /// Takes a unary call.
    init(handle: OpaquePointer, maxKeysPerRequest: Int = .max) {
        self.state = Mutex(State(handle: ShimHandle(pointer: handle), awaitingAnswer: true))
        self.method = String(cString: tsr_server_call_method(handle))
        self.isStream = false
        self.maxKeysPerRequest = maxKeysPerRequest
    }

    /// Takes a stream call at its first event. The shim keeps a strong reference
    /// to the new object (its user data) until the call ends, so later events find it.
    private init(streamHandle handle: OpaquePointer, maxKeysPerRequest: Int) {
        self.state = Mutex(State(handle: ShimHandle(pointer: handle), awaitingAnswer: false))
        self.method = String(cString: tsr_server_call_method(handle))
        self.isStream = true
        self.maxKeysPerRequest = maxKeysPerRequest
        let anchor = Unmanaged.passRetained(self)
        state.withLock { $0.anchor = anchor }
        tsr_server_call_set_user_data(handle, anchor.toOpaque())
    }

    deinit {
        // A stream's anchor keeps it alive until it ends, so only a unary call gets here unanswered.
        state.withLock { state in
            if let call = state.handle {
                tsr_server_call_fail(call.pointer, TSR_INTERNAL, "the handler ended without answering")
            }
        }
    }

    /// Runs `body` over the serialized request, without copying it.
    ///
    /// For a stream call, the current message's request. The buffer is valid
    /// only inside `body`. Throws if there is no unanswered request.
    public func withRequest<R>(_ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        try withRequest(serial: nil, body)
    }

    /// The value of call metadata `key` (lower case), if the client sent it.
    public func metadata(_ key: String) -> String? {
        state.withLock { state in
            guard let call = state.handle, let value = tsr_server_call_metadata(call.pointer, key) else { return nil }
            return String(cString: value)
        }
    }

    /// Time left before the client's deadline; nil when it set none.
    public var remaining: Duration? {
        state.withLock { state in
            guard let call = state.handle else { return .zero }
            let ms = tsr_server_call_remaining_ms(call.pointer)
            return ms == Int64.max ? nil : .milliseconds(ms)
        }
    }

    /// Whether the client cancelled or its deadline passed.
    public var isCancelled: Bool {
        state.withLock { state in
            guard let call = state.handle else { return true }
            return tsr_server_call_is_cancelled(call.pointer) != 0
        }
    }

    /// Answers with OK and the serialized response.
    ///
    /// On a stream call it answers the current message and ends the call;
    /// between messages it ends the call with OK at the next event.
    public func respond(_ response: [UInt8]) {
        let released: Unmanaged<ServerCall>? = state.withLock { state in
            guard let call = state.handle else { return nil }
            guard state.awaitingAnswer else {
                if isStream && state.pendingEnd == nil { state.pendingEnd = .finish }
                return nil
            }
            response.withUnsafeBufferPointer { tsr_server_call_respond(call.pointer, $0.baseAddress, $0.count) }
            return Self.ended(&state)
        }
        released?.release()
    }

    /// Answers with a non-OK status.
    ///
    /// On a stream call it ends the whole call; between messages, at the next event.
    public func fail(_ error: RPCError) {
        let released: Unmanaged<ServerCall>? = state.withLock { state in
            guard state.handle != nil else { return nil }
            guard state.awaitingAnswer else {
                if state.pendingEnd == nil { state.pendingEnd = .fail(error) }
                return nil
            }
            return Self.end(&state, failing: error)
        }
        released?.release()
    }

    // MARK: Stream events (the dispatcher and StreamMessage)

    /// The open stream call that `handle` belongs to, if an earlier event created it.
    static func openStream(_ handle: OpaquePointer) -> ServerCall? {
        guard let data = tsr_server_call_user_data(handle) else { return nil }
        // Safe: the shim calls the handler only while the call is open, and the
        // anchor is released only when it ends, which cannot race with an event.
        return Unmanaged<ServerCall>.fromOpaque(data).takeUnretainedValue()
    }

    /// Takes the first event of a stream call.
    static func startStream(_ handle: OpaquePointer, maxKeysPerRequest: Int = .max) -> ServerCall {
        ServerCall(streamHandle: handle, maxKeysPerRequest: maxKeysPerRequest)
    }

    /// Takes the shim's next event: a message to answer, or nil when the event
    /// ended the call (the end of input, or a failure asked for between messages).
    func nextMessage() -> StreamMessage? {
        var message: StreamMessage?
        let released: Unmanaged<ServerCall>? = state.withLock { state in
            guard let call = state.handle else { return nil }
            state.serial &+= 1
            state.awaitingAnswer = true
            switch state.pendingEnd {
            case .finish?:
                tsr_server_call_finish(call.pointer)
                return Self.ended(&state)
            case .fail(let error)?:
                return Self.end(&state, failing: error)
            case nil:
                break
            }
            guard tsr_server_call_has_message(call.pointer) != 0 else {
                // The client sent its last message, or the call broke: end it with OK
                // (a broken call sends no status anyway).
                tsr_server_call_finish(call.pointer)
                return Self.ended(&state)
            }
            message = StreamMessage(call: self, serial: state.serial)
            return nil
        }
        released?.release()
        return message
    }

    /// Reads the request of message `serial` (any unanswered request when nil).
    func withRequest<R>(serial: UInt64?, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        try state.withLock { state in
            guard let call = state.handle, state.awaitingAnswer, serial == nil || serial == state.serial,
                  tsr_server_call_has_message(call.pointer) != 0 else {
                throw RPCError(.internal, "request read after it was answered")
            }
            var length = 0
            let bytes = tsr_server_call_request(call.pointer, &length)
            return try body(UnsafeRawBufferPointer(start: bytes, count: length))
        }
    }

    /// Answers stream message `serial` and keeps the stream open; ignored if it was answered.
    func write(_ response: [UInt8], answering serial: UInt64) {
        state.withLock { state in
            guard let call = state.handle, state.awaitingAnswer, state.serial == serial else { return }
            state.awaitingAnswer = false
            response.withUnsafeBufferPointer { tsr_server_call_write(call.pointer, $0.baseAddress, $0.count) }
        }
    }

    /// Fails the call because of stream message `serial`; ignored if that message was answered.
    func fail(_ error: RPCError, answering serial: UInt64) {
        let released: Unmanaged<ServerCall>? = state.withLock { state in
            guard state.handle != nil, state.awaitingAnswer, state.serial == serial else { return nil }
            return Self.end(&state, failing: error)
        }
        released?.release()
    }

    /// Ends the call with `error` while an answer is awaited; returns the anchor to release.
    private static func end(_ state: inout State, failing error: RPCError) -> Unmanaged<ServerCall>? {
        guard let call = state.handle else { return nil }
        let code = error.code == .ok ? RPCStatusCode.unknown : error.code
        tsr_server_call_fail(call.pointer, code.shim, error.message)
        return ended(&state)
    }

    /// Forgets the handle after the call ended; returns the anchor, released by the
    /// caller once the lock is dropped.
    private static func ended(_ state: inout State) -> Unmanaged<ServerCall>? {
        state.handle = nil
        state.awaitingAnswer = false
        defer { state.anchor = nil }
        return state.anchor
    }
}
