import Foundation

/// Makes the built-in data set described by a `SyntheticSpec`, and tells the
/// preferences it planted so simulations can know the truth.
///
/// Everything about a user (vector, item count, choices, times) comes from a
/// random stream seeded by the spec's seed and the user's key alone, so any
/// subset of users is generated identically in any process. Immutable and
/// `Sendable`: share one generator between tasks freely.
public struct SyntheticGenerator: Sendable {
    public let spec: SyntheticSpec
    /// Cluster centres, `clusters × latentDim`, row-major.
    private let centers: [Float]
    /// Item vectors, `items × latentDim`, row-major; item key `k` is row `k - 1`.
    private let itemVectors: [Float]
    /// `popularityAlpha × log(popularity)` per item row.
    private let itemBias: [Float]
    /// Scenario-specific item vectors, scenario-major (empty with one scenario).
    private let scenarioVectors: [Float]

    /// Earliest synthetic timestamp (2020-09-13, seconds since 1970).
    public static let firstTimestamp: Int64 = 1_600_000_000

    /// Builds the item side of the spec (O(items × latentDim)).
    /// - Throws: `DataError` when the spec is out of range (see `SyntheticSpec.validate()`).
    public init(spec: SyntheticSpec = SyntheticSpec()) throws {
        try spec.validate()
        self.spec = spec
        let dim = spec.latentDim
        let scale = 1 / Float(dim).squareRoot()

        var rng = SplitMix64(seed: Hashing.combine(spec.seed, Self.centerStream))
        centers = (0..<spec.clusters * dim).map { _ in rng.nextGaussian() * scale }

        var vectors = [Float](repeating: 0, count: spec.items * dim)
        var ranks = Array(1...spec.items)
        rng = SplitMix64(seed: Hashing.combine(spec.seed, Self.itemStream))
        for row in 0..<spec.items {
            let cluster = rng.nextInt(below: spec.clusters)
            for d in 0..<dim {
                vectors[row * dim + d] = centers[cluster * dim + d] + spec.noise * scale * rng.nextGaussian()
            }
        }
        for index in stride(from: spec.items - 1, to: 0, by: -1) {
            ranks.swapAt(index, rng.nextInt(below: index + 1))
        }
        itemVectors = vectors
        itemBias = ranks.map { -spec.popularityAlpha * Float(log(Double($0))) }
        if spec.scenarios > 1 {
            rng = SplitMix64(seed: Hashing.combine(spec.seed, Self.scenarioStream))
            let strength = spec.scenarioStrength * spec.noise * scale
            scenarioVectors = (0..<spec.scenarios * spec.items * dim).map { _ in strength * rng.nextGaussian() }
        } else {
            scenarioVectors = []
        }
    }

    private static let centerStream: UInt64 = 0xC1_05E7
    private static let itemStream: UInt64 = 0x17E3
    private static let userStream: UInt64 = 0x05E2
    private static let scenarioStream: UInt64 = 0x5CE7

    /// The interactions of every user in `1...users` for which `keepUser` is
    /// true, users in key order and each user's items in time order (strictly
    /// increasing timestamps), rating 1, each in its scenario (0 without
    /// scenarios). `items` is always the whole catalogue `1...items`.
    ///
    /// Cost: O(items × latentDim) per kept user, about 20 ns per user–item
    /// pair in a release build (the defaults take ~20 ms; 100k users × 5k
    /// items take ~10 s on one core).
    public func generate(keepUser: (UInt64) -> Bool = { _ in true }) -> LoadedData {
        var interactions: [Interaction] = []
        var scores = [Float](repeating: 0, count: spec.items)
        for user in 1...UInt64(spec.users) where keepUser(user) {
            var rng = userRandom(user)
            let vector = drawUserVector(&rng)
            let count = drawCount(&rng)
            fillScores(vector, into: &scores)
            // Each interaction's scenario is uniform; each scenario samples its share of the
            // user's items from its own scores, never repeating an item of another scenario.
            var perScenario = [Int](repeating: 0, count: spec.scenarios)
            if spec.scenarios == 1 {
                perScenario[0] = count
            } else {
                for _ in 0..<count { perScenario[rng.nextInt(below: spec.scenarios)] += 1 }
            }
            var taken = Set<Int>()
            var drawn: [(row: Int, scenario: Int)] = []
            for scenario in 0..<spec.scenarios where perScenario[scenario] > 0 {
                var keyed = scores
                if spec.scenarios > 1 { addScenarioScores(vector, scenario: scenario, into: &keyed) }
                // Gumbel-top-k: the largest of score + Gumbel noise are a sample
                // without replacement with probability ∝ exp(score).
                for row in 0..<spec.items {
                    // Uniform in (0, 1) from 24 bits: the Gumbel tail is cut at ~17, far past any draw that matters.
                    let uniform = (Float(rng.next() >> 40) + 0.5) * (1 / Float(1 << 24))
                    keyed[row] = taken.contains(row) ? -.infinity : keyed[row] - log(-log(uniform))
                }
                for pick in TopK.select(keyed, k: perScenario[scenario]) {
                    taken.insert(pick.index)
                    drawn.append((pick.index, scenario))
                }
            }
            // Time order is random, independent of preference.
            for index in stride(from: drawn.count - 1, to: 0, by: -1) {
                drawn.swapAt(index, rng.nextInt(below: index + 1))
            }
            var time = Self.firstTimestamp + Int64(rng.nextInt(below: 30 * 86_400))
            for (row, scenario) in drawn where !spec.isNew(item: UInt64(row + 1)) {
                interactions.append(Interaction(user: user, item: UInt64(row + 1), timestamp: time, scenario: UInt32(scenario)))
                time += 60 + Int64(rng.nextInt(below: 2 * 86_400))
            }
        }
        return LoadedData(
            interactions: interactions,
            items: (1...UInt64(spec.items)).map { $0 },
            source: "synthetic (users: \(spec.users), items: \(spec.items), seed: \(spec.seed))")
    }

