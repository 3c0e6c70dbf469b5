/// Runs an exploration policy against a `SimulatedPopulation` round by round,
/// with no server, and measures its regret: the offline counterpart of the
/// serving path (`tessera simulate`).
///
/// Each round: a user is drawn uniformly; the model's top
/// `modelCandidateCount(k)` items for that user (by `modelScores`, items
/// without a score never) become model candidates; `explorePoolCount(k)` more
/// items form the pool: a third the least-shown items (cold), a third the
/// items with the best `clicks/(impressions + 2)` so far (hot), and the rest
/// drawn uniformly, none of them model candidates; the ranker picks k of
/// them; clicks are drawn from the population; the item and (group, item)
/// counters are updated; and the round is recorded against the oracle's best
/// k of all items. Users may see an item again (no exclusion). Users belong
/// to `groups` groups, by a hash of their key unless the caller assigns them.
///
/// Without the hot source an item the model cannot score (or scores low)
/// would return to the candidates only by chance once it has left the cold
/// end, and no policy could exploit what it learned about it.
///
/// The user sequence, the pool draws and the click draws come from separate
/// streams of `seed`, so different policies meet the same users in the same
/// order (common random numbers), and a run is reproducible.
public struct ExplorationSimulator: Sendable {
    /// The shape of a run.
    public struct Settings: Sendable, Codable, Hashable {
        public var rounds: Int
        /// Items shown per round.
        public var k: Int
        /// Number of user groups for the group counters (≥ 1).
        public var groups: Int
        /// Checkpoints kept in the summary.
        public var checkpoints: Int
        public var seed: UInt64

        public init(rounds: Int = 2000, k: Int = 5, groups: Int = 8, checkpoints: Int = 10, seed: UInt64 = 1) {
            self.rounds = rounds
            self.k = k
            self.groups = groups
            self.checkpoints = checkpoints
            self.seed = seed
        }
    }

    public let population: SimulatedPopulation
    public let settings: Settings
    /// `users × items`, aligned with `population`; NaN where the model has no vector.
    private let modelScores: [Float]
    /// The group of each user, aligned with `population.users`.
    private var userGroups: [Int]
    private let itemColumn: [UInt64: Int]

    /// - Parameter modelScores: the model's score of every (user, item) of
    ///   `population`, row-major in its `users` × `items` order; NaN (or any
    ///   non-finite value) for an item the model has no vector for ("new").
    /// - Throws: `ExplorationError` (`.invalidArgument`) for a matrix of the
    ///   wrong size or settings out of range.
    public init(population: SimulatedPopulation, modelScores: [Float], settings: Settings = Settings())
        throws(ExplorationError) {
        guard modelScores.count == population.users.count * population.items.count else {
            throw ExplorationError(.invalidArgument, "modelScores must hold \(population.users.count)×"
                                   + "\(population.items.count) values, got \(modelScores.count)")
        }
        guard settings.rounds >= 0, settings.k >= 1, settings.groups >= 1 else {
            throw ExplorationError(.invalidArgument, "a simulation needs rounds >= 0, k >= 1 and groups >= 1, got "
                                   + "\(settings.rounds), \(settings.k) and \(settings.groups)")
        }
        self.population = population
        self.settings = settings
        self.modelScores = modelScores.map { $0.isFinite ? $0 : .nan }
        userGroups = population.users.map { Int(Hashing.mix64($0) % UInt64(settings.groups)) }
        itemColumn = population.itemColumns
    }

    /// Like `init(population:modelScores:settings:)`, with each user's group
    /// given (aligned with `population.users`, each in `0..<settings.groups`),
    /// e.g. by the direction of the user's vector as the server groups users.
    public init(population: SimulatedPopulation, modelScores: [Float], userGroups: [Int],
                settings: Settings = Settings()) throws(ExplorationError) {
        try self.init(population: population, modelScores: modelScores, settings: settings)
        guard userGroups.count == population.users.count,
              userGroups.allSatisfy({ $0 >= 0 && $0 < settings.groups }) else {
            throw ExplorationError(.invalidArgument, "userGroups must hold one group in 0..<\(settings.groups) "
                                   + "per user (\(population.users.count)), got \(userGroups.count) values")
        }
        self.userGroups = userGroups
    }

