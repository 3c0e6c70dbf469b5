/// A gRPC status code, numerically identical to gRPC's.
public enum RPCStatusCode: Int32, Sendable, CustomStringConvertible {
    case ok = 0
    case cancelled = 1
    case unknown = 2
    case invalidArgument = 3
    case deadlineExceeded = 4
    case notFound = 5
    case alreadyExists = 6
    case permissionDenied = 7
    case resourceExhausted = 8
    case failedPrecondition = 9
    case aborted = 10
    case outOfRange = 11
    case unimplemented = 12
    case `internal` = 13
    case unavailable = 14
    case dataLoss = 15
    case unauthenticated = 16

    public var description: String {
        switch self {
        case .ok: "OK"
        case .cancelled: "CANCELLED"
        case .unknown: "UNKNOWN"
        case .invalidArgument: "INVALID_ARGUMENT"
        case .deadlineExceeded: "DEADLINE_EXCEEDED"
        case .notFound: "NOT_FOUND"
        case .alreadyExists: "ALREADY_EXISTS"
        case .permissionDenied: "PERMISSION_DENIED"
        case .resourceExhausted: "RESOURCE_EXHAUSTED"
        case .failedPrecondition: "FAILED_PRECONDITION"
        case .aborted: "ABORTED"
        case .outOfRange: "OUT_OF_RANGE"
        case .unimplemented: "UNIMPLEMENTED"
        case .internal: "INTERNAL"
        case .unavailable: "UNAVAILABLE"
        case .dataLoss: "DATA_LOSS"
        case .unauthenticated: "UNAUTHENTICATED"
        }
    }
}

/// A failed RPC, or a failure of the gRPC shim itself.
///
/// Handlers throw it to answer with a status; clients receive it when a call
/// fails. `message` is meant for a person: it says what was wrong and, where
/// possible, what to do.
public struct RPCError: Error, Sendable, CustomStringConvertible {
    public var code: RPCStatusCode
    public var message: String
    public var cause: (any Error & Sendable)?

    public init(_ code: RPCStatusCode, _ message: String, cause: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String {
        "\(code): \(message)"
    }

    /// Whether retrying the same call later may succeed.
    public var isTransient: Bool {
        code == .unavailable || code == .deadlineExceeded || code == .resourceExhausted || code == .aborted
    }
}
