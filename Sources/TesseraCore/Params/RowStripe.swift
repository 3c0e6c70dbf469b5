import Synchronization

/// The rows of one lock stripe of an `EmbeddingTable`: a key → slot index and
/// chunked slabs holding each slot's row (`rowWidth` floats: value then state)
/// and key.
///
/// Slots are dense (`0..<count`). Slabs are chunks of `chunkRows` rows, so
/// growth never copies more than one chunk and never doubles the memory: only
/// the first chunk grows by doubling (from 16 rows) until it is full size, which
/// keeps small tables small. Removing a row moves the last row into its slot.
///
/// Not thread-safe: owned by a `Mutex` in `LockedStripe`. Row pointers are valid
/// only until the next `append` or `remove`, and never leave the lock.
///
/// `@unchecked Sendable`: the stripe uniquely owns its memory (it is
/// noncopyable, and its pointers are never shared), so moving it between
/// threads is safe; this lets the table's code run under the `Mutex` without
/// region-isolation false positives.
struct RowStripe: ~Copyable, @unchecked Sendable {
    let rowWidth: Int
    let chunkRows: Int
    private let chunkShift: Int
    private(set) var count = 0
    private(set) var index: [UInt64: UInt32] = [:]
    private var rowChunks: [UnsafeMutablePointer<Float>] = []
    private var keyChunks: [UnsafeMutablePointer<UInt64>] = []
    /// Rows that chunk 0 can hold; equals `chunkRows` once a second chunk exists.
    private var firstChunkRows = 0

    /// Precondition: `chunkRows` is a power of two.
    init(rowWidth: Int, chunkRows: Int) {
        precondition(chunkRows > 0 && chunkRows & (chunkRows - 1) == 0, "chunkRows must be a power of two")
        self.rowWidth = rowWidth
        self.chunkRows = chunkRows
        self.chunkShift = chunkRows.trailingZeroBitCount
    }

    deinit {
        for chunk in rowChunks { chunk.deallocate() }
        for chunk in keyChunks { chunk.deallocate() }
    }

    /// Rows the allocated chunks can hold.
    var capacity: Int {
        rowChunks.isEmpty ? 0 : firstChunkRows + (rowChunks.count - 1) * chunkRows
    }

    /// Bytes allocated for slabs and keys, plus an estimate of the index's bytes
    /// (Swift's Dictionary: power-of-two buckets at most 3/4 full, 12 bytes per
    /// bucket for a UInt64 key and UInt32 slot, plus one bit of occupancy map).
    var bytesUsed: Int {
        let slabs = capacity * (rowWidth * MemoryLayout<Float>.size + MemoryLayout<UInt64>.size)
        var buckets = 0
        if index.capacity > 0 {
            buckets = 1
            while buckets * 3 < index.capacity * 4 { buckets <<= 1 }
        }
        let indexBytes = buckets * (MemoryLayout<UInt64>.size + MemoryLayout<UInt32>.size) + buckets / 8
        let chunkLists = rowChunks.capacity * 2 * MemoryLayout<UnsafeMutablePointer<Float>>.size
        return slabs + indexBytes + chunkLists
    }

    /// The row stored in `slot`. Precondition: `slot < count`.
    @inline(__always)
    func row(_ slot: Int) -> UnsafeMutablePointer<Float> {
        rowChunks[slot >> chunkShift] + (slot & (chunkRows - 1)) * rowWidth
    }

    /// The key stored in `slot`. Precondition: `slot < count`.
    @inline(__always)
    func key(at slot: Int) -> UInt64 {
        keyChunks[slot >> chunkShift][slot & (chunkRows - 1)]
    }

    /// The row of `key`, if present.
    @inline(__always)
    func row(for key: UInt64) -> UnsafeMutablePointer<Float>? {
        guard let slot = index[key] else { return nil }
        return row(Int(slot))
    }

    /// Adds a slot for `key` (which must not be present) and returns its row,
    /// uninitialized: the caller fills all `rowWidth` floats.
    mutating func append(key: UInt64) -> UnsafeMutablePointer<Float> {
        assert(index[key] == nil, "key \(key) already has a row")
        if count == capacity { grow() }
        precondition(count < Int(UInt32.max), "a stripe holds at most 2^32 - 1 rows")
        let slot = count
        count += 1
        keyChunks[slot >> chunkShift][slot & (chunkRows - 1)] = key
        index[key] = UInt32(slot)
        return row(slot)
    }

    /// Deletes the row of `key`; returns false if there was none. Moves the last
    /// row into the freed slot, and frees a trailing chunk once a whole spare
    /// chunk would remain (so alternating insert/remove does not thrash).
    mutating func remove(key: UInt64) -> Bool {
        guard let removed = index.removeValue(forKey: key) else { return false }
        let slot = Int(removed), last = count - 1
        if slot != last {
            let lastKey = self.key(at: last)
            row(slot).update(from: row(last), count: rowWidth)
            keyChunks[slot >> chunkShift][slot & (chunkRows - 1)] = lastKey
            index[lastKey] = removed
        }
        count -= 1
        if rowChunks.count >= 2 && count <= (rowChunks.count - 2) * chunkRows {
            rowChunks.removeLast().deallocate()
            keyChunks.removeLast().deallocate()
        }
        return true
    }

    /// Calls `body` with each slot's key and row, in slot order.
    func forEach<E: Error>(_ body: (UInt64, UnsafeMutablePointer<Float>) throws(E) -> Void) throws(E) {
        for slot in 0..<count {
            try body(key(at: slot), row(slot))
        }
    }

    private mutating func grow() {
        if rowChunks.isEmpty {
            firstChunkRows = min(16, chunkRows)
            rowChunks.append(.allocate(capacity: firstChunkRows * rowWidth))
            keyChunks.append(.allocate(capacity: firstChunkRows))
        } else if firstChunkRows < chunkRows {
            let newRows = min(2 * firstChunkRows, chunkRows)
            let rows = UnsafeMutablePointer<Float>.allocate(capacity: newRows * rowWidth)
            rows.moveInitialize(from: rowChunks[0], count: count * rowWidth)
            rowChunks[0].deallocate()
            rowChunks[0] = rows
            let keys = UnsafeMutablePointer<UInt64>.allocate(capacity: newRows)
            keys.moveInitialize(from: keyChunks[0], count: count)
            keyChunks[0].deallocate()
            keyChunks[0] = keys
            firstChunkRows = newRows
        } else {
            rowChunks.append(.allocate(capacity: chunkRows * rowWidth))
            keyChunks.append(.allocate(capacity: chunkRows))
        }
    }
}

/// A `RowStripe` behind its own lock.
final class LockedStripe: Sendable {
    let rows: Mutex<RowStripe>

    init(rowWidth: Int, chunkRows: Int) {
        rows = Mutex(RowStripe(rowWidth: rowWidth, chunkRows: chunkRows))
    }
}
