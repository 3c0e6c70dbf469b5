/// Reads and updates rows of named tables, wherever they live.
///
/// The worker's implementation talks to the shards over gRPC; tests and
/// single-process tools use `LocalParameters`. Rows are row-major `[Float]`,
/// `keys.count * dim` values, in key order.
public protocol ParameterAccess: Sendable {
    /// Rows for unique `keys`, created on first pull.
    func pull(table: String, keys: [UInt64], dim: Int) async throws -> [Float]
    /// One optimizer step per unique key with the summed `gradients`.
    func push(table: String, keys: [UInt64], gradients: [Float], dim: Int) async throws
}

extension ParameterAccess {
    /// Rows of several tables at once: `keys` per table, each table's row width from `dims`.
    /// - Throws: `ModelError` for a table `dims` does not name, or the first failed pull.
    public func pull(_ keys: [String: [UInt64]], dims: [String: Int]) async throws -> [String: [Float]] {
        try await withThrowingTaskGroup(of: (String, [Float]).self) { group in
            for (table, tableKeys) in keys {
                guard let dim = dims[table] else { throw ModelError("the model uses table '\(table)', which the config does not declare") }
                group.addTask { (table, try await self.pull(table: table, keys: tableKeys, dim: dim)) }
            }
            var rows: [String: [Float]] = [:]
            for try await (table, values) in group { rows[table] = values }
            return rows
        }
    }
}

/// Tables held in this process.
public final class LocalParameters: ParameterAccess {
    public let tables: [String: EmbeddingTable]

    public init(specs: [TableSpec]) throws {
        var tables: [String: EmbeddingTable] = [:]
        for spec in specs { tables[spec.name] = try EmbeddingTable(spec: spec) }
        self.tables = tables
    }

    public func pull(table: String, keys: [UInt64], dim: Int) async throws -> [Float] {
        try self.table(table).pull(keys: keys)
    }

    public func push(table: String, keys: [UInt64], gradients: [Float], dim: Int) async throws {
        _ = try self.table(table).push(keys: keys, gradients: gradients)
    }

    private func table(_ name: String) throws(TableError) -> EmbeddingTable {
        guard let table = tables[name] else { throw TableError(.invalidSpec, "unknown table '\(name)'") }
        return table
    }
}
