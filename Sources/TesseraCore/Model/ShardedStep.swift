/// One training step of any `ShardedModel`: pull every table the batch needs
/// (all at once), compute the gradients, push them (all at once).
public enum ShardedStep {
    /// Runs `batch` through `model` on `parameters`.
    ///
    /// - Parameter dims: the row dimension of each table the model uses.
    public static func train<M: ShardedModel>(_ model: M, batch: M.Batch, dims: [String: Int], seed: UInt64,
                                              on parameters: some ParameterAccess) async throws -> StepStats {
        let clock = ContinuousClock()
        let keys = model.keys(for: batch)
        let pullStart = clock.now
        let rows = try await parameters.pull(keys, dims: dims)
        let pulled = clock.now - pullStart
        let step = try model.gradients(for: batch, rows: rows, seed: seed)
        let pushStart = clock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (table, gradients) in step.gradients {
                guard let tableKeys = keys[table], let dim = dims[table] else { continue }
                group.addTask { try await parameters.push(table: table, keys: tableKeys, gradients: gradients, dim: dim) }
            }
            try await group.waitForAll()
        }
        var stats = StepStats()
        stats.examples = step.examples
        stats.lossSum = step.lossSum
        stats.communicationSeconds = (pulled + (clock.now - pushStart)).seconds
        return stats
    }
}

/// A model that cannot run as configured.
public struct ModelError: Error, Sendable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
