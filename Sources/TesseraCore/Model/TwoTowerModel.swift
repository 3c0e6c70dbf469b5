/// A two-tower retrieval model trained through the parameter server.
///
///     u = UserTower(E_user[user])                                   (outputDim)
///     v = ItemTower(E_item[item] ⊕ mean_f E_feature[f])             (outputDim)
///     score(user, item) = ⟨n(u), n(v)⟩ / temperature
///
/// where `n` is L2 normalisation when `config.normalize` is set (else the identity) and
/// `f` runs over the item's feature keys (an item without features gets a zero mean).
/// Towers are `MLP`s (activation between layers, linear output) whose weights live in the
/// dense table as `DenseBlocks`.
///
/// Training scores every example against every candidate of the batch (its positives
/// and extra negatives, see `TwoTowerBatch`) with `config.loss`: sampled softmax with the
/// log-Q correction (`logQ`, from training item frequencies), or BPR. `keys(for:)` names
/// the user, item, feature and dense rows a batch needs (each table's keys unique and
/// ascending); `gradients(for:rows:seed:)` returns gradients for exactly those rows,
/// summed per key. Serving: `userVectors` and `itemVectors` (see `TwoTowerModel+Inference`).
///
/// Wiring: declare tables with `tableDims` (the dense table's `dim` is the block size);
/// assign `initialDenseRows(seed:)` at `dense.keys` once (e.g. `onlyIfAbsent`) before
/// training; cut the data with `TwoTowerBatcher` and run each batch with
/// `ShardedStep.train(model, batch:, dims: model.tableDims, seed:, on:)`. For evaluation and
/// serving, pull `userVectorKeys`/`itemVectorKeys` and score `userVectors · itemVectors`
/// (`FullRankingEvaluator.evaluate(_:userVectors:itemVectors:dim:)` with `vectorDim`);
/// item vectors are tower outputs, so serving needs them published to an item index.
///
/// Holds shapes, offsets and the item → feature-key map, never parameters: `Sendable`.
public struct TwoTowerModel: ShardedModel {
    public typealias Batch = TwoTowerBatch

    public let config: TwoTowerConfig
    /// The dense weights: both towers.
    public let layout: ParameterLayout
    /// Where the dense weights live on the parameter server.
    public let dense: DenseBlocks
    public let userTower: MLP
    public let itemTower: MLP
    /// Feature keys per item key (unused without `config.featureTable`).
    public let itemFeatureKeys: [UInt64: [UInt64]]
    /// Log sampling probabilities for the log-Q correction; nil: no correction.
    public var logQ: TwoTowerLogQ?

    /// - Parameters:
    ///   - itemFeatureKeys: each item's feature keys (rows of `config.featureTable`).
    ///   - logQ: e.g. `TwoTowerLogQ(train: train)`.
    /// - Throws: `ModelError` when the config is out of range.
    public init(config: TwoTowerConfig = TwoTowerConfig(), itemFeatureKeys: [UInt64: [UInt64]] = [:], logQ: TwoTowerLogQ? = nil) throws {
        try config.validate()
        self.config = config
        self.itemFeatureKeys = itemFeatureKeys
        self.logQ = logQ
        var layout = ParameterLayout()
        let e = config.embeddingDim
        userTower = MLP("user", sizes: [e] + config.userHidden + [config.outputDim], activation: config.activation,
                        dropout: config.dropout, layout: &layout)
        itemTower = MLP("item", sizes: [config.featureTable == nil ? e : 2 * e] + config.itemHidden + [config.outputDim],
                        activation: config.activation, dropout: config.dropout, layout: &layout)
        self.layout = layout
        dense = DenseBlocks(table: config.denseTable, blockSize: config.denseBlockSize,
                            parameterCount: layout.count, firstKey: config.denseFirstKey)
    }

    /// A model whose item features are `features`' values in `config.featureColumn`
    /// (feature key `ItemFeatures.key(column:value:)`).
    public init(config: TwoTowerConfig = TwoTowerConfig(), features: ItemFeatures, logQ: TwoTowerLogQ? = nil) throws {
        var keys: [UInt64: [UInt64]] = [:]
        for item in features.values.keys { keys[item] = features.keys(of: item, column: config.featureColumn) }
        try self.init(config: config, itemFeatureKeys: keys, logQ: logQ)
    }

