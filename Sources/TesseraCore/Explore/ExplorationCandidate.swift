/// One item the exploration policy may show, with what the model and the
/// feedback counters know about it.
///
/// Counters are `Double` so the serving path may keep them decayed
/// (exponentially forgotten) as well as as plain counts. The ranker treats a
/// negative or NaN counter as 0 and clamps clicks to impressions.
public struct ExplorationCandidate: Sendable, Hashable {
    /// Why a candidate is in the request.
    public enum Source: String, Sendable, Hashable, Codable {
        /// From the model's top list for the user.
        case model
        /// From the exploration pool: random or cold items added so there is
        /// something other than the model's favourites to explore.
        case pool
    }

    public var item: UInt64
    /// The model's score (user·item dot product), or nil for an item with no
    /// vector yet. The initializer turns NaN and infinite scores into nil.
    public var modelScore: Float?
    public var source: Source
    /// Times the item was shown, to anyone.
    public var impressions: Double
    /// Clicks on the item, from anyone.
    public var clicks: Double
    /// Times the item was shown to the requesting user's group.
    public var groupImpressions: Double
    /// Clicks on the item from the requesting user's group.
    public var groupClicks: Double

    public init(
        item: UInt64, modelScore: Float?, source: Source = .model,
        impressions: Double = 0, clicks: Double = 0, groupImpressions: Double = 0, groupClicks: Double = 0
    ) {
        self.item = item
        self.modelScore = modelScore.flatMap { $0.isFinite ? $0 : nil }
        self.source = source
        self.impressions = impressions
        self.clicks = clicks
        self.groupImpressions = groupImpressions
        self.groupClicks = groupClicks
    }
}

/// One entry of a ranked list, as the policy chose it.
public struct RankedRecommendation: Sendable, Hashable {
    public var item: UInt64
    /// The policy's ranking value. Greedy and ε-greedy: the model score (0 for
    /// an item without one; the list order, not this value, is ε-greedy's
    /// order). UCB: the upper confidence bound on the click rate. Thompson:
    /// the sampled click rate. UCB and Thompson lists are sorted by it.
    public var score: Float
    /// The candidate's model score, nil when the model has no vector for it.
    public var modelScore: Float?
    /// True when the item is in the list because of exploration: it is not
    /// among the greedy top-k of the same (deduplicated) candidates, i.e. the
    /// first k by model score descending, unscored items last, ties by
    /// candidate order. Greedy lists never have explored items.
    public var explored: Bool

    public init(item: UInt64, score: Float, modelScore: Float?, explored: Bool) {
        self.item = item
        self.score = score
        self.modelScore = modelScore
        self.explored = explored
    }
}
