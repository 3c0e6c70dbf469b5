/// A request to the parameter storage layer that cannot be carried out: a buffer
/// of the wrong size, an invalid table spec, a malformed row encoding.
///
/// Nothing has been changed when one of these is thrown. The server reports it as
/// INVALID_ARGUMENT with `message`.
public struct TableError: Error, Sendable, CustomStringConvertible {
    public enum Code: Sendable, Hashable {
        /// A buffer's length does not match the key count and row dimension.
        case sizeMismatch
        /// A table, optimizer or initializer spec is out of range.
        case invalidSpec
    }

    public var code: Code
    /// What went wrong, with the numbers involved, for a person to act on.
    public var message: String
    /// The underlying error, when this one wraps another.
    public var cause: (any Error & Sendable)?

    public init(_ code: Code, _ message: String, cause: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String { message }

    static func sizeMismatch(_ what: String, expected: Int, got: Int) -> TableError {
        TableError(.sizeMismatch, "\(what): expected \(expected) elements, got \(got)")
    }
}
