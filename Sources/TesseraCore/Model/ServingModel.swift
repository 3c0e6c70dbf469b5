import CBLAS

/// A trained matrix-factorization model held for online Recommend: user and
/// item vectors, each user's training items, and popularity for unknown users.
///
/// Immutable and `Sendable`: the scheduler swaps in a new one when a better
/// model is trained, while requests keep reading the one they started with.
public struct ServingModel: Sendable {
    /// Which model this is (the epoch it was trained to).
    public let version: UInt64
    public let dim: Int
    public let items: [UInt64]
    /// Row-major, `items.count * dim`.
    public let itemVectors: [Float]
    private let itemIndex: [UInt64: Int32]
    private let userRows: [UInt64: Int]
    /// Row-major, one row per known user.
    private let userVectors: [Float]
    /// Per user, sorted item indices seen in training.
    private let seen: [UInt64: [Int32]]
    public let popularity: Popularity

    /// - Parameters:
    ///   - users: user keys, in `userVectors` row order.
    ///   - train: training interactions (for "already seen" and popularity).
    public init(version: UInt64, dim: Int, items: [UInt64], itemVectors: [Float], users: [UInt64], userVectors: [Float],
                train: [Interaction]) {
        precondition(itemVectors.count == items.count * dim && userVectors.count == users.count * dim)
        self.version = version
        self.dim = dim
        self.items = items
        self.itemVectors = itemVectors
        self.userVectors = userVectors
        var itemIndex: [UInt64: Int32] = [:]
        for (i, key) in items.enumerated() { itemIndex[key] = Int32(i) }
        self.itemIndex = itemIndex
        var userRows: [UInt64: Int] = [:]
        for (row, key) in users.enumerated() { userRows[key] = row }
        self.userRows = userRows
        var seen: [UInt64: [Int32]] = [:]
        for interaction in train {
            if let index = itemIndex[interaction.item] { seen[interaction.user, default: []].append(index) }
        }
        for (user, list) in seen { seen[user] = Array(Set(list)).sorted() }
        self.seen = seen
        popularity = Popularity(items: items, train: train)
    }

    /// Whether `user` has a trained vector.
    public func knows(user: UInt64) -> Bool {
        userRows[user] != nil
    }

    /// One recommended item.
    public struct Recommendation: Sendable, Equatable {
        public var item: UInt64
        public var score: Float
    }

    /// The answer to a Recommend request.
    public struct Answer: Sendable {
        public var items: [Recommendation]
        /// True when `user` was unknown and popularity answered.
        public var popularityFallback: Bool
    }

    /// The `k` best items for `user`, excluding `excluded` and, unless `includeSeen`, the user's training items.
    ///
    /// An unknown user gets the most popular items (scored by their share of
    /// training interactions). Precondition: `k >= 1`.
    public func recommend(user: UInt64, k: Int, excluding excluded: Set<UInt64> = [], includeSeen: Bool = false) -> Answer {
        precondition(k >= 1)
        guard let row = userRows[user] else {
            let total = max(1, popularity.counts.reduce(0, +))
            let keys = popularity.top(k: k, excluding: excluded)
            let items = keys.map { key in
                Recommendation(item: key, score: Float(popularity.counts[Int(itemIndex[key] ?? 0)]) / Float(total))
            }
            return Answer(items: items, popularityFallback: true)
        }
        var mask = includeSeen ? [] : (seen[user] ?? [])
        if !excluded.isEmpty {
            mask += excluded.compactMap { itemIndex[$0] }
            mask.sort()
        }
        var scores = [Float](repeating: 0, count: items.count)
        itemVectors.withUnsafeBufferPointer { itemVectors in
            userVectors.withUnsafeBufferPointer { userVectors in
                scores.withUnsafeMutableBufferPointer { scores in
                    cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(items.count), Int32(dim), 1,
                                itemVectors.baseAddress, Int32(dim), userVectors.baseAddress! + row * dim, 1,
                                0, scores.baseAddress, 1)
                }
            }
        }
        let top = scores.withUnsafeBufferPointer { scores in
            mask.withUnsafeBufferPointer { TopK.select(scores, k: k, excluding: $0) }
        }
        return Answer(items: top.map { Recommendation(item: items[$0.index], score: $0.score) }, popularityFallback: false)
    }
}
