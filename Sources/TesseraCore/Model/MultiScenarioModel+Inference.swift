/// Serving and evaluation: query vectors per (user, scenario) and shared item vectors.
///
/// `userVectors(users:scenario:rows:) · itemVectors(items:rows:)` is the training score
/// without the log-Q correction (the query carries `1 / temperature`). Item vectors are
/// the raw item rows, the same for every scenario: the item table itself can serve as the
/// index, and only the query changes with the scenario.
///
/// Pull `userVectorKeys(users:)` / `itemVectorKeys(items:)` (per table, unique ascending
/// keys) and pass the rows aligned with them. Outputs have one `vectorDim` row per input
/// key, in input order (repeats allowed).
extension MultiScenarioModel {
    /// The rows `userVectors(users:scenario:rows:)` needs (the same for every scenario).
    public func userVectorKeys(users: [UInt64]) -> [String: [UInt64]] {
        [config.userTable: TowerKeyIndex(users).keys, config.denseTable: dense.keys]
    }

    /// `users.count x vectorDim` row-major query vectors in `scenario` (ignored by `.blind`).
    /// - Throws: `ModelError` for a scenario outside the model, or rows that do not match
    ///   `userVectorKeys(users:)`.
    public func userVectors(users: [UInt64], scenario: Int, rows: [String: [Float]]) throws -> [Float] {
        let s = try partition(of: scenario)
        let index = TowerKeyIndex(users)
        let d = config.embeddingDim
        let parameters = try TowerRows.dense(rows, dense)
        let userRows = try TowerRows.table(rows, config.userTable, count: index.count, dim: d)
        let input = EmbeddingLookup.gather(userRows, dim: d, indices: users.map { index[$0] })
        let scenarios = [Int](repeating: s, count: users.count)
        let h = tower.forward(input, scenarios: scenarios, parameters: parameters, mode: .inference).output
        var q = queries(h, scenarios: scenarios)
        q.scale(by: 1 / config.temperature)
        return q.values
    }

    /// The rows `itemVectors(items:rows:)` needs: the item rows.
    public func itemVectorKeys(items: [UInt64]) -> [String: [UInt64]] {
        [config.itemTable: TowerKeyIndex(items).keys]
    }

    /// `items.count x vectorDim` row-major item vectors: the item rows, in `items` order.
    /// - Throws: `ModelError` when `rows` do not match `itemVectorKeys(items:)`.
    public func itemVectors(items: [UInt64], rows: [String: [Float]]) throws -> [Float] {
        let index = TowerKeyIndex(items)
        let itemRows = try TowerRows.table(rows, config.itemTable, count: index.count, dim: itemDim)
        return EmbeddingLookup.gather(itemRows, dim: itemDim, indices: items.map { index[$0] }).values
    }
}
