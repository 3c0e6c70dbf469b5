/// One mini-batch of matrix factorization: the unique keys it touches and the
/// examples, as indices into those keys.
///
/// Keys are deduplicated so each row is pulled once and its gradients summed
/// before the push.
public struct MFBatch: Sendable {
    /// Unique user keys.
    public var userKeys: [UInt64] = []
    /// Unique item keys (positives and negatives).
    public var itemKeys: [UInt64] = []
    /// Per positive example: index into `userKeys`.
    public var users: [Int32] = []
    /// Per positive example: index into `itemKeys`.
    public var positives: [Int32] = []
    /// `negativesPerPositive` indices into `itemKeys` per example, example-major.
    public var negatives: [Int32] = []
    public var negativesPerPositive = 1

    public init() {}

    /// Positive examples in the batch.
    public var count: Int { users.count }
}

/// Samples negatives for a worker's training examples.
///
/// Negatives are drawn uniformly from `items`, redrawing (a few times) items
/// the user has among its training positives.
public struct NegativeSampler: Sendable {
    public let items: [UInt64]
    private let positives: [UInt64: Set<UInt64>]

    /// - Parameters:
    ///   - items: the item universe (every item of the data, not only the worker's).
    ///   - train: the training interactions whose positives are avoided.
    public init(items: [UInt64], train: [Interaction]) {
        precondition(!items.isEmpty, "negative sampling needs at least one item")
        self.items = items
        var positives: [UInt64: Set<UInt64>] = [:]
        for interaction in train { positives[interaction.user, default: []].insert(interaction.item) }
        self.positives = positives
    }

    /// One negative item for `user`.
    public func sample(for user: UInt64, using rng: inout SplitMix64) -> UInt64 {
        let seen = positives[user]
        var item = items[rng.nextInt(below: items.count)]
        var tries = 0
        while let seen, seen.contains(item), tries < 8 {
            item = items[rng.nextInt(below: items.count)]
            tries += 1
        }
        return item
    }

    /// Builds the batch for `examples`, with `negatives` sampled negatives each.
    public func batch(_ examples: ArraySlice<Interaction>, negatives: Int, using rng: inout SplitMix64) -> MFBatch {
        var batch = MFBatch()
        batch.negativesPerPositive = negatives
        var userIndex: [UInt64: Int32] = [:]
        var itemIndex: [UInt64: Int32] = [:]
        userIndex.reserveCapacity(examples.count)
        itemIndex.reserveCapacity(examples.count * (1 + negatives))
        batch.users.reserveCapacity(examples.count)
        batch.positives.reserveCapacity(examples.count)
        batch.negatives.reserveCapacity(examples.count * negatives)

        func index(_ key: UInt64, in map: inout [UInt64: Int32], keys: inout [UInt64]) -> Int32 {
            if let index = map[key] { return index }
            let index = Int32(keys.count)
            map[key] = index
            keys.append(key)
            return index
        }

        for example in examples {
            batch.users.append(index(example.user, in: &userIndex, keys: &batch.userKeys))
            batch.positives.append(index(example.item, in: &itemIndex, keys: &batch.itemKeys))
            for _ in 0..<negatives {
                let negative = sample(for: example.user, using: &rng)
                batch.negatives.append(index(negative, in: &itemIndex, keys: &batch.itemKeys))
            }
        }
        return batch
    }
}
