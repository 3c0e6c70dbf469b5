import Foundation
import SwiftProtobuf

/// What a handler knows about the call it serves.
public struct ServerContext: Sendable {
    /// The call; use it for metadata, deadline and cancellation.
    public let call: ServerCall
}

/// Maps full method names to handlers.
///
/// Build it once, before the server starts; it is immutable while serving.
/// Methods are unary, or bidirectional streams answered one response per
/// request message (``stream(_:_:_:)``).
public struct RPCRouter: Sendable {
    public typealias Handler = @Sendable (ServerCall) async -> Void
    /// Handles one message of a stream call; runs once per message, in order.
    public typealias StreamHandler = @Sendable (StreamMessage) async -> Void

    private var handlers: [String: Handler] = [:]
    private var streamHandlers: [String: StreamHandler] = [:]

    public init() {}

    /// The methods registered, unary and stream, sorted.
    public var methods: [String] { (Array(handlers.keys) + Array(streamHandlers.keys)).sorted() }

    /// The stream methods registered, sorted.
    public var streamMethods: [String] { streamHandlers.keys.sorted() }

    /// The fully-qualified services of the registered methods ("tessera.v1.Inference"), sorted.
    public var services: [String] {
        let names = methods.compactMap { method -> String? in
            let parts = method.split(separator: "/", omittingEmptySubsequences: true)
            return parts.count == 2 ? String(parts[0]) : nil
        }
        return Array(Set(names)).sorted()
    }

    /// Registers a unary protobuf method.
    ///
    /// A request that does not decode is answered INVALID_ARGUMENT; an
    /// `RPCError` thrown by `handler` becomes the call's status; any other
    /// error becomes INTERNAL with its description.
    public mutating func unary<Request: SwiftProtobuf.Message, Response: SwiftProtobuf.Message>(
        _ method: String,
        _ requestType: Request.Type = Request.self,
        _ handler: @escaping @Sendable (Request, ServerContext) async throws -> Response
    ) {
        precondition(!contains(method), "method \(method) registered twice")
        handlers[method] = { call in
            do {
                let request: Request = try call.withRequest { bytes in
                    do {
                        return try Request(serializedBytes: borrowedData(bytes))
                    } catch {
                        throw RPCError(.invalidArgument, "malformed \(Request.protoMessageName): \(error)")
                    }
                }
                let response = try await handler(request, ServerContext(call: call))
                let bytes: [UInt8] = try response.serializedBytes()
                call.respond(bytes)
            } catch let error as RPCError {
                call.fail(error)
            } catch {
                call.fail(RPCError(.internal, "\(method): \(error)"))
            }
        }
    }

    /// Registers a bidirectional stream method that answers every request
    /// message with one response, in order (like `ServerReflectionInfo`).
    ///
    /// The stream ends with OK when the client stops sending. A message that
    /// does not decode fails the call with INVALID_ARGUMENT; an `RPCError`
    /// thrown by `handler` becomes the call's status; any other error becomes
    /// INTERNAL with its description. A unary call of the method is a stream of
    /// one message.
    public mutating func stream<Request: SwiftProtobuf.Message, Response: SwiftProtobuf.Message>(
        _ method: String,
        _ requestType: Request.Type = Request.self,
        _ handler: @escaping @Sendable (Request, ServerContext) async throws -> Response
    ) {
        streamMessages(method) { message in
            do {
                let request: Request = try message.withRequest { bytes in
                    do {
                        return try Request(serializedBytes: borrowedData(bytes))
                    } catch {
                        throw RPCError(.invalidArgument, "malformed \(Request.protoMessageName): \(error)")
                    }
                }
                let response = try await handler(request, ServerContext(call: message.call))
                let bytes: [UInt8] = try response.serializedBytes()
                message.respond(bytes)
            } catch let error as RPCError {
                message.fail(error)
            } catch {
                message.fail(RPCError(.internal, "\(method): \(error)"))
            }
        }
    }

    /// Registers a bidirectional stream method over raw messages: `handler`
    /// runs once per request message and answers it (see ``StreamMessage``).
    public mutating func streamMessages(_ method: String, _ handler: @escaping StreamHandler) {
        precondition(!contains(method), "method \(method) registered twice")
        streamHandlers[method] = handler
    }

    /// Registers every method of `other` too.
    public mutating func merge(_ other: RPCRouter) {
        for (method, handler) in other.handlers {
            precondition(!contains(method), "method \(method) registered twice")
            handlers[method] = handler
        }
        for (method, handler) in other.streamHandlers {
            precondition(!contains(method), "method \(method) registered twice")
            streamHandlers[method] = handler
        }
    }

    /// Whether `method` is registered, unary or stream.
    public func contains(_ method: String) -> Bool {
        handlers[method] != nil || streamHandlers[method] != nil
    }

    func handler(for method: String) -> Handler? {
        handlers[method]
    }

    func streamHandler(for method: String) -> StreamHandler? {
        streamHandlers[method]
    }
}

/// Wraps `bytes` in a `Data` without copying; valid only while `bytes` is.
func borrowedData(_ bytes: UnsafeRawBufferPointer) -> Data {
    guard let base = bytes.baseAddress, bytes.count > 0 else { return Data() }
    return Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: base), count: bytes.count, deallocator: .none)
}
