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