    /// Row dimension of every table the model uses (for table specs and `ShardedStep`).
    public var tableDims: [String: Int] {
        var dims = [config.userTable: config.embeddingDim, config.itemTable: config.embeddingDim,
                    config.denseTable: config.denseBlockSize]
        if let featureTable = config.featureTable { dims[featureTable] = config.embeddingDim }
        return dims
    }

    /// Dimension of user and item vectors.
    public var vectorDim: Int { config.outputDim }

    /// The initial flat dense vector (Xavier weights, zero biases); the same on every worker.
    public func initialDenseParameters(seed: UInt64) -> [Float] {
        layout.initialize(seed: seed)
    }

    /// The initial dense vector as rows of the dense table, aligned with `dense.keys`
    /// (assign them once, e.g. `onlyIfAbsent`, before training).
    public func initialDenseRows(seed: UInt64) -> [Float] {
        dense.blocks(initialDenseParameters(seed: seed))
    }

    public func keys(for batch: TwoTowerBatch) -> [String: [UInt64]] {
        let plan = TwoTowerPlan(batch)
        var keys = [config.userTable: plan.users.keys, config.itemTable: plan.items.keys, config.denseTable: dense.keys]
        if let features = featurePlan(items: plan.items.keys) { keys[features.table] = features.index.keys }
        return keys
    }

    public func gradients(for batch: TwoTowerBatch, rows: [String: [Float]], seed: UInt64) throws -> ModelStep {
        let plan = TwoTowerPlan(batch)
        let e = config.embeddingDim
        let parameters = try TowerRows.dense(rows, dense)
        let userRows = try TowerRows.table(rows, config.userTable, count: plan.users.count, dim: e)
        let itemRows = try TowerRows.table(rows, config.itemTable, count: plan.items.count, dim: e)
        let features = featurePlan(items: plan.items.keys)
        let featureRows = try features.map { try TowerRows.table(rows, $0.table, count: $0.index.count, dim: e) }
        let mode = ForwardMode.training(seed: seed)

        // Forward: a user vector per example, an item vector per candidate, all their scores.
        let userInput = EmbeddingLookup.gather(userRows, dim: e, indices: plan.exampleUsers)
        let (userOutput, userCache) = userTower.forward(userInput, parameters: parameters, mode: mode.derived(1))
        let u = config.normalize ? TwoTowerNormalization.forward(userOutput) : (output: userOutput, norms: [])
        let itemInput = itemInputs(itemRows: itemRows, features: features, featureRows: featureRows)
        let (itemOutput, itemCache) = itemTower.forward(itemInput, parameters: parameters, mode: mode.derived(2))
        let v = config.normalize ? TwoTowerNormalization.forward(itemOutput) : (output: itemOutput, norms: [])
        var scores = matmul(u.output, v.output, transposeB: true)
        scores.scale(by: 1 / config.temperature)
        let logQ = config.loss == .sampledSoftmax && config.logQCorrection ? self.logQ.map { q in plan.items.keys.map { q[$0] } } : nil
        let (loss, dLogits) = config.loss.evaluate(scores: scores, targets: plan.targets, excluded: plan.excluded, logQ: logQ)
        if loss.isNaN { throw ModelError("two-tower loss is NaN (learning rate too high?)") }

        // Backward through the scores, the normalisation and both towers.
        var dScores = dLogits
        dScores.scale(by: 1 / config.temperature)
        var du = matmul(dScores, v.output)
        var dv = matmul(dScores, u.output, transposeA: true)
        if config.normalize {
            du = TwoTowerNormalization.backward(du, output: u.output, norms: u.norms)
            dv = TwoTowerNormalization.backward(dv, output: v.output, norms: v.norms)
        }
        var denseGradient = layout.zeros()
        let dUserInput = userTower.backward(du, cache: userCache, parameters: parameters, gradients: &denseGradient)
        let dItemInput = itemTower.backward(dv, cache: itemCache, parameters: parameters, gradients: &denseGradient)
        axpy(config.denseL2, parameters, &denseGradient)

        var userGradient = [Float](repeating: 0, count: userRows.count)
        EmbeddingLookup.scatterAdd(dUserInput, indices: plan.exampleUsers, into: &userGradient)
        TowerRows.addL2(config.l2, rows: userRows, into: &userGradient)
        var gradients = [config.userTable: userGradient, config.denseTable: dense.blocks(denseGradient)]
        let itemSide = itemInputsBackward(dItemInput, features: features)
        var itemGradient = itemSide.items
        TowerRows.addL2(config.l2, rows: itemRows, into: &itemGradient)
        gradients[config.itemTable] = itemGradient
        if let features, var featureGradient = itemSide.features, let featureRows {
            TowerRows.addL2(config.l2, rows: featureRows, into: &featureGradient)
            gradients[features.table] = featureGradient
        }
        return ModelStep(gradients: gradients, lossSum: loss, examples: plan.count)
    }
}

