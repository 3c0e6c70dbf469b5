/// The retrieval model a cluster config names, built once per process from the config and
/// the data: what workers train, what the scheduler evaluates, what serving queries with.
///
/// Every kind scores a query vector against item vectors with a dot product, so evaluation
/// (full ranking or sampled) and serving (shards scoring the items they own) are shared:
///
/// | kind | query vector | item vectors (the serving table) |
/// |---|---|---|
/// | `bpr_mf`, `logistic_mf` | the user's row | the item table |
/// | `sasrec` | the encoder's last state over the user's recent items | the item table (tied embeddings) |
/// | `two_tower` | the user tower over the user's row | the item tower's outputs, published to `towers.serving_table` |
/// | `multi_scenario` | the scenario's user tower over the user's row | the item table (embedding + biases) |
///
/// Holds shapes only, `Sendable`; all parameters live on the shards.
public enum RetrievalModel: Sendable {
    case matrixFactorization(ModelSettings, dim: Int)
    case sasrec(SASRec)
    case twoTower(TwoTowerModel)
    case multiScenario(MultiScenarioModel)

    /// What a query is built from: the user, the user's recent items (oldest first) and the scenario.
    public struct Query: Sendable, Hashable {
        public var user: UInt64
        public var history: [UInt64]
        public var scenario: Int

        public init(user: UInt64, history: [UInt64] = [], scenario: Int = 0) {
            self.user = user
            self.history = history
            self.scenario = scenario
        }
    }

    /// The model `config` asks for.
    ///
    /// - Parameters:
    ///   - data: the item features and, for the log-Q correction, training interactions (a
    ///     worker's share is fine: only relative item frequencies matter).
    /// - Throws: `ModelError` naming a setting the model cannot use.
    public static func make(config: ClusterConfig, data: PreparedData) throws -> RetrievalModel {
        let model = config.model
        func dim(_ name: String) throws -> Int {
            guard let table = config.table(named: name) else { throw ModelError("the config has no table '\(name)'") }
            return table.dim
        }
        switch model.kind {
        case .bprMF, .logisticMF:
            return .matrixFactorization(model, dim: try dim(model.itemTable))
        case .sasrec:
            let s = model.sequence
            let itemDim = try dim(model.itemTable)
            guard itemDim % s.heads == 0 else { throw ModelError("model.sequence.heads (\(s.heads)) must divide the item dim \(itemDim)") }
            let loss: SASRec.Loss = s.loss == .bce ? .binaryCrossEntropy : .sampledSoftmax(negatives: s.negatives)
            return .sasrec(SASRec(dim: itemDim, maxLength: s.maxLength, blocks: s.blocks, heads: s.heads, dropout: s.dropout,
                                  l2: model.l2, loss: loss, itemTable: model.itemTable, denseTable: model.denseTable,
                                  blockSize: try dim(model.denseTable)))
        case .twoTower:
            let t = model.towers
            var c = TwoTowerConfig()
            c.userTable = model.userTable
            c.itemTable = model.itemTable
            c.denseTable = model.denseTable
            c.denseBlockSize = try dim(model.denseTable)
            c.embeddingDim = try dim(model.itemTable)
            c.userHidden = t.userHidden
            c.itemHidden = t.itemHidden
            c.outputDim = t.outputDim
            c.dropout = t.dropout
            c.normalize = t.normalize
            c.temperature = t.temperature
            c.loss = t.loss == .bpr ? .bpr : .sampledSoftmax
            c.logQCorrection = t.logQCorrection
            c.l2 = model.l2
            let logQ = TwoTowerLogQ(train: data.train)
            if let features = data.itemFeatures, !t.featureTable.isEmpty {
                c.featureTable = t.featureTable
                c.featureColumn = config.data.itemFeatures?.column ?? c.featureColumn
                return .twoTower(try TwoTowerModel(config: c, features: features, logQ: logQ))
            }
            c.featureTable = nil
            return .twoTower(try TwoTowerModel(config: c, logQ: logQ))
        case .multiScenario:
            let s = model.scenarios
            var c = MultiScenarioConfig(kind: MultiScenarioConfig.Kind(rawValue: s.topology.rawValue) ?? .star,
                                        scenarios: max(1, config.scenarioCount))
            c.userTable = model.userTable
            c.itemTable = model.itemTable
            c.denseTable = model.denseTable
            c.denseBlockSize = try dim(model.denseTable)
            c.embeddingDim = try dim(model.userTable)
            c.starHidden = s.starHidden
            c.experts = s.experts
            c.expertSizes = s.expertSizes
            c.towerHidden = s.towerHidden
            c.dropout = model.towers.dropout
            c.temperature = model.towers.normalize ? 1 : model.towers.temperature
            c.loss = model.towers.loss == .bpr ? .bpr : .sampledSoftmax
            c.logQCorrection = model.towers.logQCorrection
            c.l2 = model.l2
            return .multiScenario(try MultiScenarioModel(config: c, logQ: TwoTowerLogQ(train: data.train)))
        }
    }

    /// Width of query and item vectors.
    public var vectorDim: Int {
        switch self {
        case .matrixFactorization(_, let dim): dim
        case .sasrec(let m): m.dim
        case .twoTower(let m): m.vectorDim
        case .multiScenario(let m): m.vectorDim
        }
    }

    /// Whether queries are built from recent items rather than a user row.
    public var usesHistory: Bool {
        if case .sasrec = self { return true }
        return false
    }

