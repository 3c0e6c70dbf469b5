/// One request message of a bidirectional stream call, answered exactly once.
///
/// The ``ServerCall`` owns the shim's handle; a `StreamMessage` only holds the
/// right to answer its one message. Answer it with `respond` (the stream stays
/// open and the next message follows) or `fail` (the call ends). Later answers
/// are ignored, and a message dropped unanswered fails the call with INTERNAL,
/// so a client never waits on a handler that forgot it. Thread-safe.
public final class StreamMessage: Sendable {
    /// The stream this message arrived on: metadata, deadline, cancellation.
    public let call: ServerCall
    private let serial: UInt64

    init(call: ServerCall, serial: UInt64) {
        self.call = call
        self.serial = serial
    }

    deinit {
        call.fail(RPCError(.internal, "the stream handler dropped a message without answering it"), answering: serial)
    }

    /// Runs `body` over the serialized request message, without copying it.
    ///
    /// The buffer is valid only inside `body`. Throws once the message is answered.
    public func withRequest<R>(_ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        try call.withRequest(serial: serial, body)
    }

    /// Answers this message with a serialized response; the stream stays open.
    public func respond(_ response: [UInt8]) {
        call.write(response, answering: serial)
    }

    /// Ends the whole call with a non-OK status, unless this message was answered already.
    public func fail(_ error: RPCError) {
        call.fail(error, answering: serial)
    }
}