/// The feature rows of a list of items: the unique feature keys (ascending) and, per item,
/// its features' positions among them (compressed rows).
struct TowerFeaturePlan: Sendable {
    let table: String
    let index: TowerKeyIndex
    let offsets: [Int]
    let positions: [Int32]
}

extension TwoTowerModel {
    /// The feature plan of `items` (pulled in that order), or nil without a feature table.
    func featurePlan(items: [UInt64]) -> TowerFeaturePlan? {
        guard let table = config.featureTable else { return nil }
        let lists = items.map { itemFeatureKeys[$0] ?? [] }
        let index = TowerKeyIndex(lists.joined())
        var offsets = [0], positions: [Int32] = []
        for list in lists {
            positions.append(contentsOf: list.map { index[$0] })
            offsets.append(positions.count)
        }
        return TowerFeaturePlan(table: table, index: index, offsets: offsets, positions: positions)
    }

    /// The item tower's input: row `i` is item `i`'s id embedding, then the mean of its
    /// feature embeddings when the model has features. `items x (e or 2e)`.
    func itemInputs(itemRows: [Float], features: TowerFeaturePlan?, featureRows: [Float]?) -> Matrix {
        let e = config.embeddingDim
        let count = itemRows.count / e
        guard let features, let featureRows else { return Matrix(rows: count, cols: e, values: itemRows) }
        var input = Matrix(rows: count, cols: 2 * e)
        input.withUnsafeMutableBufferPointer { x in
            itemRows.withUnsafeBufferPointer { items in
                featureRows.withUnsafeBufferPointer { f in
                    for i in 0..<count {
                        let row = x.baseAddress! + i * 2 * e
                        row.update(from: items.baseAddress! + i * e, count: e)
                        let list = features.offsets[i]..<features.offsets[i + 1]
                        guard !list.isEmpty else { continue }
                        let scale = 1 / Float(list.count)
                        for k in list { BLAS.axpy(e, scale, f.baseAddress! + Int(features.positions[k]) * e, row + e) }
                    }
                }
            }
        }
        return input
    }

    /// Splits the item tower's input gradient into item-row gradients and feature-row
    /// gradients (each feature gets its items' mean gradient share, summed per key).
    func itemInputsBackward(_ dInput: Matrix, features: TowerFeaturePlan?) -> (items: [Float], features: [Float]?) {
        let e = config.embeddingDim
        guard let features else { return (dInput.values, nil) }
        let count = dInput.rows
        var items = [Float](repeating: 0, count: count * e)
        var featureGradient = [Float](repeating: 0, count: features.index.count * e)
        dInput.withUnsafeBufferPointer { d in
            items.withUnsafeMutableBufferPointer { gi in
                featureGradient.withUnsafeMutableBufferPointer { gf in
                    for i in 0..<count {
                        let row = d.baseAddress! + i * 2 * e
                        (gi.baseAddress! + i * e).update(from: row, count: e)
                        let list = features.offsets[i]..<features.offsets[i + 1]
                        guard !list.isEmpty else { continue }
                        let scale = 1 / Float(list.count)
                        for k in list { BLAS.axpy(e, scale, row + e, gf.baseAddress! + Int(features.positions[k]) * e) }
                    }
                }
            }
        }
        return (items, featureGradient)
    }
}