    /// Runs `settings.rounds` rounds of `ranker` from empty counters.
    public func run(_ ranker: ExplorationRanker) -> RegretSummary {
        let itemCount = population.items.count
        let k = settings.k
        var userStream = SplitMix64(seed: Hashing.combine(settings.seed, 1))
        var poolStream = SplitMix64(seed: Hashing.combine(settings.seed, 2))
        var clickStream = SplitMix64(seed: Hashing.combine(settings.seed, 3))
        var policyStream = SplitMix64(seed: Hashing.combine(settings.seed, 4))
        var impressions = [Double](repeating: 0, count: itemCount)
        var clicks = [Double](repeating: 0, count: itemCount)
        var groupImpressions = [Double](repeating: 0, count: settings.groups * itemCount)
        var groupClicks = [Double](repeating: 0, count: settings.groups * itemCount)
        // Pool orders, updated for the shown items only: −impressions (cold) and clicks/(impressions + 2) (hot).
        var coldness = [Float](repeating: 0, count: itemCount)
        var hotness = [Float](repeating: 0, count: itemCount)
        var totalImpressions = 0.0
        var tracker = RegretTracker(plannedRounds: settings.rounds, checkpoints: settings.checkpoints)
        let modelCount = ranker.settings.modelCandidateCount(k: k)
        let poolCount = ranker.settings.explorePoolCount(k: k)
        // The model and the truth do not change during a run: each user's model top list and oracle value are kept.
        var topCache = [[ScoredItem]?](repeating: nil, count: population.users.count)
        var oracleCache = [Double?](repeating: nil, count: population.users.count)
        var candidates: [ExplorationCandidate] = []
        var taken: [Int32] = []
        var inList = [Bool](repeating: false, count: itemCount)

        for _ in 0..<settings.rounds {
            let row = userStream.nextInt(below: population.users.count)
            let user = population.users[row]
            let group = userGroups[row]
            let base = row * itemCount
            let top = topCache[row] ?? modelScores.withUnsafeBufferPointer { scores in
                TopK.select(UnsafeBufferPointer(rebasing: scores[base..<base + itemCount]), k: modelCount,
                            excluding: UnsafeBufferPointer(start: nil, count: 0))
            }
            topCache[row] = top
            taken = top.map { Int32($0.index) }
            taken.sort()
            let cold = Self.best(coldness, count: poolCount / 3, excluding: &taken)
            let hot = Self.best(hotness, count: poolCount / 3, excluding: &taken)
            for index in taken { inList[Int(index)] = true }
            var random: [Int] = []
            while random.count < poolCount - cold.count - hot.count && random.count + taken.count < itemCount {
                let index = poolStream.nextInt(below: itemCount)
                if !inList[index] {
                    inList[index] = true
                    random.append(index)
                }
            }
            for index in taken { inList[Int(index)] = false }
            for index in random { inList[index] = false }

            candidates.removeAll(keepingCapacity: true)
            func add(_ index: Int, _ source: ExplorationCandidate.Source) {
                let score = modelScores[base + index]
                let g = group * itemCount + index
                candidates.append(ExplorationCandidate(
                    item: population.items[index], modelScore: score.isNaN ? nil : score, source: source,
                    impressions: impressions[index], clicks: clicks[index],
                    groupImpressions: groupImpressions[g], groupClicks: groupClicks[g]))
            }
            for entry in top { add(entry.index, .model) }
            for index in cold { add(index, .pool) }
            for index in hot { add(index, .pool) }
            for index in random { add(index, .pool) }

            let ranked = ranker.rank(candidates, k: k, totalImpressions: totalImpressions, using: &policyStream)
            var shown: [UInt64] = []
            shown.reserveCapacity(ranked.count)
            var expected = 0.0, clicked = 0.0
            for entry in ranked {
                guard let index = itemColumn[entry.item] else { continue }
                let g = group * itemCount + index
                let p = Double(population.probabilities[base + index])
                let click = clickStream.nextUnitDouble() < p
                shown.append(entry.item)
                expected += p
                impressions[index] += 1
                groupImpressions[g] += 1
                if click {
                    clicks[index] += 1
                    groupClicks[g] += 1
                    clicked += 1
                }
                coldness[index] = Float(-impressions[index])
                hotness[index] = Float(clicks[index] / (impressions[index] + 2))
            }
            totalImpressions += Double(shown.count)
            let oracle = oracleCache[row] ?? population.oracle(user: user, k: k).expectedClicks
            oracleCache[row] = oracle
            tracker.record(clicks: clicked, expected: expected, oracle: oracle, impressions: shown.count)
        }
        return tracker.summary
    }

    /// The `count` indices of the highest `values` not in `taken` (ties by
    /// index); adds them to `taken`, which stays sorted.
    private static func best(_ values: [Float], count: Int, excluding taken: inout [Int32]) -> [Int] {
        guard count > 0 else { return [] }
        let picked = TopK.select(values, k: count, excluding: taken).map(\.index)
        taken += picked.map(Int32.init)
        taken.sort()
        return picked
    }
}
