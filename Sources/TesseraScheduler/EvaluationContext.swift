import TesseraCore

/// One set the model is judged on: which users, what each query is built from, and how
/// their lists are scored.
struct EvaluationPart: Sendable {
    enum Protocol_: Sendable {
        /// Rank the whole catalogue (masking the user's training items).
        case full(EvaluationSet)
        /// Rank the held-out item against sampled negatives.
        case sampled(SASRecEvaluationSet, SampledRankingEvaluator)
    }

    /// "valid", "test", or "valid/<scenario>", "test/<scenario>".
    let name: String
    let scoring: Protocol_
    /// One per row of the set (full: `set.users`; sampled: `set.users`). Rows that the
    /// metrics skip (no relevant item) have no query and get a zero vector.
    let queries: [RetrievalModel.Query?]
    /// The popularity baseline on this part.
    let popularity: EvaluationResult
    /// Full ranking within a scenario: the positions in `data.items` of the set's items
    /// (nil: the set ranks every item, in `data.items` order).
    let itemIndices: [Int]?
}

/// The scheduler's view of the data: the full split, the model, and the evaluation parts,
/// built once and reused every epoch.
///
/// Data with several scenarios is judged per scenario (each scenario's held-out
/// interactions, the query in that scenario) and the part's metrics are the mean over
/// scenarios. A scenario's candidates are the items that occur in it (MovieLens genre
/// scenarios partition the catalogue; synthetic scenarios share it); a scenario with fewer than `minScenarioUsers` held-out users in a split is
/// left out of that split (its mean would be noise). Otherwise there is one validation and
/// one test part.
struct EvaluationContext: Sendable {
    let data: PreparedData
    let model: RetrievalModel
    /// Validation parts (empty when the data has no validation part).
    let valid: [EvaluationPart]
    /// Test parts.
    let test: [EvaluationPart]
    /// Popularity baseline metrics by split ("valid", "test"), averaged like the model's.
    let popularity: [String: EvaluationResult]
    /// Users with training data.
    let trainUsers: [UInt64]
    /// Users that appear anywhere in the data.
    let userCount: Int

    /// The parts epochs are judged on: validation, or test when there is none.
    var monitor: [EvaluationPart] { valid.isEmpty ? test : valid }
    var monitorName: String { valid.isEmpty ? "test" : "valid" }
    /// The single full-ranking test set, when there is one (for exported lists).
    var singleTestSet: EvaluationSet? {
        guard test.count == 1, case .full(let set) = test[0].scoring else { return nil }
        return set
    }

    static let minScenarioUsers = 20