    /// The planted vector of a user, or nil when `user` is not in `1...users`.
    public func userVector(_ user: UInt64) -> [Float]? {
        guard user >= 1, user <= UInt64(spec.users) else { return nil }
        var rng = userRandom(user)
        return drawUserVector(&rng)
    }

    /// The planted vector of an item, or nil when `item` is not in `1...items`.
    public func itemVector(_ item: UInt64) -> [Float]? {
        guard item >= 1, item <= UInt64(spec.items) else { return nil }
        let start = Int(item - 1) * spec.latentDim
        return Array(itemVectors[start..<start + spec.latentDim])
    }

    /// The log of the (unnormalised) probability that the generator picks
    /// `item` for `user`: `u·v / temperature + popularityAlpha × log(popularity)`.
    /// Ranking items by it is the best possible ranking. Nil for unknown keys.
    public func preferenceScore(user: UInt64, item: UInt64) -> Float? {
        guard let vector = userVector(user), item >= 1, item <= UInt64(spec.items) else { return nil }
        let row = Int(item - 1)
        return dot(vector, row) * (1 / spec.temperature) + itemBias[row]
    }

    /// `preferenceScore(user:item:)` for every item, index `item - 1`; nil for an unknown user.
    public func preferenceScores(user: UInt64) -> [Float]? {
        guard let vector = userVector(user) else { return nil }
        var scores = [Float](repeating: 0, count: spec.items)
        fillScores(vector, into: &scores)
        return scores
    }

    private func userRandom(_ user: UInt64) -> SplitMix64 {
        SplitMix64(seed: Hashing.combine(Hashing.combine(spec.seed, Self.userStream), user))
    }

    private func drawUserVector(_ rng: inout SplitMix64) -> [Float] {
        let dim = spec.latentDim
        let scale = spec.noise / Float(dim).squareRoot()
        let cluster = rng.nextInt(below: spec.clusters)
        return (0..<dim).map { d in centers[cluster * dim + d] + scale * rng.nextGaussian() }
    }

    private func drawCount(_ rng: inout SplitMix64) -> Int {
        let sigma = 0.5
        let factor = exp(sigma * Double(rng.nextGaussian()) - sigma * sigma / 2)
        let count = Int((Double(spec.interactionsPerUser) * factor).rounded())
        let low = min(spec.minInteractionsPerUser, spec.items)
        return min(max(count, low), spec.items)
    }

    private func fillScores(_ vector: [Float], into scores: inout [Float]) {
        let inverse = 1 / spec.temperature
        let dim = spec.latentDim
        vector.withUnsafeBufferPointer { u in
            itemVectors.withUnsafeBufferPointer { items in
                itemBias.withUnsafeBufferPointer { bias in
                    scores.withUnsafeMutableBufferPointer { out in
                        for row in 0..<out.count {
                            out[row] = Self.dot(u, items, row * dim, dim) * inverse + bias[row]
                        }
                    }
                }
            }
        }
    }

    /// Adds the scenario-specific part `u·w[s][i] / temperature` to every item's score.
    private func addScenarioScores(_ vector: [Float], scenario: Int, into scores: inout [Float]) {
        let inverse = 1 / spec.temperature
        let dim = spec.latentDim
        let base = scenario * spec.items * dim
        vector.withUnsafeBufferPointer { u in
            scenarioVectors.withUnsafeBufferPointer { w in
                scores.withUnsafeMutableBufferPointer { out in
                    for row in 0..<out.count {
                        out[row] += Self.dot(u, w, base + row * dim, dim) * inverse
                    }
                }
            }
        }
    }

    /// The planted score of `item` for `user` in `scenario` (the scenario-blind score plus
    /// the scenario's own part); nil for unknown keys or scenarios.
    public func preferenceScore(user: UInt64, item: UInt64, scenario: Int) -> Float? {
        guard var score = preferenceScore(user: user, item: item) else { return nil }
        guard spec.scenarios > 1 else { return scenario == 0 ? score : nil }
        guard scenario >= 0, scenario < spec.scenarios, let vector = userVector(user) else { return nil }
        let dim = spec.latentDim
        vector.withUnsafeBufferPointer { u in
            scenarioVectors.withUnsafeBufferPointer { w in
                score += Self.dot(u, w, scenario * spec.items * dim + Int(item - 1) * dim, dim) / spec.temperature
            }
        }
        return score
    }

    private func dot(_ vector: [Float], _ row: Int) -> Float {
        vector.withUnsafeBufferPointer { u in
            itemVectors.withUnsafeBufferPointer { items in
                Self.dot(u, items, row * spec.latentDim, spec.latentDim)
            }
        }
    }

    /// `u · items[base..<base + dim]`, the one dot product used everywhere so
    /// that scores agree bit for bit.
    @inline(__always)
    private static func dot(
        _ u: UnsafeBufferPointer<Float>, _ items: UnsafeBufferPointer<Float>, _ base: Int, _ dim: Int
    ) -> Float {
        var sum: Float = 0
        for d in 0..<dim {
            sum += u[d] * items[base + d]
        }
        return sum
    }
}
