/// The popularity baseline: every user is recommended the items with the most
/// training interactions, minus the user's own masked items; ties go to the lower
/// item index.
///
/// Evaluated through `FullRankingEvaluator` with a `SharedScoreScorer` whose score
/// for item i is its training count, so the baseline passes through exactly the
/// same mask, top-K and metric code as a model. (Scores are `Float`: counts above
/// 2^24 would lose precision; no realistic data set comes near.) Also serves as the
/// fallback for users the model does not know.
public struct Popularity: Sendable {
    /// The item universe; dense index = position.
    public let items: [UInt64]
    /// Training interactions per dense item (repeats count).
    public let counts: [Int]
    /// Dense indices, most popular first (ties by lower index).
    public let ranking: [Int]

    /// Counts `train` over `items`; interactions with other items are ignored.
    /// Precondition: `items` holds no key twice.
    public init(items: [UInt64], train: [Interaction]) {
        var index: [UInt64: Int] = [:]
        index.reserveCapacity(items.count)
        for (position, key) in items.enumerated() {
            let previous = index.updateValue(position, forKey: key)
            precondition(previous == nil, "item \(key) appears twice in the universe")
        }
        var counts = [Int](repeating: 0, count: items.count)
        for interaction in train {
            if let i = index[interaction.item] { counts[i] += 1 }
        }
        self.init(items: items, counts: counts)
    }

    /// The baseline of an evaluation set's own training counts.
    public init(_ set: EvaluationSet) {
        self.init(items: set.items, counts: set.trainCounts)
    }

    /// Precondition: one count per item.
    public init(items: [UInt64], counts: [Int]) {
        precondition(items.count == counts.count, "\(counts.count) counts for \(items.count) items")
        self.items = items
        self.counts = counts
        self.ranking = counts.indices.sorted { counts[$0] > counts[$1] || (counts[$0] == counts[$1] && $0 < $1) }
    }

    /// The shared score row: each item's training count.
    public var scorer: SharedScoreScorer {
        SharedScoreScorer(scores: counts.map { Float($0) })
    }

    /// Evaluates the baseline on `set` (whose items must be this baseline's items)
    /// with `evaluator`. See `FullRankingEvaluator.evaluate(_:scorer:…)`.
    public func evaluate(
        _ set: EvaluationSet, with evaluator: FullRankingEvaluator,
        diversityEmbeddings: ItemEmbeddings? = nil, keepLists: Bool = false
    ) -> EvaluationResult {
        precondition(set.items == items, "the evaluation set has a different item universe")
        return evaluator.evaluate(set, scorer: scorer, diversityEmbeddings: diversityEmbeddings, keepLists: keepLists)
    }

    /// The `k` most popular item keys not in `excluded`, most popular first: the
    /// serving fallback for an unknown user. O(k + |excluded|) for typical inputs.
    public func top(k: Int, excluding excluded: Set<UInt64> = []) -> [UInt64] {
        precondition(k >= 0, "K must not be negative, got \(k)")
        var result: [UInt64] = []
        result.reserveCapacity(min(k, items.count))
        for i in ranking {
            if result.count == k { break }
            let key = items[i]
            if !excluded.contains(key) { result.append(key) }
        }
        return result
    }
}
