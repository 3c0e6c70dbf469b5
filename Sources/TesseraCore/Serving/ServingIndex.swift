import CBLAS

/// One shard's serving copy of an item table: the item vectors laid out
/// contiguously for BLAS scoring, the items' feedback counters, and the
/// version of the last update applied.
///
/// Training never writes here directly: each change to the table reaches the
/// index as a *delta* (the keys whose rows changed, with their new values),
/// applied in order, each bumping `version`. Scoring reads under a shared lock,
/// so many requests score at once; a delta takes the lock exclusively for the
/// time of a copy. Thread-safe.
public final class ServingIndex: @unchecked Sendable {
    /// Impressions and clicks of an item, overall or within a user group.
    public struct Counter: Sendable, Equatable {
        public var impressions: UInt64 = 0
        public var clicks: UInt64 = 0

        public init(impressions: UInt64 = 0, clicks: UInt64 = 0) {
            self.impressions = impressions
            self.clicks = clicks
        }
    }

    /// One scored item.
    public struct Scored: Sendable, Equatable {
        public var key: UInt64
        public var score: Float
        public var counter: Counter
        public var groupCounter: Counter
        /// From the exploration pool rather than the top-k.
        public var explorePool: Bool
    }

    /// The answer of `score`.
    public struct Result: Sendable {
        /// Top-k by score, best first, then the exploration pool.
        public var items: [Scored]
        public var version: UInt64
        public var catalogSize: Int
        public var totalImpressions: UInt64
    }

    private struct GroupKey: Hashable {
        var group: UInt32
        var key: UInt64
    }

    public let dim: Int
    private let lock = ReadWriteLock()
    // Everything below is guarded by `lock`.
    private var keys: [UInt64] = []
    private var vectors: [Float] = []
    private var rows: [UInt64: Int32] = [:]
    private var counters: [UInt64: Counter] = [:]
    private var impressionsByRow: [UInt64] = []
    private var clicksByRow: [UInt64] = []
    private var groupCounters: [GroupKey: Counter] = [:]
    private var totalImpressions: UInt64 = 0
    private var totalClicks: UInt64 = 0
    private var appliedVersion: UInt64 = 0

    public init(dim: Int) {
        precondition(dim > 0)
        self.dim = dim
    }

    /// The version of the last delta or counter update applied.
    public var version: UInt64 {
        lock.withReadLock { appliedVersion }
    }

    /// Items in the index.
    public var count: Int {
        lock.withReadLock { keys.count }
    }

    /// Sums of all impression and click counters.
    public var totals: Counter {
        lock.withReadLock { Counter(impressions: totalImpressions, clicks: totalClicks) }
    }

    /// The vector of `key`, if indexed.
    public func vector(for key: UInt64) -> [Float]? {
        lock.withReadLock {
            guard let row = rows[key] else { return nil }
            let start = Int(row) * dim
            return Array(vectors[start..<start + dim])
        }
    }

    /// Applies one delta: the new values of `keys` (row-major, `keys.count * dim`).
    ///
    /// Inserts keys not yet indexed. Returns the new version.
    @discardableResult
    public func apply(keys changed: [UInt64], values: [Float]) -> UInt64 {
        apply(keys: changed) { _ in values }
    }

    /// Applies one delta whose values `read` fetches while the index is locked.
    ///
    /// Reading the source rows under the index's exclusive lock makes concurrent
    /// deltas for the same key safe: whichever applies last reads the latest values.
    @discardableResult
    public func apply(keys changed: [UInt64], reading read: ([UInt64]) -> [Float]) -> UInt64 {
        lock.withWriteLock {
            let values = read(changed)
            precondition(values.count == changed.count * dim, "a delta of \(changed.count) rows needs \(changed.count * dim) values")
            values.withUnsafeBufferPointer { source in
                for (i, key) in changed.enumerated() {
                    let row: Int
                    if let existing = rows[key] {
                        row = Int(existing)
                    } else {
                        row = keys.count
                        rows[key] = Int32(row)
                        keys.append(key)
                        vectors.append(contentsOf: repeatElement(0, count: dim))
                        impressionsByRow.append(counters[key]?.impressions ?? 0)
                        clicksByRow.append(counters[key]?.clicks ?? 0)
                    }
                    vectors.withUnsafeMutableBufferPointer { target in
                        (target.baseAddress! + row * dim).update(from: source.baseAddress! + i * dim, count: dim)
                    }
                }
            }
            appliedVersion += 1
            return appliedVersion
        }
    }

