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
public struct RPCRouter: Sendable {
    public typealias Handler = @Sendable (ServerCall) async -> Void

    private var handlers: [String: Handler] = [:]

    public init() {}

    /// The methods registered, sorted.
    public var methods: [String] { handlers.keys.sorted() }

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
        precondition(handlers[method] == nil, "method \(method) registered twice")
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

    /// Registers every method of `other` too.
    public mutating func merge(_ other: RPCRouter) {
        for (method, handler) in other.handlers {
            precondition(handlers[method] == nil, "method \(method) registered twice")
            handlers[method] = handler
        }
    }

    func handler(for method: String) -> Handler? {
        handlers[method]
    }
}

/// Wraps `bytes` in a `Data` without copying; valid only while `bytes` is.
func borrowedData(_ bytes: UnsafeRawBufferPointer) -> Data {
    guard let base = bytes.baseAddress, bytes.count > 0 else { return Data() }
    return Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: base), count: bytes.count, deallocator: .none)
}
