/// How a batch maps onto pulled rows: the unique users and candidate items (ascending,
/// the pull order), each example's user row and target column, and the accidental hits
/// each example must not treat as negatives.
struct TwoTowerPlan: Sendable {
    let users: TowerKeyIndex
    /// Candidates: every example's positive and the extra negatives.
    let items: TowerKeyIndex
    /// Per example: its row in `users`.
    let exampleUsers: [Int32]
    /// Per example: its positive's column in `items`.
    let targets: [Int]
    /// Per example: the columns of the same user's other positives in the batch.
    let excluded: [[Int]]

    init(_ batch: TwoTowerBatch) {
        let users = TowerKeyIndex(batch.users), items = TowerKeyIndex(batch.items + batch.negatives)
        let exampleUsers = batch.users.map { users[$0] }, targets = batch.items.map { Int(items[$0]) }
        (self.users, self.items, self.exampleUsers, self.targets) = (users, items, exampleUsers, targets)
        var positives: [Int32: Set<Int>] = [:]
        for (user, target) in zip(exampleUsers, targets) { positives[user, default: []].insert(target) }
        excluded = zip(exampleUsers, targets).map { user, target in
            guard let all = positives[user], all.count > 1 else { return [] }
            return all.filter { $0 != target }.sorted()
        }
    }

    var count: Int { targets.count }
}

/// Unique keys in ascending order (the order rows are pulled in) and each key's position.
struct TowerKeyIndex: Sendable {
    let keys: [UInt64]
    private let positions: [UInt64: Int32]

    init(_ keys: some Sequence<UInt64>) {
        let sorted = Set(keys).sorted()
        var positions: [UInt64: Int32] = [:]
        positions.reserveCapacity(sorted.count)
        for (i, key) in sorted.enumerated() { positions[key] = Int32(i) }
        self.keys = sorted
        self.positions = positions
    }

    var count: Int { keys.count }

    /// The position of `key`. Precondition: `key` was indexed.
    subscript(key: UInt64) -> Int32 {
        guard let position = positions[key] else { preconditionFailure("key \(key) was not indexed") }
        return position
    }
}

/// Shared checks on pulled rows.
enum TowerRows {
    /// `rows[table]`, checked to hold `count` rows of `dim`.
    static func table(_ rows: [String: [Float]], _ table: String, count: Int, dim: Int) throws -> [Float] {
        guard let values = rows[table] else {
            throw ModelError("no rows were pulled for table '\(table)' (\(count) keys expected)")
        }
        guard values.count == count * dim else {
            throw ModelError("table '\(table)': \(values.count) values pulled for \(count) keys of dim \(dim)")
        }
        return values
    }

    /// The flat dense parameter vector from the pulled blocks of `dense`.
    static func dense(_ rows: [String: [Float]], _ dense: DenseBlocks) throws -> [Float] {
        dense.flatten(try table(rows, dense.table, count: dense.blockCount, dim: dense.blockSize))
    }

    /// Adds `l2 · row` to every row's gradient (weight decay on the rows a step touched).
    static func addL2(_ l2: Float, rows: [Float], into gradients: inout [Float]) {
        guard l2 > 0 else { return }
        axpy(l2, rows, &gradients)
    }
}
