/// A request or setting that the exploration layer cannot act on.
///
/// `description` is the message alone, ready to show a user (the server maps
/// every `ExplorationError` to gRPC `INVALID_ARGUMENT`), for example
/// `unknown exploration policy 'ucb1' (expected one of: greedy, epsilon_greedy, ucb, thompson)`.
public struct ExplorationError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is.
    public enum Code: String, Sendable, Hashable {
        /// A policy name that is not one of `ExplorationPolicy.allCases`.
        case unknownPolicy
        /// A setting out of its range (`ExplorationSettings`, `SimulatedPopulation.Settings`).
        case invalidSetting
        /// Inputs that do not fit together (vector lengths, empty user or item lists).
        case invalidArgument
    }

    public var code: Code
    /// What is wrong, in words a person can act on.
    public var message: String
    /// The underlying error, when another layer raised one.
    public var cause: (any Error & Sendable)?

    public init(_ code: Code, _ message: String, cause: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String { message }
}
