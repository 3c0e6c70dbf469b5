/// A failure to serve, scrape or report metrics, with a message a person can act on.
public struct ObservabilityError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var cause: (any Error)?

    public init(_ message: String, cause: (any Error)? = nil) {
        self.message = message
        self.cause = cause
    }

    public var description: String {
        cause.map { "\(message): \($0)" } ?? message
    }
}
