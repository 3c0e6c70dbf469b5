/// One worker's training over its share of the data, step by step, for any model kind.
///
/// The scheduler runs `max(stepsPerEpoch)` steps over the workers each epoch (a worker
/// whose data ran out returns nil), so BSP barriers line up; `beginEpoch` reshuffles with
/// a seed of the epoch, so a replayed epoch is the same epoch.
public protocol EpochTrainer: Sendable {
    /// Training examples this worker holds (positions for sequences), for progress.
    var exampleCount: Int { get }
    /// Steps that visit every example once.
    var stepsPerEpoch: Int { get }
    mutating func beginEpoch(_ epoch: Int)
    /// Pulls, computes and pushes step `step` of the current epoch; nil past the end of the data.
    mutating func trainStep(_ step: Int, on parameters: some ParameterAccess) async throws -> StepStats?
}

extension RetrievalModel {
    /// The trainer for this worker's `data` (its users' training interactions).
    ///
    /// - Parameters:
    ///   - dims: every table's row dimension.
    ///   - seed: the job's training seed; workers mix in their id where order must differ.
    public func trainer(config: ClusterConfig, data: PreparedData, dims: [String: Int], seed: UInt64,
                        workerID: Int) -> any EpochTrainer {
        let batchSize = config.training.batchSize
        let workerSeed = Hashing.combine(seed, UInt64(workerID))
        switch self {
        case .matrixFactorization(let settings, let dim):
            // The ranking stage is fitted after retrieval, by the scheduler (`RankerFitting`).
            return MFEpochTrainer(trainer: MFTrainer(model: settings, dim: dim, batchSize: batchSize, seed: workerSeed,
                                                     train: data.train, items: data.items))
        case .sasrec(let model):
            // Negatives and user order are functions of (seed, epoch, user), not of the worker.
            let sequences = SequenceData(split: SplitData(train: data.train), items: data.items)
            return SequenceTrainer(model: model, data: sequences, batchSize: batchSize, seed: seed, dims: dims)
        case .twoTower(let model):
            return TowerTrainer(model: model, batcher: TwoTowerBatcher(train: data.train, items: data.items, batchSize: batchSize,
                                                                       negatives: config.model.negatives, seed: workerSeed), dims: dims)
        case .multiScenario(let model):
            return TowerTrainer(model: model, batcher: TwoTowerBatcher(train: data.train, items: data.items, batchSize: batchSize,
                                                                       negatives: config.model.negatives, seed: workerSeed), dims: dims)
        }
    }
}

/// Matrix factorization.
public struct MFEpochTrainer: EpochTrainer {
    var trainer: MFTrainer

    public var exampleCount: Int { trainer.exampleCount }
    public var stepsPerEpoch: Int { trainer.stepsPerEpoch }

    public mutating func beginEpoch(_ epoch: Int) {
        trainer.beginEpoch(epoch)
    }

    public mutating func trainStep(_ step: Int, on parameters: some ParameterAccess) async throws -> StepStats? {
        guard let batch = trainer.batch(step: step) else { return nil }
        return try await trainer.train(batch, on: parameters)
    }
}

/// SASRec over the worker's users' sequences, batches of `batchSize` sequences of similar length.
public struct SequenceTrainer: EpochTrainer {
    let model: SASRec
    let data: SequenceData
    let batchSize: Int
    let seed: UInt64
    let dims: [String: Int]
    var epoch = 0
    var batches: [SASRecBatch] = []

    public var exampleCount: Int {
        data.trainableUsers.reduce(0) { $0 + min(data.trainSequence(ofUser: $1).count - 1, model.maxLength) }
    }

    public var stepsPerEpoch: Int { (data.trainableUsers.count + batchSize - 1) / batchSize }

    public mutating func beginEpoch(_ epoch: Int) {
        self.epoch = epoch
        // Sorting within windows of 8 batches keeps padding low without fixing the batches' makeup.
        batches = data.batches(epoch: epoch, batchSize: batchSize, maxLength: model.maxLength, seed: seed, sortWindow: 8,
                               sharedNegatives: model.loss.sharedNegatives)
    }

    public mutating func trainStep(_ step: Int, on parameters: some ParameterAccess) async throws -> StepStats? {
        guard step < batches.count else { return nil }
        return try await ShardedStep.train(model, batch: batches[step], dims: dims,
                                           seed: Hashing.combine(Hashing.combine(seed, UInt64(epoch)), UInt64(step)), on: parameters)
    }
}

/// The two-tower and multi-scenario models: batches of interactions, in-batch negatives.
public struct TowerTrainer<Model: ShardedModel>: EpochTrainer where Model.Batch == TwoTowerBatch {
    let model: Model
    let batcher: TwoTowerBatcher
    let dims: [String: Int]
    var epoch = 0
    var batches: [TwoTowerBatch] = []

    public var exampleCount: Int { batcher.exampleCount }
    public var stepsPerEpoch: Int { batcher.stepsPerEpoch }

    public mutating func beginEpoch(_ epoch: Int) {
        self.epoch = epoch
        batches = batcher.batches(epoch: epoch)
    }

    public mutating func trainStep(_ step: Int, on parameters: some ParameterAccess) async throws -> StepStats? {
        guard step < batches.count else { return nil }
        return try await ShardedStep.train(model, batch: batches[step], dims: dims,
                                           seed: Hashing.combine(Hashing.combine(batcher.seed, UInt64(epoch)), UInt64(step)), on: parameters)
    }
}
