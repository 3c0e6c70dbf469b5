/// The full-ranking protocol of EVALUATION.md (RecBole's): every evaluated user's
/// scores over *all* items, masked items removed, top-K taken, and Recall, NDCG,
/// Hit, MRR and Precision at K averaged over the users with ≥ 1 relevant item.
///
/// Scores are computed a block of users at a time (`usersPerBlock` rows, fewer when
/// a block would exceed `maxScoreBytes`), so memory stays bounded at 10^6 items.
/// Results do not depend on the block size. A value type; evaluating runs on the
/// calling thread (OpenBLAS may use its own threads inside `sgemm`).
public struct FullRankingEvaluator: Sendable {
    /// The cutoff K (≥ 1).
    public let k: Int
    /// Most user rows scored at once.
    public let usersPerBlock: Int
    /// Upper bound on the score buffer; at least one user row is always scored.
    public let maxScoreBytes: Int
    /// Also report coverage@K, novelty@K and (with item embeddings) diversity@K.
    public var beyondAccuracy: Bool

    /// Throws `invalidArgument` when `k < 1`, `usersPerBlock < 1` or `maxScoreBytes < 1`.
    public init(k: Int = 10, usersPerBlock: Int = 256, maxScoreBytes: Int = 64 << 20, beyondAccuracy: Bool = false)
        throws(EvaluationError)
    {
        guard k >= 1 else { throw EvaluationError(.invalidArgument, "K must be at least 1, got \(k)") }
        guard usersPerBlock >= 1 else {
            throw EvaluationError(.invalidArgument, "users per block must be at least 1, got \(usersPerBlock)")
        }
        guard maxScoreBytes >= 1 else {
            throw EvaluationError(.invalidArgument, "the score buffer limit must be positive, got \(maxScoreBytes)")
        }
        self.k = k
        self.usersPerBlock = usersPerBlock
        self.maxScoreBytes = maxScoreBytes
        self.beyondAccuracy = beyondAccuracy
    }

    /// Evaluates inner-product scores of `userVectors` (rows in `set.users` order)
    /// against `itemVectors` (rows in `set.items` order), both row-major with `dim`
    /// columns (precondition: one user row per `set.users` entry). With `keepLists`,
    /// the result carries every evaluated user's top-K.
    public func evaluate(
        _ set: EvaluationSet, userVectors: [Float], itemVectors: [Float], dim: Int, keepLists: Bool = false
    ) -> EvaluationResult {
        precondition(userVectors.count == set.users.count * dim, "\(userVectors.count) user floats for \(set.users.count) users of dim \(dim)")
        return evaluate(set, scorer: DotProductScorer(userVectors: userVectors, itemVectors: itemVectors, dim: dim), keepLists: keepLists)
    }

    /// Evaluates any scorer. Diversity uses `diversityEmbeddings` if given, else the
    /// scorer's own `itemEmbeddings`, and is omitted when neither exists (so a
    /// baseline can be judged in a model's embedding space).
    public func evaluate(
        _ set: EvaluationSet, scorer: some RankingScorer,
        diversityEmbeddings: ItemEmbeddings? = nil, keepLists: Bool = false
    ) -> EvaluationResult {
        var average = RankingMetrics.Average()
        var beyond = beyondAccuracy && !set.items.isEmpty
            ? BeyondAccuracy.Accumulator(
                itemCount: set.items.count, trainCounts: set.trainCounts, trainUserCount: set.trainUserCount,
                embeddings: diversityEmbeddings ?? scorer.itemEmbeddings)
            : nil
        var lists: [[ScoredItem]]? = keepLists ? Array(repeating: [], count: set.users.count) : nil
        forEachTopK(set, scorer: scorer, onlyEvaluatedUsers: true) { row, list in
            let relevant = set.relevant(ofUser: row)
            let hitRanks = list.indices.lazy
                .filter { Self.contains(relevant, list[$0].index) }
                .map { $0 + 1 }
            average.add(RankingMetrics.scores(hitRanks: hitRanks, relevantCount: relevant.count, k: k))
            beyond?.add(list.lazy.map(\.index))
            lists?[row] = list
        }
        var metrics = average.metrics(k: k)
        if let beyond {
            metrics.merge(beyond.metrics(k: k)) { _, new in new }
        }
        return EvaluationResult(users: average.users, k: k, metrics: metrics, lists: lists)
    }

    /// The masked top-K list of every row of `set.users` (evaluated or not), for
    /// exporting recommendations.
    public func topK(_ set: EvaluationSet, userVectors: [Float], itemVectors: [Float], dim: Int) -> [[ScoredItem]] {
        precondition(userVectors.count == set.users.count * dim, "\(userVectors.count) user floats for \(set.users.count) users of dim \(dim)")
        return topK(set, scorer: DotProductScorer(userVectors: userVectors, itemVectors: itemVectors, dim: dim))
    }

    /// The masked top-K list of every row of `set.users` under `scorer`.
    public func topK(_ set: EvaluationSet, scorer: some RankingScorer) -> [[ScoredItem]] {
        var lists = [[ScoredItem]](repeating: [], count: set.users.count)
        forEachTopK(set, scorer: scorer, onlyEvaluatedUsers: false) { row, list in lists[row] = list }
        return lists
    }

    /// Calls `body(row, list)` with the masked top-K list of each user row, in row
    /// order: all rows, or only those with ≥ 1 relevant item. Blocks in which no
    /// row is wanted are not scored.
    public func forEachTopK(
        _ set: EvaluationSet, scorer: some RankingScorer, onlyEvaluatedUsers: Bool,
        _ body: (_ row: Int, _ list: [ScoredItem]) -> Void
    ) {
        let itemCount = set.items.count
        let rowCount = set.users.count
        guard itemCount > 0, rowCount > 0 else {
            for row in 0..<rowCount where !onlyEvaluatedUsers || !set.relevant(ofUser: row).isEmpty { body(row, []) }
            return
        }
        let rowsByBudget = max(1, maxScoreBytes / (MemoryLayout<Float>.stride * itemCount))
        let blockRows = min(usersPerBlock, rowsByBudget, rowCount)
        let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: blockRows * itemCount)
        defer { buffer.deallocate() }

        for blockStart in stride(from: 0, to: rowCount, by: blockRows) {
            let rows = blockStart..<min(blockStart + blockRows, rowCount)
            let wanted = rows.filter { !onlyEvaluatedUsers || !set.relevant(ofUser: $0).isEmpty }
            guard !wanted.isEmpty else { continue }
            let block = UnsafeMutableBufferPointer(rebasing: buffer[0..<(rows.count * itemCount)])
            scorer.score(users: rows, itemCount: itemCount, into: block)
            for row in wanted {
                let offset = (row - rows.lowerBound) * itemCount
                let scores = UnsafeBufferPointer(rebasing: block[offset..<(offset + itemCount)])
                let list = set.maskIndices.withUnsafeBufferPointer { all in
                    let mask = UnsafeBufferPointer(rebasing: all[set.maskOffsets[row]..<set.maskOffsets[row + 1]])
                    return TopK.select(scores, k: k, excluding: mask)
                }
                body(row, list)
            }
        }
    }

    /// Binary search in a sorted slice.
    static func contains(_ sorted: ArraySlice<Int32>, _ index: Int) -> Bool {
        var low = sorted.startIndex
        var high = sorted.endIndex
        let target = Int32(truncatingIfNeeded: index)
        while low < high {
            let mid = (low + high) / 2
            if sorted[mid] < target { low = mid + 1 } else { high = mid }
        }
        return low < sorted.endIndex && sorted[low] == target
    }
}