    /// Adds impressions and clicks to items (indexed or not yet), overall and for `group`.
    @discardableResult
    public func addCounts(_ deltas: [(key: UInt64, group: UInt32, impressions: UInt64, clicks: UInt64)]) -> UInt64 {
        lock.withWriteLock {
            for delta in deltas {
                var counter = counters[delta.key] ?? Counter()
                counter.impressions += delta.impressions
                counter.clicks += delta.clicks
                counters[delta.key] = counter
                let groupKey = GroupKey(group: delta.group, key: delta.key)
                var groupCounter = groupCounters[groupKey] ?? Counter()
                groupCounter.impressions += delta.impressions
                groupCounter.clicks += delta.clicks
                groupCounters[groupKey] = groupCounter
                totalImpressions += delta.impressions
                totalClicks += delta.clicks
                if let row = rows[delta.key] {
                    impressionsByRow[Int(row)] = counter.impressions
                    clicksByRow[Int(row)] = counter.clicks
                }
            }
            appliedVersion += 1
            return appliedVersion
        }
    }

    /// The counters of `key` overall and within `group`.
    public func counters(for key: UInt64, group: UInt32) -> (item: Counter, group: Counter) {
        lock.withReadLock {
            (counters[key] ?? Counter(), groupCounters[GroupKey(group: group, key: key)] ?? Counter())
        }
    }

    /// The `k` items scoring highest against `query`, then an exploration pool.
    ///
    /// - Parameters:
    ///   - query: `dim` values.
    ///   - excluding: keys never returned.
    ///   - explorePool: up to this many items from each of three sources, none
    ///     in the top-k: the least shown (fewest impressions), the best observed
    ///     click rate ((clicks + 1) / (impressions + 2), so items that proved
    ///     themselves come back), and a uniform draw seeded by `seed`.
    ///   - group: the user group whose counters are returned beside the item's.
    public func score(query: [Float], k: Int, excluding: [UInt64], explorePool: Int, seed: UInt64, group: UInt32) -> Result {
        precondition(query.count == dim, "the query has \(query.count) values; the index has dimension \(dim)")
        return lock.withReadLock {
            let n = keys.count
            var result = Result(items: [], version: appliedVersion, catalogSize: n, totalImpressions: totalImpressions)
            guard n > 0 else { return result }
            var excluded = excluding.compactMap { rows[$0] }
            excluded.sort()
            var scores = [Float](repeating: 0, count: n)
            vectors.withUnsafeBufferPointer { vectors in
                query.withUnsafeBufferPointer { query in
                    scores.withUnsafeMutableBufferPointer { scores in
                        cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(n), Int32(dim), 1, vectors.baseAddress, Int32(dim),
                                    query.baseAddress, 1, 0, scores.baseAddress, 1)
                    }
                }
            }
            let top = scores.withUnsafeBufferPointer { scores in
                excluded.withUnsafeBufferPointer { TopK.select(scores, k: k, excluding: $0) }
            }
            result.items = top.map { scored(row: $0.index, score: $0.score, group: group, pool: false) }
            guard explorePool > 0 else { return result }

            var taken = Set(top.map(\.index))
            for row in excluded { taken.insert(Int(row)) }
            var rng = SplitMix64(seed: seed)
            // Least shown: negate impressions so TopK finds the smallest counts; a
            // random fraction breaks ties, so equally unseen items take turns.
            let cold = impressionsByRow.map { -Float($0) - rng.nextUnitFloat() * 0.5 }
            // Best observed click rate, smoothed.
            let hot = zip(clicksByRow, impressionsByRow).map { Float(Double($0 + 1) / Double($1 + 2)) }
            for ranking in [cold, hot] {
                let takenRows = taken.map { Int32($0) }.sorted()
                let picked = ranking.withUnsafeBufferPointer { ranking in
                    takenRows.withUnsafeBufferPointer { TopK.select(ranking, k: explorePool, excluding: $0) }
                }
                for item in picked {
                    taken.insert(item.index)
                    result.items.append(scored(row: item.index, score: scores[item.index], group: group, pool: true))
                }
            }
            // A uniform draw without replacement from the rows not taken yet.
            if taken.count * 2 > n {
                // Mostly taken: list what is left and draw from it.
                var left = (0..<n).filter { !taken.contains($0) }
                for _ in 0..<min(explorePool, left.count) {
                    let row = left.remove(at: rng.nextInt(below: left.count))
                    result.items.append(scored(row: row, score: scores[row], group: group, pool: true))
                }
            } else {
                // Mostly free: rejection sampling finishes in a few draws on average.
                var drawn = 0
                while drawn < explorePool && taken.count < n {
                    let row = rng.nextInt(below: n)
                    guard taken.insert(row).inserted else { continue }
                    result.items.append(scored(row: row, score: scores[row], group: group, pool: true))
                    drawn += 1
                }
            }
            return result
        }
    }

    /// Must be called under the lock.
    private func scored(row: Int, score: Float, group: UInt32, pool: Bool) -> Scored {
        let key = keys[row]
        return Scored(key: key, score: score, counter: counters[key] ?? Counter(),
                      groupCounter: groupCounters[GroupKey(group: group, key: key)] ?? Counter(), explorePool: pool)
    }
}
