/// An order-independent checksum over rows: every (table, key, value, optimizer
/// state) contributes one 64-bit hash, and the hashes are summed (mod 2^64), so
/// the same rows give the same checksum however they are split over shards or
/// ordered. Two collections of rows are equal, up to hash collisions, exactly
/// when their checksums and row counts are.
///
/// Floats count by their bit patterns, so a row equal in value but with a
/// different NaN payload or sign of zero counts as different.
public struct CheckpointChecksum: Sendable, Hashable, CustomStringConvertible {
    /// Rows added.
    public private(set) var rows = 0
    /// The sum of the rows' hashes.
    public private(set) var sum: UInt64 = 0

    public init() {}

    /// Adds one row: `row` is its value then its optimizer state.
    public mutating func add(table: String, key: UInt64, row: UnsafeBufferPointer<Float>) {
        add(tableHash: Hashing.hash(table), key: key, row: row)
    }

    mutating func add(tableHash: UInt64, key: UInt64, row: UnsafeBufferPointer<Float>) {
        var h = Hashing.combine(tableHash, key)
        var i = 0
        while i + 1 < row.count {
            h = Hashing.combine(h, UInt64(row[i].bitPattern) | UInt64(row[i + 1].bitPattern) << 32)
            i += 2
        }
        if i < row.count { h = Hashing.combine(h, UInt64(row[i].bitPattern) | 1 << 40) }
        h = Hashing.combine(h, UInt64(row.count))
        sum &+= h
        rows += 1
    }

    /// Adds every row of `table` (stripe by stripe; see `EmbeddingTable.forEachStripeSnapshot`).
    public mutating func add(_ table: EmbeddingTable) {
        let tableHash = Hashing.hash(table.spec.name), width = table.rowWidth
        table.forEachStripeSnapshot(changedAfter: nil) { snapshot in
            snapshot.rows.withUnsafeBufferPointer { rows in
                for (i, key) in snapshot.keys.enumerated() {
                    add(tableHash: tableHash, key: key, row: UnsafeBufferPointer(rebasing: rows[i * width..<(i + 1) * width]))
                }
            }
        }
    }

    /// Adds the rows counted by `other`.
    public mutating func add(_ other: CheckpointChecksum) {
        sum &+= other.sum
        rows += other.rows
    }

    /// The checksum of every row of `tables`.
    public static func of(_ tables: [EmbeddingTable]) -> CheckpointChecksum {
        var checksum = CheckpointChecksum()
        for table in tables { checksum.add(table) }
        return checksum
    }

    public var description: String {
        let digits = String(sum, radix: 16)
        return "\(rows) rows, 0x" + String(repeating: "0", count: 16 - digits.count) + digits
    }
}
