/// How online serving trades exploiting the model against learning about items.
///
/// The raw value is the name used in configs and requests. Ranking itself is
/// `ExplorationRanker`; the formulas are documented there.
public enum ExplorationPolicy: String, Sendable, Hashable, CaseIterable {
    /// Top-k by model score. Never explores; items without a model score come
    /// last, in candidate order.
    case greedy
    /// Each of the k slots, with probability ε, holds a uniformly random
    /// exploration-pool item (any unchosen candidate once the pool is used up)
    /// instead of the next greedy item.
    case epsilonGreedy = "epsilon_greedy"
    /// Rank by an upper confidence bound on the click rate: the Beta posterior
    /// mean (model prior + counters) plus a variance-scaled bonus.
    case ucb
    /// Rank by one draw from each candidate's Beta posterior on its click rate.
    case thompson

    /// The names `init(parsing:)` accepts, comma-separated, in declaration order.
    public static var validNames: String {
        allCases.map(\.rawValue).joined(separator: ", ")
    }

    /// The policy called `name` (exact and case-sensitive: `greedy`,
    /// `epsilon_greedy`, `ucb`, `thompson`).
    /// - Throws: `ExplorationError` (`.unknownPolicy`) listing the valid names.
    public init(parsing name: String) throws(ExplorationError) {
        guard let policy = ExplorationPolicy(rawValue: name) else {
            throw ExplorationError(
                .unknownPolicy, "unknown exploration policy '\(name)' (expected one of: \(Self.validNames))")
        }
        self = policy
    }
}

extension ExplorationPolicy: Codable {
    /// Decodes a policy name; an unknown name fails with the list of valid ones.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let name = try container.decode(String.self)
        do {
            try self.init(parsing: name)
        } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.message)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
