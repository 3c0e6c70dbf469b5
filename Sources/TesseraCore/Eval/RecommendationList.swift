/// One user's ranked recommendations with raw ids, as exported by
/// `tessera eval --export-recs` and read back by `RecommendationFile`.
public struct RecommendationList: Sendable, Hashable {
    /// Raw user id (no whitespace).
    public var user: String
    /// Raw item ids, best first; rank r is `items[r - 1]`.
    public var items: [String]
    /// One score per item.
    public var scores: [Float]

    /// Precondition: `items.count == scores.count`.
    public init(user: String, items: [String], scores: [Float]) {
        precondition(items.count == scores.count, "\(items.count) items but \(scores.count) scores")
        self.user = user
        self.items = items
        self.scores = scores
    }

    /// Converts top-K lists (rows of `set.users`, dense item indices) to raw ids.
    /// Rows with an empty list are left out. The default names print keys in
    /// decimal, which is the raw id for numeric ids (see `EntityKey`); for hashed
    /// ids pass functions that look up the original strings.
    public static func lists(
        from topK: [[ScoredItem]], of set: EvaluationSet,
        userName: (UInt64) -> String = { String($0) },
        itemName: (UInt64) -> String = { String($0) }
    ) -> [RecommendationList] {
        precondition(topK.count == set.users.count, "\(topK.count) lists for \(set.users.count) users")
        var result: [RecommendationList] = []
        for (row, list) in topK.enumerated() where !list.isEmpty {
            result.append(RecommendationList(
                user: userName(set.users[row]),
                items: list.map { itemName(set.items[$0.index]) },
                scores: list.map(\.score)))
        }
        return result
    }
}