    /// Where the dense weights live, or nil (matrix factorization has none).
    public var dense: DenseBlocks? {
        switch self {
        case .matrixFactorization: nil
        case .sasrec(let m): m.dense
        case .twoTower(let m): m.dense
        case .multiScenario(let m): m.dense
        }
    }

    /// The dense weights to write once before training (`Assign` with `onlyIfAbsent`), or nil.
    public func initialDense(seed: UInt64) -> (blocks: DenseBlocks, rows: [Float])? {
        switch self {
        case .matrixFactorization: nil
        case .sasrec(let m): (m.dense, m.dense.blocks(m.initialDenseParameters(seed: seed)))
        case .twoTower(let m): (m.dense, m.initialDenseRows(seed: seed))
        case .multiScenario(let m): (m.dense, m.initialDenseRows(seed: seed))
        }
    }

    // MARK: Query and item vectors

    /// Rows (per table) that `queryVectors(_:rows:)` needs.
    public func queryKeys(_ queries: [Query]) -> [String: [UInt64]] {
        switch self {
        case .matrixFactorization(let settings, _):
            return [settings.userTable: Self.unique(queries.map(\.user))]
        case .sasrec(let m):
            return m.keys(forEncoding: queries.map(\.history))
        case .twoTower(let m):
            return m.userVectorKeys(users: Self.unique(queries.map(\.user)))
        case .multiScenario(let m):
            return m.userVectorKeys(users: Self.unique(queries.map(\.user)))
        }
    }

    /// `queries.count x vectorDim` query vectors from rows aligned with `queryKeys(queries)`.
    public func queryVectors(_ queries: [Query], rows: [String: [Float]]) throws -> [Float] {
        switch self {
        case .matrixFactorization(let settings, let dim):
            let keys = Self.unique(queries.map(\.user))
            guard let table = rows[settings.userTable], table.count == keys.count * dim else {
                throw ModelError("query rows do not match the user keys")
            }
            return Self.gather(table, keys: keys, wanted: queries.map(\.user), dim: dim)
        case .sasrec(let m):
            return try m.encode(sequences: queries.map(\.history), rows: rows)
        case .twoTower(let m):
            let keys = Self.unique(queries.map(\.user))
            return Self.gather(try m.userVectors(users: keys, rows: rows), keys: keys, wanted: queries.map(\.user), dim: m.vectorDim)
        case .multiScenario(let m):
            // One tower pass per scenario present (over every pulled user), then back to query order.
            let keys = Self.unique(queries.map(\.user))
            let d = m.vectorDim
            var out = [Float](repeating: 0, count: queries.count * d)
            for scenario in Set(queries.map(\.scenario)).sorted() {
                let indices = queries.indices.filter { queries[$0].scenario == scenario }
                let vectors = try m.userVectors(users: keys, scenario: m.partitions == 1 ? 0 : scenario, rows: rows)
                let gathered = Self.gather(vectors, keys: keys, wanted: indices.map { queries[$0].user }, dim: d)
                for (row, index) in indices.enumerated() {
                    out.replaceSubrange(index * d..<(index + 1) * d, with: gathered[row * d..<(row + 1) * d])
                }
            }
            return out
        }
    }

    /// Rows (per table) that `itemVectors(items:rows:)` needs.
    public func itemKeys(_ items: [UInt64]) -> [String: [UInt64]] {
        switch self {
        case .matrixFactorization(let settings, _): [settings.itemTable: Self.unique(items)]
        case .sasrec(let m): [m.itemTable: Self.unique(items)]
        case .twoTower(let m): m.itemVectorKeys(items: items)
        case .multiScenario(let m): m.itemVectorKeys(items: items)
        }
    }

    /// `items.count x vectorDim` item vectors from rows aligned with `itemKeys(items)`.
    public func itemVectors(_ items: [UInt64], rows: [String: [Float]]) throws -> [Float] {
        switch self {
        case .matrixFactorization(let settings, let dim):
            return try Self.tableRows(rows, settings.itemTable, items: items, dim: dim)
        case .sasrec(let m):
            return try Self.tableRows(rows, m.itemTable, items: items, dim: m.dim)
        case .twoTower(let m):
            return try m.itemVectors(items: items, rows: rows)
        case .multiScenario(let m):
            return try m.itemVectors(items: items, rows: rows)
        }
    }

    /// Unique keys, ascending.
    static func unique(_ keys: [UInt64]) -> [UInt64] {
        Array(Set(keys)).sorted()
    }

    /// Rows of `wanted` from `table`, whose rows belong to `keys` (ascending, unique).
    static func gather(_ table: [Float], keys: [UInt64], wanted: [UInt64], dim: Int) -> [Float] {
        var index: [UInt64: Int] = [:]
        for (i, key) in keys.enumerated() { index[key] = i }
        var out = [Float](repeating: 0, count: wanted.count * dim)
        for (row, key) in wanted.enumerated() {
            let i = index[key]!
            out.replaceSubrange(row * dim..<(row + 1) * dim, with: table[i * dim..<(i + 1) * dim])
        }
        return out
    }

    private static func tableRows(_ rows: [String: [Float]], _ table: String, items: [UInt64], dim: Int) throws -> [Float] {
        let keys = unique(items)
        guard let values = rows[table], values.count == keys.count * dim else { throw ModelError("rows of '\(table)' do not match the items") }
        return keys == items ? values : gather(values, keys: keys, wanted: items, dim: dim)
    }
}
