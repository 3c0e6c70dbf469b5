/// Per-user item sequences under SASRec's leave-one-out protocol, and the seeded
/// next-item training batches built from them.
///
/// Each user's interactions in time order (ties keep input order; repeats are kept): the
/// last item is the test target, the one before it the validation target, the rest the
/// training sequence; a user with fewer than 3 interactions has a training sequence only
/// (`InteractionSplit.leaveOneOut`).
///
/// Training follows the SASRec reference code: a user's training sequence `t₀ … t_{n-1}`
/// yields inputs `t₀ … t_{n-2}` and positives `t₁ … t_{n-1}` (next item at every position),
/// keeping the last `maxLength` pairs, left-padded; each position gets one negative drawn
/// uniformly from the catalogue minus the user's *training* items (held-out items are not
/// looked at while training). Users with fewer than 2 training items have no pair and are
/// not trained on.
///
/// Randomness is a pure function of the seed: an epoch's user order of `(seed, epoch)`, a
/// user's negatives of `(seed, epoch, user key)`, so batches do not depend on how users are
/// split between workers or steps. Items are held as dense indices into `items`. Immutable,
/// `Sendable`.
public struct SequenceData: Sendable {
    /// Which held-out item a prediction is checked against.
    public enum Target: Sendable, Hashable {
        /// The second-to-last item; the history is the training sequence.
        case validation
        /// The last item; the history is the training sequence plus the validation item.
        case test
    }

    /// The item catalogue, ascending: dense item `i` is `items[i]`.
    public let items: [UInt64]
    /// User keys, in order of first appearance.
    public let users: [UInt64]
    /// Per user: the training sequence as dense item indices, oldest first.
    let trainSequences: [[Int32]]
    /// Per user: the validation and test items (dense), or -1.
    let validTargets: [Int32]
    let testTargets: [Int32]
    /// Per user: sorted unique dense indices of the training items (negatives avoid them).
    let trainItems: [[Int32]]

    /// Splits `interactions` leave-one-out. `items` is the catalogue negatives are drawn from
    /// (default: every item in `interactions`); pass the global catalogue when this holds
    /// only one worker's users. Precondition: every interaction's item is in `items`.
    public init(interactions: [Interaction], items: [UInt64]? = nil) {
        self.init(split: InteractionSplit.leaveOneOut(interactions), items: items)
    }

    /// From an existing leave-one-out split: `split.train` in time order per user (as
    /// `InteractionSplit.leaveOneOut` returns it), at most one valid and one test
    /// interaction per user. `items` as in `init(interactions:items:)`.
    public init(split: SplitData, items: [UInt64]? = nil) {
        let catalogue = items.map { Array(Set($0)).sorted() }
            ?? Array(Set((split.train + split.valid + split.test).map(\.item))).sorted()
        precondition(!catalogue.isEmpty, "sequence data needs at least one item")
        var itemIndex: [UInt64: Int32] = [:]
        itemIndex.reserveCapacity(catalogue.count)
        for (i, key) in catalogue.enumerated() { itemIndex[key] = Int32(i) }
        func dense(_ key: UInt64) -> Int32 {
            guard let i = itemIndex[key] else { preconditionFailure("item \(key) is not in the catalogue") }
            return i
        }
        var userIndex: [UInt64: Int] = [:]
        var users: [UInt64] = []
        var sequences: [[Int32]] = []
        func row(_ user: UInt64) -> Int {
            if let r = userIndex[user] { return r }
            userIndex[user] = users.count
            users.append(user)
            sequences.append([])
            return users.count - 1
        }
        for interaction in split.train { sequences[row(interaction.user)].append(dense(interaction.item)) }
        var valid: [Int: Int32] = [:], test: [Int: Int32] = [:]
        for interaction in split.valid { valid[row(interaction.user)] = dense(interaction.item) }
        for interaction in split.test { test[row(interaction.user)] = dense(interaction.item) }
        self.items = catalogue
        self.users = users
        self.trainSequences = sequences
        self.validTargets = users.indices.map { valid[$0] ?? -1 }
        self.testTargets = users.indices.map { test[$0] ?? -1 }
        self.trainItems = sequences.map { Array(Set($0)).sorted() }
    }

    /// The training sequence of user row `user` (keys, oldest first).
    public func trainSequence(ofUser user: Int) -> [UInt64] {
        trainSequences[user].map { items[Int($0)] }
    }

