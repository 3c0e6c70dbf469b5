/// An order-independent checksum over rows: the wrapping sum, over every row,
/// of a hash of (table, key, value bits, optimizer state bits).
///
/// Summing makes it additive across shards: the checksum of a whole cluster is
/// the sum of its shards', however keys are placed, so a reshard can compare
/// the cluster before and after without gathering rows in one place. Floats
/// are compared by bit pattern (an exact move, not an approximate one).
public struct RowChecksum: Sendable, Equatable, CustomStringConvertible {
    public private(set) var value: UInt64 = 0
    public private(set) var rows = 0

    public init() {}

    /// Adds one row: `values` is its value followed by its optimizer state.
    public mutating func add(table: String, key: UInt64, values: UnsafeBufferPointer<Float>) {
        var hash = Hashing.combine(Hashing.hash(table), key)
        for value in values { hash = Hashing.combine(hash, UInt64(value.bitPattern)) }
        value &+= Hashing.mix64(hash)
        rows += 1
    }

    /// Adds another checksum (another shard's rows).
    public mutating func add(_ other: RowChecksum) {
        value &+= other.value
        rows += other.rows
    }

    public var description: String { "\(rows) rows, checksum \(String(value, radix: 16))" }
}

extension EmbeddingTable {
    /// The checksum of the rows whose key satisfies `includes` (all rows by default).
    public func checksum(where includes: (UInt64) -> Bool = { _ in true }) -> RowChecksum {
        var sum = RowChecksum()
        let name = spec.name, width = rowWidth
        forEachRow { key, value, _ in
            guard includes(key) else { return }
            // The value and its state are contiguous in the slab.
            sum.add(table: name, key: key, values: UnsafeBufferPointer(start: value.baseAddress, count: width))
        }
        return sum
    }
}
