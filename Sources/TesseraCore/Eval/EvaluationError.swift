/// An error from the evaluation layer: a bad setting (K < 1) or a recommendations
/// file that cannot be read or parsed.
public struct EvaluationError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is.
    public enum Code: String, Sendable, Hashable {
        /// A setting is out of range (for example K < 1).
        case invalidArgument
        /// A file could not be opened, read or written.
        case io
        /// A file was read but a line breaks the format.
        case malformedFile
    }

    public var code: Code
    /// What went wrong, naming the file and line where there is one.
    public var message: String
    /// The underlying error, if another layer raised one.
    public var cause: (any Error & Sendable)?

    public init(_ code: Code, _ message: String, cause: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String {
        if let cause {
            return "\(code.rawValue): \(message) (\(cause))"
        }
        return "\(code.rawValue): \(message)"
    }
}