    /// The held-out item of user row `user` for `target`, if the user has one.
    public func target(_ target: Target, ofUser user: Int) -> UInt64? {
        let t = target == .test ? testTargets[user] : validTargets[user]
        return t >= 0 ? items[Int(t)] : nil
    }

    /// The sequence a prediction of `target` sees (oldest first): the training items, plus
    /// the validation item for `.test`.
    public func history(for target: Target, ofUser user: Int) -> [UInt64] {
        var history = trainSequence(ofUser: user)
        if target == .test, validTargets[user] >= 0 { history.append(items[Int(validTargets[user])]) }
        return history
    }

    /// Every item user row `user` interacted with (training, validation, test), as keys.
    public func interactedItems(ofUser user: Int) -> Set<UInt64> {
        var seen = Set(trainItems[user].map { items[Int($0)] })
        for t in [validTargets[user], testTargets[user]] where t >= 0 { seen.insert(items[Int(t)]) }
        return seen
    }

    /// User rows with at least 2 training items (at least one next-item pair), ascending.
    public var trainableUsers: [Int] {
        trainSequences.indices.filter { trainSequences[$0].count >= 2 }
    }

    /// `users` (default `trainableUsers`) in the seeded order of `epoch`: a Fisher–Yates
    /// shuffle with `SplitMix64(seed: Hashing.combine(seed, epoch))`.
    public func epochOrder(_ epoch: Int, seed: UInt64, users: [Int]? = nil) -> [Int] {
        var order = users ?? trainableUsers
        var rng = SplitMix64(seed: Hashing.combine(seed, UInt64(epoch)))
        for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, rng.nextInt(below: i + 1)) }
        return order
    }

    /// The epoch's batches: `epochOrder` cut into runs of `batchSize` users (the last may
    /// be shorter), each built by `batch(users:maxLength:epoch:seed:)`.
    ///
    /// With `sortWindow > 1`, each run of `sortWindow · batchSize` users of the order is sorted
    /// by training length before it is cut, and the epoch's batches are then shuffled: batches
    /// of similar lengths carry less padding, so a step costs about its users' real positions
    /// (`SASRec` skips slots that are padding in every sequence) at the price of less mixed
    /// batches. `sortWindow <= 1` gives uniformly mixed batches, as in the SASRec paper.
    public func batches(
        epoch: Int, batchSize: Int, maxLength: Int, seed: UInt64, users: [Int]? = nil, sortWindow: Int = 1,
        sharedNegatives: Int = 0
    ) -> [SASRecBatch] {
        precondition(batchSize >= 1, "batch size must be at least 1, got \(batchSize)")
        var order = epochOrder(epoch, seed: seed, users: users)
        var cuts = Array(stride(from: 0, to: order.count, by: batchSize))
        if sortWindow > 1 {
            let length = { (user: Int) in min(self.trainSequences[user].count, maxLength + 1) }
            for start in stride(from: 0, to: order.count, by: sortWindow * batchSize) {
                let end = min(start + sortWindow * batchSize, order.count)
                order[start..<end].sort { length($0) < length($1) }
            }
            var rng = SplitMix64(seed: Hashing.combine(Hashing.combine(seed, UInt64(epoch)), 0xB0C4))
            for i in stride(from: cuts.count - 1, to: 0, by: -1) { cuts.swapAt(i, rng.nextInt(below: i + 1)) }
        }
        return cuts.map { start in
            batch(users: order[start..<min(start + batchSize, order.count)], maxLength: maxLength, epoch: epoch, seed: seed,
                  sharedNegatives: sharedNegatives)
        }
    }

    /// The training batch of user rows `users`, one sequence each, in that order.
    ///
    /// Sequence `s` holds user `users[s]`'s last `min(n - 1, maxLength)` next-item pairs; the
    /// negative at each position comes from `SplitMix64(seed: Hashing.combine(Hashing.combine(
    /// seed, epoch), userKey))`, drawn from the last position backwards (so truncation
    /// does not change the negatives that remain).
    ///
    /// With `sharedNegatives > 0` the positions get no negatives of their own; instead the
    /// batch carries `min(sharedNegatives, items.count)` distinct items drawn uniformly from
    /// the catalogue with `SplitMix64(seed: Hashing.combine(Hashing.combine(seed, epoch),
    /// users' keys…))`, shared by every position (sampled softmax; the loss masks an item
    /// that happens to be a position's positive).
    public func batch(
        users: some Collection<Int>, maxLength: Int, epoch: Int, seed: UInt64, sharedNegatives: Int = 0
    ) -> SASRecBatch {
        precondition(maxLength >= 1, "maxLength must be at least 1, got \(maxLength)")
        precondition(sharedNegatives >= 0, "sharedNegatives must be >= 0, got \(sharedNegatives)")
        let slots = users.count * maxLength
        var inputs = [Int32](repeating: -1, count: slots)
        var positives = inputs
        var negatives = sharedNegatives > 0 ? [] : inputs
        let epochSeed = Hashing.combine(seed, UInt64(epoch))
        for (s, user) in users.enumerated() {
            let sequence = trainSequences[user]
            let pairs = min(max(sequence.count - 1, 0), maxLength)
            var rng = SplitMix64(seed: Hashing.combine(epochSeed, self.users[user]))
            for k in 0..<pairs {
                let slot = s * maxLength + maxLength - 1 - k
                let next = sequence.count - 1 - k
                inputs[slot] = sequence[next - 1]
                positives[slot] = sequence[next]
                if sharedNegatives == 0 { negatives[slot] = sampleNegative(avoiding: trainItems[user], using: &rng) }
            }
        }
        var shared: [Int32] = []
        if sharedNegatives > 0 {
            var rng = SplitMix64(seed: users.reduce(Hashing.combine(epochSeed, 0x5EED_5A3D)) { Hashing.combine($0, self.users[$1]) })
            shared = distinctItems(min(sharedNegatives, items.count), using: &rng)
        }
        // Dense indices -> indices into the batch's unique keys (ascending dense = ascending keys).
        var used = Array(Set(inputs + positives + negatives + shared))
        used.removeAll { $0 < 0 }
        used.sort()
        var position: [Int32: Int32] = [:]
        position.reserveCapacity(used.count)
        for (i, d) in used.enumerated() { position[d] = Int32(i) }
        func local(_ d: Int32) -> Int32 { d < 0 ? -1 : position[d]! }
        return SASRecBatch(itemKeys: used.map { items[Int($0)] }, length: maxLength,
                           inputs: inputs.map(local), positives: positives.map(local), negatives: negatives.map(local),
                           sharedNegatives: shared.map(local))
    }

    /// `count <= items.count` distinct dense item indices, uniformly at random (in draw order).
    func distinctItems(_ count: Int, using rng: inout SplitMix64) -> [Int32] {
        precondition(count <= items.count, "\(count) distinct items from a catalogue of \(items.count)")
        if count * 2 > items.count {
            // Dense draw: a partial Fisher–Yates shuffle of the catalogue.
            var all = (0..<Int32(items.count)).map { $0 }
            for i in 0..<count { all.swapAt(i, i + rng.nextInt(below: items.count - i)) }
            return Array(all.prefix(count))
        }
        var seen = Set<Int32>(), out: [Int32] = []
        out.reserveCapacity(count)
        while out.count < count {
            let candidate = Int32(rng.nextInt(below: items.count))
            if seen.insert(candidate).inserted { out.append(candidate) }
        }
        return out
    }

    /// A dense item index drawn uniformly from the catalogue minus `avoid` (sorted). If
    /// `avoid` covers the catalogue, any item (the user has nothing left to contrast).
    func sampleNegative(avoiding avoid: [Int32], using rng: inout SplitMix64) -> Int32 {
        let n = items.count
        guard avoid.count < n else { return Int32(rng.nextInt(below: n)) }
        if avoid.count * 2 <= n {
            while true {
                let candidate = Int32(rng.nextInt(below: n))
                if !SequenceData.contains(avoid, candidate) { return candidate }
            }
        }
        // Dense user: the k-th allowed item directly.
        var k = rng.nextInt(below: n - avoid.count)
        var candidate: Int32 = 0
        for a in avoid {
            if Int(a - candidate) > k { break }
            k -= Int(a - candidate)
            candidate = a + 1
        }
        return candidate + Int32(k)
    }

    /// Binary search in a sorted array.
    static func contains(_ sorted: [Int32], _ value: Int32) -> Bool {
        var low = 0, high = sorted.count
        while low < high {
            let mid = (low + high) / 2
            if sorted[mid] < value { low = mid + 1 } else { high = mid }
        }
        return low < sorted.count && sorted[low] == value
    }
}
