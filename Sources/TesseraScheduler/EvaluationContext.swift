import TesseraCore

/// The scheduler's view of the data: the full split and the evaluation sets,
/// built once and reused every epoch.
struct EvaluationContext: Sendable {
    let data: PreparedData
    /// Validation set (masks train), if the data has a validation part.
    let valid: EvaluationSet?
    /// Test set (masks train and validation).
    let test: EvaluationSet
    /// Users with training data: the users Recommend knows.
    let trainUsers: [UInt64]
    /// Every user whose vector an evaluation needs: train users, then any
    /// held-out user without training data.
    let modelUsers: [UInt64]
    let modelUserRow: [UInt64: Int]
    /// Popularity baseline metrics by part ("valid", "test").
    let popularity: [String: EvaluationResult]

    /// The set epochs are judged on: validation, or test when there is none.
    var monitor: EvaluationSet { valid ?? test }
    var monitorName: String { valid == nil ? "test" : "valid" }

    init(data: PreparedData, settings: EvaluationSettings) throws {
        self.data = data
        let validUsers = Set(data.valid.map(\.user))
        let testUsers = Set(data.test.map(\.user))
        let sampled = Self.sampleUsers(validUsers.union(testUsers), settings: settings)
        valid = data.valid.isEmpty ? nil : EvaluationSet(
            items: data.items, train: data.train, heldOut: data.valid,
            users: sampled.map { users in users.filter { validUsers.contains($0) } })
        test = EvaluationSet(items: data.items, train: data.train, heldOut: data.test, extraMask: data.valid,
                             users: sampled.map { users in users.filter { testUsers.contains($0) } })
        var seen: Set<UInt64> = []
        var trainUsers: [UInt64] = []
        for interaction in data.train where seen.insert(interaction.user).inserted {
            trainUsers.append(interaction.user)
        }
        self.trainUsers = trainUsers
        var modelUsers = trainUsers
        for user in (valid?.users ?? []) + test.users where seen.insert(user).inserted {
            modelUsers.append(user)
        }
        self.modelUsers = modelUsers
        var rows: [UInt64: Int] = [:]
        for (row, user) in modelUsers.enumerated() { rows[user] = row }
        modelUserRow = rows

        let evaluator = try FullRankingEvaluator(k: settings.k, beyondAccuracy: true)
        var popularity: [String: EvaluationResult] = [:]
        if let valid { popularity["valid"] = Popularity(valid).evaluate(valid, with: evaluator) }
        popularity["test"] = Popularity(test).evaluate(test, with: evaluator)
        self.popularity = popularity
    }

    /// At most `settings.maxUsers` users, drawn with a fixed seed; nil means all.
    private static func sampleUsers(_ users: Set<UInt64>, settings: EvaluationSettings) -> [UInt64]? {
        guard settings.maxUsers > 0, users.count > settings.maxUsers else { return nil }
        var sorted = users.sorted()
        var rng = SplitMix64(seed: 0xE7A1)
        for i in stride(from: sorted.count - 1, to: 0, by: -1) { sorted.swapAt(i, rng.nextInt(below: i + 1)) }
        return Array(sorted.prefix(settings.maxUsers)).sorted()
    }

    /// Rows of `set.users` gathered from vectors in `modelUsers` order.
    func userVectors(for set: EvaluationSet, from all: [Float], dim: Int) -> [Float] {
        var out = [Float](repeating: 0, count: set.users.count * dim)
        all.withUnsafeBufferPointer { source in
            out.withUnsafeMutableBufferPointer { target in
                for (row, user) in set.users.enumerated() {
                    guard let from = modelUserRow[user] else { continue }
                    (target.baseAddress! + row * dim).update(from: source.baseAddress! + from * dim, count: dim)
                }
            }
        }
        return out
    }
}