    init(data: PreparedData, config: ClusterConfig) throws {
        self.data = data
        model = try RetrievalModel.make(config: config, data: data)
        let settings = config.evaluation
        var seen: Set<UInt64> = []
        var trainUsers: [UInt64] = []
        for interaction in data.train where seen.insert(interaction.user).inserted { trainUsers.append(interaction.user) }
        self.trainUsers = trainUsers
        userCount = seen.union(data.valid.map(\.user)).union(data.test.map(\.user)).count

        let histories = model.usesHistory ? Self.histories(data.train) : [:]
        let validHistories = model.usesHistory ? Self.histories(data.train + data.valid) : [:]
        var valid: [EvaluationPart] = [], test: [EvaluationPart] = []
        switch settings.protocol {
        case .sampled:
            let evaluator = try SampledRankingEvaluator(k: settings.k, negatives: settings.negatives,
                                                        maxUsers: settings.maxUsers > 0 ? settings.maxUsers : 10_000)
            let sequences = SequenceData(split: SplitData(train: data.train, valid: data.valid, test: data.test), items: data.items)
            let popularity = Popularity(items: data.items, train: data.train)
            for (target, name) in [(SequenceData.Target.validation, "valid"), (.test, "test")] {
                let set = SASRecEvaluationSet(data: sequences, target: target, evaluator: evaluator)
                guard !set.users.isEmpty else { continue }
                let queries = zip(set.users, set.histories).map { RetrievalModel.Query(user: $0, history: $1) }
                let part = EvaluationPart(name: name, scoring: .sampled(set, evaluator), queries: queries,
                                          popularity: Self.sampledPopularity(set, evaluator: evaluator, popularity: popularity),
                                          itemIndices: nil)
                if target == .validation { valid.append(part) } else { test.append(part) }
            }
        case .full:
            let evaluator = try FullRankingEvaluator(k: settings.k, beyondAccuracy: true)
            let scenarios: [(name: String, id: Int?)] = data.scenarioNames.count > 1
                ? data.scenarioNames.enumerated().map { ($1, $0) } : [("", nil)]
            let sampled = Self.sampleUsers(Set(data.valid.map(\.user)).union(data.test.map(\.user)), settings: settings)
            for (scenarioName, id) in scenarios {
                func held(_ part: [Interaction]) -> [Interaction] { id.map { s in part.filter { $0.scenario == s } } ?? part }
                let suffix = scenarioName.isEmpty ? "" : "/\(scenarioName)"
                let heldValid = held(data.valid), heldTest = held(data.test)
                let enough = { (part: [Interaction]) in id == nil || Set(part.map(\.user)).count >= Self.minScenarioUsers }
                func users(_ heldOut: [Interaction]) -> [UInt64]? {
                    let present = Set(heldOut.map(\.user))
                    return sampled.map { $0.filter { present.contains($0) } }
                }
                // The scenario's catalogue: the items that occur in it, in `data.items` order.
                let itemIndices: [Int]? = id.map { s in
                    let present = Set((data.train + data.valid + data.test).lazy.filter { $0.scenario == s }.map(\.item))
                    return data.items.indices.filter { present.contains(data.items[$0]) }
                }
                let items = itemIndices.map { $0.map { data.items[$0] } } ?? data.items
                func part(_ name: String, _ set: EvaluationSet, history: [UInt64: [UInt64]]) -> EvaluationPart {
                    let queries: [RetrievalModel.Query?] = set.users.indices.map { row in
                        set.relevant(ofUser: row).isEmpty ? nil
                            : RetrievalModel.Query(user: set.users[row], history: history[set.users[row]] ?? [], scenario: id ?? 0)
                    }
                    return EvaluationPart(name: name + suffix, scoring: .full(set), queries: queries,
                                          popularity: Popularity(set).evaluate(set, with: evaluator), itemIndices: itemIndices)
                }
                if !heldValid.isEmpty && enough(heldValid) {
                    let set = EvaluationSet(items: items, train: data.train, heldOut: heldValid, users: users(heldValid))
                    valid.append(part("valid", set, history: histories))
                }
                if enough(heldTest) && (!heldTest.isEmpty || id == nil) {
                    let set = EvaluationSet(items: items, train: data.train, heldOut: heldTest, extraMask: data.valid,
                                            users: users(heldTest))
                    test.append(part("test", set, history: validHistories))
                }
            }
        }
        self.valid = valid
        self.test = test
        var popularity: [String: EvaluationResult] = [:]
        if !valid.isEmpty { popularity["valid"] = Self.mean(valid.map(\.popularity)) }
        if !test.isEmpty { popularity["test"] = Self.mean(test.map(\.popularity)) }
        self.popularity = popularity
    }

    /// The mean of per-part results (one part: that part's result).
    static func mean(_ results: [EvaluationResult]) -> EvaluationResult {
        guard results.count > 1 else { return results.first ?? EvaluationResult(users: 0, k: 0, metrics: [:]) }
        var metrics: [String: Double] = [:]
        for result in results {
            for (key, value) in result.metrics { metrics[key, default: 0] += value / Double(results.count) }
        }
        return EvaluationResult(users: results.reduce(0) { $0 + $1.users }, k: results[0].k, metrics: metrics)
    }

    /// Each user's items in time order (input order among equal timestamps).
    static func histories(_ interactions: [Interaction]) -> [UInt64: [UInt64]] {
        var byUser: [UInt64: [(Int64, Int, UInt64)]] = [:]
        for (position, interaction) in interactions.enumerated() {
            byUser[interaction.user, default: []].append((interaction.timestamp, position, interaction.item))
        }
        return byUser.mapValues { list in list.sorted { ($0.0, $0.1) < ($1.0, $1.1) }.map(\.2) }
    }

    /// Popularity under the sampled protocol: candidates ranked by training count.
    private static func sampledPopularity(_ set: SASRecEvaluationSet, evaluator: SampledRankingEvaluator,
                                          popularity: Popularity) -> EvaluationResult {
        let keys = set.candidateKeys
        let counts = Dictionary(uniqueKeysWithValues: zip(popularity.items, popularity.counts))
        let rows = keys.map { Float(counts[$0] ?? 0) }
        return evaluator.evaluate(userVectors: [Float](repeating: 1, count: set.users.count), candidates: set.candidates,
                                  itemKeys: keys, itemRows: rows, dim: 1)
    }

    /// At most `settings.maxUsers` users, drawn with a fixed seed; nil means all.
    private static func sampleUsers(_ users: Set<UInt64>, settings: EvaluationSettings) -> [UInt64]? {
        guard settings.maxUsers > 0, users.count > settings.maxUsers else { return nil }
        var sorted = users.sorted()
        var rng = SplitMix64(seed: 0xE7A1)
        for i in stride(from: sorted.count - 1, to: 0, by: -1) { sorted.swapAt(i, rng.nextInt(below: i + 1)) }
        return Array(sorted.prefix(settings.maxUsers)).sorted()
    }
}
