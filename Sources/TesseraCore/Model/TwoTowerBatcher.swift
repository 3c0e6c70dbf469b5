/// Cuts training interactions into `TwoTowerBatch`es, in a fresh seeded order every epoch,
/// with `negatives` extra candidates per batch drawn uniformly from `items`.
///
/// `batch(epoch:step:)` is a pure function of the seed, the epoch and the step, so workers
/// and replays agree. Value type, `Sendable`.
public struct TwoTowerBatcher: Sendable {
    /// Examples per batch.
    public let batchSize: Int
    /// Extra uniform negatives per batch (0: in-batch negatives only).
    public let negatives: Int
    public let seed: UInt64
    private let examples: [Interaction]
    private let items: [UInt64]

    /// Preconditions: `batchSize >= 1`, `negatives >= 0`, and `items` non-empty when
    /// `negatives > 0`.
    public init(train: [Interaction], items: [UInt64], batchSize: Int, negatives: Int = 0, seed: UInt64) {
        precondition(batchSize >= 1 && negatives >= 0, "batch size \(batchSize), negatives \(negatives)")
        precondition(negatives == 0 || !items.isEmpty, "uniform negatives need an item universe")
        self.examples = train
        self.items = items
        self.batchSize = batchSize
        self.negatives = negatives
        self.seed = seed
    }

    /// Examples held.
    public var exampleCount: Int { examples.count }

    /// Steps that visit every example once.
    public var stepsPerEpoch: Int { (examples.count + batchSize - 1) / batchSize }

    /// Every batch of `epoch`, in order.
    public func batches(epoch: Int) -> [TwoTowerBatch] {
        let order = permutation(epoch: epoch)
        return (0..<stepsPerEpoch).map { makeBatch(order: order, epoch: epoch, step: $0) }
    }

    /// Batch `step` of `epoch`, or nil past the end. Recomputes the epoch's order; use
    /// `batches(epoch:)` to iterate.
    public func batch(epoch: Int, step: Int) -> TwoTowerBatch? {
        guard step >= 0, step < stepsPerEpoch else { return nil }
        return makeBatch(order: permutation(epoch: epoch), epoch: epoch, step: step)
    }

    private func permutation(epoch: Int) -> [Int32] {
        var rng = SplitMix64(seed: Hashing.combine(seed, UInt64(epoch)))
        var order = (0..<Int32(examples.count)).map { $0 }
        for i in stride(from: order.count - 1, to: 0, by: -1) {
            order.swapAt(i, rng.nextInt(below: i + 1))
        }
        return order
    }

    private func makeBatch(order: [Int32], epoch: Int, step: Int) -> TwoTowerBatch {
        let range = (step * batchSize)..<min((step + 1) * batchSize, order.count)
        var rng = SplitMix64(seed: Hashing.combine(Hashing.combine(seed, UInt64(epoch)), UInt64(step) &+ 0x4E45_4741))
        let extra = (0..<negatives).map { _ in items[rng.nextInt(below: items.count)] }
        return TwoTowerBatch(range.map { examples[Int(order[$0])] }, negatives: extra)
    }
}
