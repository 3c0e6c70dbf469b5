/// Judging recommendations made elsewhere (an exported file, the `implicit`
/// library) with the same metric code as `FullRankingEvaluator`.
extension RecommendationFile {
    /// Recall, NDCG, Hit, MRR and Precision at `k` of `recs` (user → ranked item
    /// ids, as from `read(from:)`) against held-out (user, item) raw-id pairs.
    ///
    /// Users are those with ≥ 1 held-out item; their relevant set is their distinct
    /// held-out items. A user with held-out items but no list counts with zero hits;
    /// a list of a user without held-out items is ignored. Lists are cut to `k`; a
    /// shorter list counts as padded with misses. Nothing is masked here: the
    /// producer of the lists must already have removed each user's train (and
    /// validation) items, as `FullRankingEvaluator` does. An item repeated in a list
    /// counts only at its first rank. Throws `invalidArgument` when `k < 1`.
    public static func evaluate(
        recs: [String: [String]], heldOut: [(user: String, item: String)], k: Int
    ) throws(EvaluationError) -> EvaluationResult {
        try evaluate(recs: recs, relevantPairs: heldOut, k: k)
    }

    /// As `evaluate(recs:heldOut:k:)` with held-out interactions as keys: the ids of
    /// `recs` are turned into keys with `EntityKey`, as the data readers do.
    public static func evaluate(
        recs: [String: [String]], heldOut: [Interaction], k: Int
    ) throws(EvaluationError) -> EvaluationResult {
        var keyed: [UInt64: [UInt64]] = [:]
        for (user, items) in recs {
            let key = EntityKey.key(for: user)
            guard keyed.updateValue(items.map(EntityKey.key(for:)), forKey: key) == nil else {
                throw EvaluationError(.invalidArgument, "two users of the recommendations map to key \(key) (one is \"\(user)\")")
            }
        }
        return try evaluate(recs: keyed, relevantPairs: heldOut.map { ($0.user, $0.item) }, k: k)
    }

    /// The shared body: users in ascending id order, as `EvaluationSet` orders them.
    private static func evaluate<ID: Hashable & Comparable>(
        recs: [ID: [ID]], relevantPairs: [(ID, ID)], k: Int
    ) throws(EvaluationError) -> EvaluationResult {
        guard k >= 1 else { throw EvaluationError(.invalidArgument, "K must be at least 1, got \(k)") }
        var relevant: [ID: Set<ID>] = [:]
        for (user, item) in relevantPairs { relevant[user, default: []].insert(item) }
        var average = RankingMetrics.Average()
        for user in relevant.keys.sorted() {
            let items = relevant[user]!
            var hitRanks: [Int] = []
            var counted = Set<ID>()
            for (offset, item) in (recs[user] ?? []).prefix(k).enumerated()
            where items.contains(item) && counted.insert(item).inserted {
                hitRanks.append(offset + 1)
            }
            average.add(RankingMetrics.scores(hitRanks: hitRanks, relevantCount: items.count, k: k))
        }
        return EvaluationResult(users: average.users, k: k, metrics: average.metrics(k: k))
    }
}
