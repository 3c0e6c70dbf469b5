/// What one training step did.
public struct StepStats: Sendable {
    /// Positive examples trained.
    public var examples = 0
    /// Sum of their loss.
    public var lossSum = 0.0
    /// Seconds waiting on pulls and pushes.
    public var communicationSeconds = 0.0

    public init() {}

    public mutating func add(_ other: StepStats) {
        examples += other.examples
        lossSum += other.lossSum
        communicationSeconds += other.communicationSeconds
    }
}

/// Trains matrix factorization over one worker's examples, one step at a time.
///
/// Each epoch visits the examples in a fresh seeded order. A step pulls the
/// batch's user and item rows (both tables at once), computes the loss
/// gradients, and pushes them. The caller drives the steps, so it can put a
/// barrier between them (BSP) or not (ASP).
public struct MFTrainer: Sendable {
    public let model: ModelSettings
    public let dim: Int
    public let batchSize: Int
    public let seed: UInt64
    private let examples: [Interaction]
    private let sampler: NegativeSampler
    private var order: [Int32] = []
    private var rng = SplitMix64(seed: 0)

    /// - Parameters:
    ///   - train: this worker's training interactions.
    ///   - items: the item universe to sample negatives from.
    public init(model: ModelSettings, dim: Int, batchSize: Int, seed: UInt64, train: [Interaction], items: [UInt64]) {
        precondition(batchSize > 0 && dim > 0)
        self.model = model
        self.dim = dim
        self.batchSize = batchSize
        self.seed = seed
        self.examples = train
        self.sampler = NegativeSampler(items: items.isEmpty ? [0] : items, train: train)
    }

    /// Examples this trainer holds.
    public var exampleCount: Int { examples.count }

    /// Steps needed to visit every example once.
    public var stepsPerEpoch: Int { (examples.count + batchSize - 1) / batchSize }

    /// Shuffles the examples for `epoch`; the same epoch and seed give the same order.
    public mutating func beginEpoch(_ epoch: Int) {
        rng = SplitMix64(seed: Hashing.combine(seed, UInt64(epoch)))
        order = (0..<Int32(examples.count)).map { $0 }
        for i in stride(from: order.count - 1, to: 0, by: -1) {
            order.swapAt(i, rng.nextInt(below: i + 1))
        }
    }

    /// The batch of step `step` in this epoch, or nil past the end of the data.
    public mutating func batch(step: Int) -> MFBatch? {
        let start = step * batchSize
        guard start < order.count else { return nil }
        let slice = order[start..<min(start + batchSize, order.count)].map { examples[Int($0)] }
        return sampler.batch(slice[...], negatives: model.negatives, using: &rng)
    }

    /// Pulls, computes and pushes one batch through `parameters`.
    public func train(_ batch: MFBatch, on parameters: some ParameterAccess) async throws -> StepStats {
        let clock = ContinuousClock()
        let pullStart = clock.now
        async let userRows = parameters.pull(table: model.userTable, keys: batch.userKeys, dim: dim)
        async let itemRows = parameters.pull(table: model.itemTable, keys: batch.itemKeys, dim: dim)
        let (users, items) = try await (userRows, itemRows)
        let pullTime = clock.now - pullStart

        let gradients = MatrixFactorization.gradients(kind: model.kind, batch: batch, userRows: users, itemRows: items,
                                                      dim: dim, l2: model.l2)

        let pushStart = clock.now
        async let pushUsers: Void = parameters.push(table: model.userTable, keys: batch.userKeys, gradients: gradients.users, dim: dim)
        async let pushItems: Void = parameters.push(table: model.itemTable, keys: batch.itemKeys, gradients: gradients.items, dim: dim)
        _ = try await (pushUsers, pushItems)
        let pushTime = clock.now - pushStart

        var stats = StepStats()
        stats.examples = batch.count
        stats.lossSum = gradients.lossSum
        stats.communicationSeconds = (pullTime + pushTime).seconds
        return stats
    }
}

extension Duration {
    /// This duration in seconds.
    public var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) * 1e-18
    }
}
