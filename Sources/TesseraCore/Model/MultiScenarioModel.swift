/// A multi-scenario retrieval model (STAR- or MMoE-style, or a scenario-blind baseline)
/// trained through the parameter server.
///
///     e_u = E_user[user]                                       (d = embeddingDim)
///     q_s(u) = [UserTower_s(e_u) (+ e_u with residual), 1, onehot(s)] / temperature
///     v_i = E_item[item]                                       (d, then 1 + S biases)
///     score(u, i, s) = q_s(u) · v_i
///
/// **The item side is shared**: an item's vector is its raw item row, the same in every
/// scenario, so one item index (the item table itself) serves all scenarios; everything
/// scenario-specific is on the user side (`MultiScenarioUserTower`). With
/// `config.itemBias`, the item row ends with a shared bias and one bias per scenario,
/// selected by the query's `1` and one-hot coordinates; without it, items are `d`-wide
/// and the query is the tower output alone.
///
/// Each example is scored in its own scenario (`TwoTowerBatch.scenarios`) against every
/// candidate of the batch, with sampled softmax (log-Q corrected) or BPR (see
/// `TwoTowerLoss`). `.blind` ignores scenarios. For the one-model-per-scenario baseline,
/// train a `.blind` model (or any kind with `scenarios: 1` and examples relabelled 0) on
/// each scenario's data.
///
/// Wiring is the same as `TwoTowerModel`'s (`tableDims`, `initialDenseRows`,
/// `TwoTowerBatcher`, `ShardedStep.train`), except that the item table (rows of `itemDim`)
/// is already the serving index, and queries are per (user, scenario):
/// `userVectors(users:scenario:rows:)`. Evaluate each scenario on its own held-out
/// interactions.
///
/// Shapes and offsets only: `Sendable`.
public struct MultiScenarioModel: ShardedModel {
    public typealias Batch = TwoTowerBatch

    public let config: MultiScenarioConfig
    /// The dense weights: the user tower.
    public let layout: ParameterLayout
    /// Where the dense weights live on the parameter server.
    public let dense: DenseBlocks
    public let tower: MultiScenarioUserTower
    /// Log sampling probabilities for the log-Q correction; nil: no correction.
    public var logQ: TwoTowerLogQ?

    /// - Throws: `ModelError` when the config is out of range.
    public init(config: MultiScenarioConfig = MultiScenarioConfig(), logQ: TwoTowerLogQ? = nil) throws {
        try config.validate()
        self.config = config
        self.logQ = logQ
        var layout = ParameterLayout()
        tower = MultiScenarioUserTower(config: config, layout: &layout)
        self.layout = layout
        dense = DenseBlocks(table: config.denseTable, blockSize: config.denseBlockSize,
                            parameterCount: layout.count, firstKey: config.denseFirstKey)
    }

    /// Scenarios the model tells apart: 1 for `.blind`, else `config.scenarios`.
    public var partitions: Int { config.kind == .blind ? 1 : config.scenarios }

    /// Width of item rows, item vectors and query vectors: `d`, plus `1 + partitions` with `itemBias`.
    public var itemDim: Int { config.embeddingDim + (config.itemBias ? 1 + partitions : 0) }

    /// Dimension of the vectors `userVectors` and `itemVectors` return (`itemDim`).
    public var vectorDim: Int { itemDim }

    /// Row dimension of every table the model uses.
    public var tableDims: [String: Int] {
        [config.userTable: config.embeddingDim, config.itemTable: itemDim, config.denseTable: config.denseBlockSize]
    }

    /// The initial flat dense vector; the same on every worker.
    public func initialDenseParameters(seed: UInt64) -> [Float] {
        layout.initialize(seed: seed)
    }

    /// The initial dense vector as rows of the dense table, aligned with `dense.keys`.
    public func initialDenseRows(seed: UInt64) -> [Float] {
        dense.blocks(initialDenseParameters(seed: seed))
    }

    public func keys(for batch: TwoTowerBatch) -> [String: [UInt64]] {
        let plan = TwoTowerPlan(batch)
        return [config.userTable: plan.users.keys, config.itemTable: plan.items.keys, config.denseTable: dense.keys]
    }

