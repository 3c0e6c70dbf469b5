import Foundation

/// The outcome of one evaluation: metric means over the evaluated users.
public struct EvaluationResult: Sendable {
    /// The metrics this layer reports; `key(_:k:)` names their dictionary keys.
    public enum Metric: String, Sendable, CaseIterable {
        case recall, ndcg, hit, mrr, precision
        case coverage, novelty, diversity
    }

    /// Users the metrics average over (those with at least one relevant item).
    public var users: Int
    /// The cutoff K.
    public var k: Int
    /// Means keyed `"recall@K"`, `"ndcg@K"`, `"hit@K"`, `"mrr@K"`, `"precision@K"`,
    /// plus `"coverage@K"`, `"novelty@K"`, `"diversity@K"` when requested.
    public var metrics: [String: Double]
    /// When requested: the top-K list of every row of the evaluation set's `users`
    /// (best first, dense item indices); empty for rows that were skipped.
    public var lists: [[ScoredItem]]?

    public init(users: Int, k: Int, metrics: [String: Double], lists: [[ScoredItem]]? = nil) {
        self.users = users
        self.k = k
        self.metrics = metrics
        self.lists = lists
    }

    /// The dictionary key of `metric` at cutoff `k`, e.g. `"ndcg@10"`.
    public static func key(_ metric: Metric, k: Int) -> String {
        "\(metric.rawValue)@\(k)"
    }

    /// The value of `metric` at this result's K, or nil if it was not computed.
    public subscript(_ metric: Metric) -> Double? {
        metrics[Self.key(metric, k: k)]
    }
}

extension EvaluationResult: CustomStringConvertible {
    /// One line, metrics in a fixed order: `users=610 recall@10=0.1234 ndcg@10=…`.
    public var description: String {
        var parts = ["users=\(users)"]
        for metric in Metric.allCases {
            if let value = self[metric] {
                parts.append("\(Self.key(metric, k: k))=\(String(format: "%.4f", value))")
            }
        }
        return parts.joined(separator: " ")
    }
}
