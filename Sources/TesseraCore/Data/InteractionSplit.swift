/// Shares of each user's interactions that go to train, valid and test.
/// Only the proportions matter: `8:1:1` and `0.8:0.1:0.1` are the same split.
public struct SplitRatios: Sendable, Hashable, Codable {
    public var train: Double
    public var valid: Double
    public var test: Double

    /// Precondition: every share is finite and >= 0, and `train > 0`.
    public init(train: Double = 0.8, valid: Double = 0.1, test: Double = 0.1) {
        precondition(
            [train, valid, test].allSatisfy { $0.isFinite && $0 >= 0 } && train > 0,
            "split ratios must be finite, non-negative, with train > 0 (got \(train):\(valid):\(test))")
        self.train = train
        self.valid = valid
        self.test = test
    }

    /// RecBole's default protocol: 8:1:1.
    public static let recBole = SplitRatios()
}

/// The three parts of a split. No (user, item) pair of `split` is in two parts.
public struct SplitData: Sendable, Hashable {
    public var train: [Interaction]
    public var valid: [Interaction]
    public var test: [Interaction]

    public init(train: [Interaction] = [], valid: [Interaction] = [], test: [Interaction] = []) {
        self.train = train
        self.valid = valid
        self.test = test
    }
}

/// Splits interactions into train, valid and test, per user.
public enum InteractionSplit {
    /// The seeded per-user random split (RecBole's `RS` with `group_by: user`).
    ///
    /// 1. Repeated (user, item) pairs are dropped, keeping the first in input order.
    /// 2. Each user's interactions, in input order, are shuffled by Fisher–Yates
    ///    (`for i in stride(from: n-1, to: 0, by: -1) { swap(i, nextInt(below: i+1)) }`)
    ///    with `SplitMix64(seed: Hashing.combine(seed, user))`.
    /// 3. Counts follow RecBole: `valid = ⌊n·v⌋`, `test = ⌊n·t⌋` (shares
    ///    normalised to sum 1), train gets the rest; then, while train has more
    ///    than 1, an empty part whose share of `n` is in (0, 1) gets one
    ///    interaction from train, test first, then valid. So with 8:1:1, n = 1
    ///    is train only, n = 2 is 1 train + 1 test, n = 3 is 1 + 1 + 1, n = 10
    ///    is 8 + 1 + 1, n = 15 is 13 + 1 + 1, n = 20 is 16 + 2 + 2.
    /// 4. The shuffled list is cut in that order: train, then valid, then test.
    ///
    /// A user's parts depend only on that user's interactions (in input order)
    /// and `seed`, not on other users: a worker that read only its users gets
    /// exactly the parts the scheduler gets for them. Parts list users in
    /// order of first appearance, each user's interactions in shuffled order.
    public static func split(_ interactions: [Interaction], ratios: SplitRatios = .recBole, seed: UInt64) -> SplitData {
        var result = SplitData()
        result.train.reserveCapacity(Int(Double(interactions.count) * 0.8))
        for (user, list) in groupByUser(dedupe(interactions)) {
            var list = list
            var rng = SplitMix64(seed: Hashing.combine(seed, user))
            for index in stride(from: list.count - 1, to: 0, by: -1) {
                list.swapAt(index, rng.nextInt(below: index + 1))
            }
            let counts = partCounts(list.count, ratios)
            result.train.append(contentsOf: list[0..<counts.train])
            result.valid.append(contentsOf: list[counts.train..<counts.train + counts.valid])
            result.test.append(contentsOf: list[(counts.train + counts.valid)...])
        }
        return result
    }

    /// How many of a user's `n` interactions go to each part (see `split`).
    public static func partCounts(_ n: Int, _ ratios: SplitRatios = .recBole) -> (train: Int, valid: Int, test: Int) {
        let total = ratios.train + ratios.valid + ratios.test
        let shares = [ratios.valid / total, ratios.test / total]
        var counts = shares.map { Int((Double(n) * $0).rounded(.down)) }
        var train = n - counts[0] - counts[1]
        for part in [1, 0] where train > 1 {  // test first, then valid
            let exact = Double(n) * shares[part]
            if exact > 0, exact < 1 {
                counts[part] += 1
                train -= 1
            }
        }
        return (train, counts[0], counts[1])
    }

    /// SASRec's leave-one-out split for sequences: per user, sorted by
    /// timestamp (ties keep input order), the last interaction is test, the one
    /// before it valid, the rest train. Users with fewer than 3 interactions
    /// go to train whole. Repeats are kept (a sequence may revisit an item).
    /// Parts list users in order of first appearance, each in time order.
    public static func leaveOneOut(_ interactions: [Interaction]) -> SplitData {
        var result = SplitData()
        for (_, list) in groupByUser(interactions) {
            // Stable: sort by (timestamp, input position).
            let ordered = list.enumerated()
                .sorted { ($0.element.timestamp, $0.offset) < ($1.element.timestamp, $1.offset) }
                .map(\.element)
            guard ordered.count >= 3 else {
                result.train.append(contentsOf: ordered)
                continue
            }
            result.train.append(contentsOf: ordered.dropLast(2))
            result.valid.append(ordered[ordered.count - 2])
            result.test.append(ordered[ordered.count - 1])
        }
        return result
    }

    /// The first occurrence of each (user, item) pair, in input order.
    public static func dedupe(_ interactions: [Interaction]) -> [Interaction] {
        var seen = Set<Pair>()
        seen.reserveCapacity(interactions.count)
        return interactions.filter { seen.insert(Pair(user: $0.user, item: $0.item)).inserted }
    }

    private struct Pair: Hashable {
        var user: UInt64
        var item: UInt64
    }

    /// Users in order of first appearance with their interactions in input order.
    private static func groupByUser(_ interactions: [Interaction]) -> [(UInt64, [Interaction])] {
        var index: [UInt64: Int] = [:]
        var groups: [(UInt64, [Interaction])] = []
        for interaction in interactions {
            if let position = index[interaction.user] {
                groups[position].1.append(interaction)
            } else {
                index[interaction.user] = groups.count
                groups.append((interaction.user, [interaction]))
            }
        }
        return groups
    }
}
