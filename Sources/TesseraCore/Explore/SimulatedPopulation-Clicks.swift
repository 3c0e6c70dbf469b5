/// Click probabilities, simulated clicks and the oracle list.
extension SimulatedPopulation {
    /// The best list the population allows and its expected clicks.
    public struct OracleList: Sendable, Hashable {
        /// The eligible items with the highest true click probability, best first.
        public var items: [UInt64]
        /// Σ p(user, item) over `items`.
        public var expectedClicks: Double
    }

    /// The true click probability of `item` for `user`; nil when either is not in the population.
    public func clickProbability(user: UInt64, item: UInt64) -> Double? {
        guard let row = userRows[user], let column = itemColumns[item] else { return nil }
        return Double(probabilities[row * items.count + column])
    }

    /// The true click probabilities of every item (in `items` order) for `user`; nil for an unknown user.
    public func clickProbabilities(user: UInt64) -> ArraySlice<Float>? {
        guard let row = userRows[user] else { return nil }
        return probabilities[row * items.count..<(row + 1) * items.count]
    }

    /// Σ p(user, item) over `shown`: the expected clicks of a list. Items or
    /// users outside the population count 0.
    public func expectedClicks(user: UInt64, shown: [UInt64]) -> Double {
        shown.reduce(0) { $0 + (clickProbability(user: user, item: $1) ?? 0) }
    }

    /// One independent Bernoulli click draw per shown item (aligned with
    /// `shown`; one uniform draw each, so lists of equal length consume the
    /// same randomness). Items or users outside the population never click.
    public func drawClicks(user: UInt64, shown: [UInt64], using rng: inout SplitMix64) -> [Bool] {
        shown.map { item in
            let u = rng.nextUnitDouble()
            return u < (clickProbability(user: user, item: item) ?? 0)
        }
    }

    /// The k items with the highest true click probability for `user`, none
    /// in `excluded` (e.g. items the user has already seen); ties by item order.
    /// Empty for an unknown user. O(items) per call.
    public func oracle(user: UInt64, k: Int, excluding excluded: Set<UInt64> = []) -> OracleList {
        guard let row = userRows[user], k > 0 else { return OracleList(items: [], expectedClicks: 0) }
        let mask = excluded.compactMap { itemColumns[$0].map(Int32.init) }.sorted()
        let start = row * items.count
        let top = probabilities.withUnsafeBufferPointer { all in
            mask.withUnsafeBufferPointer { mask in
                TopK.select(UnsafeBufferPointer(rebasing: all[start..<start + items.count]), k: k, excluding: mask)
            }
        }
        return OracleList(items: top.map { items[$0.index] },
                          expectedClicks: top.reduce(0) { $0 + Double($1.score) })
    }

    /// The k items of `eligible` with the highest true click probability for
    /// `user` (items outside the population are skipped; ties by order in `eligible`).
    public func oracle(user: UInt64, k: Int, among eligible: [UInt64]) -> OracleList {
        guard userRows[user] != nil, k > 0 else { return OracleList(items: [], expectedClicks: 0) }
        var seen = Set<UInt64>()
        let scored = eligible.enumerated().compactMap { position, item -> (Int, UInt64, Double)? in
            guard seen.insert(item).inserted, let p = clickProbability(user: user, item: item) else { return nil }
            return (position, item, p)
        }
        let best = scored.sorted { $0.2 > $1.2 || ($0.2 == $1.2 && $0.0 < $1.0) }.prefix(k)
        return OracleList(items: best.map(\.1), expectedClicks: best.reduce(0) { $0 + $1.2 })
    }

    /// All items, by their mean true click probability over the population's
    /// users, highest first (ties by item order). Handy for choosing "new"
    /// items that the population would like.
    public func itemsByMeanClickProbability() -> [UInt64] {
        var sums = [Double](repeating: 0, count: items.count)
        for row in 0..<users.count {
            for column in 0..<items.count { sums[column] += Double(probabilities[row * items.count + column]) }
        }
        return items.indices.sorted { sums[$0] > sums[$1] || (sums[$0] == sums[$1] && $0 < $1) }.map { items[$0] }
    }
}