    public func gradients(for batch: TwoTowerBatch, rows: [String: [Float]], seed: UInt64) throws -> ModelStep {
        let plan = TwoTowerPlan(batch)
        let scenarios = try (0..<batch.count).map { try partition(of: batch.scenario($0)) }
        let d = config.embeddingDim
        let parameters = try TowerRows.dense(rows, dense)
        let userRows = try TowerRows.table(rows, config.userTable, count: plan.users.count, dim: d)
        let itemRows = try TowerRows.table(rows, config.itemTable, count: plan.items.count, dim: itemDim)

        // Forward: a query per example (in its scenario) against every candidate's raw row.
        let userInput = EmbeddingLookup.gather(userRows, dim: d, indices: plan.exampleUsers)
        let (h, towerCache) = tower.forward(userInput, scenarios: scenarios, parameters: parameters,
                                            mode: .training(seed: seed))
        let queries = queries(h, scenarios: scenarios)
        let items = Matrix(rows: plan.items.count, cols: itemDim, values: itemRows)
        var scores = matmul(queries, items, transposeB: true)
        scores.scale(by: 1 / config.temperature)
        let logQ = config.loss == .sampledSoftmax && config.logQCorrection ? self.logQ.map { q in plan.items.keys.map { q[$0] } } : nil
        let (loss, dLogits) = config.loss.evaluate(scores: scores, targets: plan.targets, excluded: plan.excluded, logQ: logQ)
        if loss.isNaN { throw ModelError("multi-scenario loss is NaN (learning rate too high?)") }

        // Backward: items get dSᵀ·Q; the query's first d columns go back through the tower.
        var dScores = dLogits
        dScores.scale(by: 1 / config.temperature)
        var itemGradient = matmul(dScores, queries, transposeA: true).values
        let dQueries = matmul(dScores, items)
        let dh = config.itemBias ? Self.leadingColumns(dQueries, d) : dQueries
        var denseGradient = layout.zeros()
        let dUserInput = tower.backward(dh, cache: towerCache, parameters: parameters, gradients: &denseGradient)
        axpy(config.denseL2, parameters, &denseGradient)
        var userGradient = [Float](repeating: 0, count: userRows.count)
        EmbeddingLookup.scatterAdd(dUserInput, indices: plan.exampleUsers, into: &userGradient)
        TowerRows.addL2(config.l2, rows: userRows, into: &userGradient)
        TowerRows.addL2(config.l2, rows: itemRows, into: &itemGradient)
        return ModelStep(
            gradients: [config.userTable: userGradient, config.itemTable: itemGradient, config.denseTable: dense.blocks(denseGradient)],
            lossSum: loss, examples: plan.count)
    }

    /// The model's partition for scenario id `scenario`: 0 for `.blind`, else the id itself.
    /// - Throws: `ModelError` when the id is outside `0..<config.scenarios`.
    func partition(of scenario: Int) throws -> Int {
        if config.kind == .blind { return 0 }
        guard scenario >= 0, scenario < config.scenarios else {
            throw ModelError("scenario \(scenario) outside 0..<\(config.scenarios) of this \(config.kind.rawValue) model")
        }
        return scenario
    }

    /// `[h_i, 1, onehot(s_i)]` per row with `itemBias`, else `h`.
    func queries(_ h: Matrix, scenarios: [Int]) -> Matrix {
        guard config.itemBias else { return h }
        let d = config.embeddingDim, width = itemDim
        var q = Matrix(rows: h.rows, cols: width)
        q.withUnsafeMutableBufferPointer { pq in
            h.withUnsafeBufferPointer { ph in
                for r in 0..<h.rows {
                    let row = pq.baseAddress! + r * width
                    row.update(from: ph.baseAddress! + r * d, count: d)
                    row[d] = 1
                    row[d + 1 + scenarios[r]] = 1
                }
            }
        }
        return q
    }

    /// The first `width` columns of every row of `m`.
    static func leadingColumns(_ m: Matrix, _ width: Int) -> Matrix {
        var out = Matrix(rows: m.rows, cols: width)
        let cols = m.cols
        m.withUnsafeBufferPointer { p in
            out.withUnsafeMutableBufferPointer { o in
                for r in 0..<m.rows { (o.baseAddress! + r * width).update(from: p.baseAddress! + r * cols, count: width) }
            }
        }
        return out
    }
}
