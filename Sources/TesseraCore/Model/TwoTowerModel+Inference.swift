/// Serving and evaluation: user and item vectors from pulled rows.
///
/// The score of a user and an item is the dot product `userVector · itemVector`, which
/// equals the training score without the log-Q correction: user vectors carry the
/// `1 / temperature` factor (and are normalised when the towers are), item vectors are the
/// (normalised) item tower outputs. Item vectors are what a serving table or index holds.
///
/// Pull `userVectorKeys(users:)` / `itemVectorKeys(items:)` (per table, unique ascending
/// keys), then pass the rows aligned with them. Outputs have one `vectorDim` row per input
/// key, in input order (repeats allowed).
extension TwoTowerModel {
    /// The rows `userVectors(users:rows:)` needs: the user rows and the dense blocks.
    public func userVectorKeys(users: [UInt64]) -> [String: [UInt64]] {
        [config.userTable: TowerKeyIndex(users).keys, config.denseTable: dense.keys]
    }

    /// `users.count x vectorDim` row-major query vectors.
    /// - Throws: `ModelError` when `rows` do not match `userVectorKeys(users:)`.
    public func userVectors(users: [UInt64], rows: [String: [Float]]) throws -> [Float] {
        let index = TowerKeyIndex(users)
        let parameters = try TowerRows.dense(rows, dense)
        let userRows = try TowerRows.table(rows, config.userTable, count: index.count, dim: config.embeddingDim)
        let input = EmbeddingLookup.gather(userRows, dim: config.embeddingDim, indices: users.map { index[$0] })
        var u = userTower.forward(input, parameters: parameters).output
        if config.normalize { u = TwoTowerNormalization.forward(u).output }
        u.scale(by: 1 / config.temperature)
        return u.values
    }

    /// The rows `itemVectors(items:rows:)` needs: item rows, their feature rows, dense blocks.
    public func itemVectorKeys(items: [UInt64]) -> [String: [UInt64]] {
        let index = TowerKeyIndex(items)
        var keys = [config.itemTable: index.keys, config.denseTable: dense.keys]
        if let features = featurePlan(items: index.keys) { keys[features.table] = features.index.keys }
        return keys
    }

    /// `items.count x vectorDim` row-major item vectors.
    /// - Throws: `ModelError` when `rows` do not match `itemVectorKeys(items:)`.
    public func itemVectors(items: [UInt64], rows: [String: [Float]]) throws -> [Float] {
        let index = TowerKeyIndex(items)
        let e = config.embeddingDim
        let parameters = try TowerRows.dense(rows, dense)
        let itemRows = try TowerRows.table(rows, config.itemTable, count: index.count, dim: e)
        let features = featurePlan(items: index.keys)
        let featureRows = try features.map { try TowerRows.table(rows, $0.table, count: $0.index.count, dim: e) }
        let input = itemInputs(itemRows: itemRows, features: features, featureRows: featureRows)
        var v = itemTower.forward(input, parameters: parameters).output
        if config.normalize { v = TwoTowerNormalization.forward(v).output }
        return EmbeddingLookup.gather(v.values, dim: vectorDim, indices: items.map { index[$0] }).values
    }
}
