import Synchronization

/// The rows of one lock stripe of an `EmbeddingTable`: a key → slot index and
/// chunked slabs holding each slot's row (`rowWidth` floats: value then state),
/// key and generation stamp (the table generation of the row's last change, for
/// incremental checkpoints), plus the keys removed since a generation
/// (tombstones, so an incremental checkpoint can record deletions).
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
    private var stampChunks: [UnsafeMutablePointer<UInt64>] = []
    /// Per slot, the tick (seconds since the table began) of its last pull or push; kept
    /// only when the table's lifecycle needs it (`tracksAccess`).
    private var accessChunks: [UnsafeMutablePointer<UInt32>] = []
    let tracksAccess: Bool
    /// Admission: how often each key without a row was pulled (`TableLifecycle.admitAfter`).
    var sightings: [UInt64: UInt16] = [:]
    /// On a follower: the highest replication version applied per key (rows and
    /// removals), so older batches arriving late are ignored. Empty on a leader.
    var replicaVersions: [UInt64: UInt64] = [:]
    /// Keys removed, with the generation of their removal; dropped when the key
    /// gets a row again or by `forgetRemovals(through:)`.
    private(set) var removals: [UInt64: UInt64] = [:]
    /// Rows that chunk 0 can hold; equals `chunkRows` once a second chunk exists.
    private var firstChunkRows = 0

    /// Precondition: `chunkRows` is a power of two.
    init(rowWidth: Int, chunkRows: Int, tracksAccess: Bool = false) {
        precondition(chunkRows > 0 && chunkRows & (chunkRows - 1) == 0, "chunkRows must be a power of two")
        self.tracksAccess = tracksAccess
        self.rowWidth = rowWidth
        self.chunkRows = chunkRows
        self.chunkShift = chunkRows.trailingZeroBitCount
    }

    deinit {
        for chunk in rowChunks { chunk.deallocate() }
        for chunk in keyChunks { chunk.deallocate() }
        for chunk in stampChunks { chunk.deallocate() }
        for chunk in accessChunks { chunk.deallocate() }
    }

    /// Rows the allocated chunks can hold.
    var capacity: Int {
        rowChunks.isEmpty ? 0 : firstChunkRows + (rowChunks.count - 1) * chunkRows
    }

    /// Bytes allocated for slabs and keys, plus an estimate of the index's bytes
    /// (Swift's Dictionary: power-of-two buckets at most 3/4 full, 12 bytes per
    /// bucket for a UInt64 key and UInt32 slot, plus one bit of occupancy map).
    var bytesUsed: Int {
        let slabs = capacity * (rowWidth * MemoryLayout<Float>.size + 2 * MemoryLayout<UInt64>.size
                                + (tracksAccess ? MemoryLayout<UInt32>.size : 0))
        var buckets = 0
        if index.capacity > 0 {
            buckets = 1
            while buckets * 3 < index.capacity * 4 { buckets <<= 1 }
        }
        let indexBytes = buckets * (MemoryLayout<UInt64>.size + MemoryLayout<UInt32>.size) + buckets / 8
        let chunkLists = rowChunks.capacity * 3 * MemoryLayout<UnsafeMutablePointer<Float>>.size
        let tombstones = removals.capacity * 2 * MemoryLayout<UInt64>.size
        let admission = sightings.capacity * (MemoryLayout<UInt64>.size + MemoryLayout<UInt16>.size) * 4 / 3
        let versions = replicaVersions.capacity * 2 * MemoryLayout<UInt64>.size * 4 / 3
        return slabs + indexBytes + chunkLists + tombstones + admission + versions
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

    /// The generation stamp of `slot`. Precondition: `slot < count`.
    @inline(__always)
    func stamp(at slot: Int) -> UInt64 {
        stampChunks[slot >> chunkShift][slot & (chunkRows - 1)]
    }

    /// The last-access tick of `slot` (0 without access tracking). Precondition: `slot < count`.
    @inline(__always)
    func access(at slot: Int) -> UInt32 {
        tracksAccess ? accessChunks[slot >> chunkShift][slot & (chunkRows - 1)] : 0
    }

    /// The row of `key`, if present, marking it used at `tick` (when access is tracked).
    @inline(__always)
    mutating func row(for key: UInt64, touching tick: UInt32) -> UnsafeMutablePointer<Float>? {
        guard let slot = index[key].map(Int.init) else { return nil }
        if tracksAccess { accessChunks[slot >> chunkShift][slot & (chunkRows - 1)] = tick }
        return row(slot)
    }

    /// The slot of `key`, if present.
    func slot(of key: UInt64) -> Int? {
        index[key].map(Int.init)
    }

    /// Marks `slot` used at `tick` (when access is tracked).
    @inline(__always)
    mutating func touch(slot: Int, tick: UInt32) {
        if tracksAccess { accessChunks[slot >> chunkShift][slot & (chunkRows - 1)] = tick }
    }

    /// The row of `key`, if present.
    @inline(__always)
    func row(for key: UInt64) -> UnsafeMutablePointer<Float>? {
        guard let slot = index[key] else { return nil }
        return row(Int(slot))
    }

    /// The row of `key`, if present, stamped with `generation` because the
    /// caller is about to change it.
    @inline(__always)
    mutating func rowForUpdate(key: UInt64, generation: UInt64) -> UnsafeMutablePointer<Float>? {
        guard let slot = index[key].map(Int.init) else { return nil }
        stampChunks[slot >> chunkShift][slot & (chunkRows - 1)] = generation
        return row(slot)
    }

    /// Adds a slot for `key` (which must not be present), stamped `generation`,
    /// and returns its row, uninitialized: the caller fills all `rowWidth` floats.
    mutating func append(key: UInt64, generation: UInt64) -> UnsafeMutablePointer<Float> {
        assert(index[key] == nil, "key \(key) already has a row")
        if count == capacity { grow() }
        precondition(count < Int(UInt32.max), "a stripe holds at most 2^32 - 1 rows")
        let slot = count
        count += 1
        keyChunks[slot >> chunkShift][slot & (chunkRows - 1)] = key
        stampChunks[slot >> chunkShift][slot & (chunkRows - 1)] = generation
        if tracksAccess { accessChunks[slot >> chunkShift][slot & (chunkRows - 1)] = 0 }
        index[key] = UInt32(slot)
        if !removals.isEmpty { removals.removeValue(forKey: key) }
        return row(slot)
    }

    /// Deletes the row of `key`, recording a tombstone of `generation` unless it
    /// is nil (no checkpoint has begun, so none is needed); returns false if
    /// there was none. Moves the last row into the freed slot, and
    /// frees a trailing chunk once a whole spare chunk would remain (so
    /// alternating insert/remove does not thrash).
    mutating func remove(key: UInt64, generation: UInt64?) -> Bool {
        guard let removed = index.removeValue(forKey: key) else { return false }
        let slot = Int(removed), last = count - 1
        if slot != last {
            let lastKey = self.key(at: last)
            row(slot).update(from: row(last), count: rowWidth)
            keyChunks[slot >> chunkShift][slot & (chunkRows - 1)] = lastKey
            stampChunks[slot >> chunkShift][slot & (chunkRows - 1)] = stamp(at: last)
            if tracksAccess { accessChunks[slot >> chunkShift][slot & (chunkRows - 1)] = access(at: last) }
            index[lastKey] = removed
        }
        count -= 1
        if let generation { removals[key] = generation }
        if rowChunks.count >= 2 && count <= (rowChunks.count - 2) * chunkRows {
            rowChunks.removeLast().deallocate()
            keyChunks.removeLast().deallocate()
            stampChunks.removeLast().deallocate()
            if tracksAccess { accessChunks.removeLast().deallocate() }
        }
        return true
    }

    /// Drops the tombstones of generation `generation` or older.
    mutating func forgetRemovals(through generation: UInt64) {
        guard !removals.isEmpty else { return }
        removals = removals.filter { $0.value > generation }
    }

    /// Calls `body` with each slot's key and row, in slot order.
    func forEach<E: Error>(_ body: (UInt64, UnsafeMutablePointer<Float>) throws(E) -> Void) throws(E) {
        for slot in 0..<count {
            try body(key(at: slot), row(slot))
        }
    }

    /// Calls `body` with the key and row of each slot stamped after `generation`, in slot order.
    func forEach<E: Error>(
        changedAfter generation: UInt64, _ body: (UInt64, UnsafeMutablePointer<Float>) throws(E) -> Void
    ) throws(E) {
        for slot in 0..<count where stamp(at: slot) > generation {
            try body(key(at: slot), row(slot))
        }
    }

    private mutating func grow() {
        if rowChunks.isEmpty {
            firstChunkRows = min(16, chunkRows)
            rowChunks.append(.allocate(capacity: firstChunkRows * rowWidth))
            keyChunks.append(.allocate(capacity: firstChunkRows))
            stampChunks.append(.allocate(capacity: firstChunkRows))
            if tracksAccess { accessChunks.append(.allocate(capacity: firstChunkRows)) }
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
            let stamps = UnsafeMutablePointer<UInt64>.allocate(capacity: newRows)
            stamps.moveInitialize(from: stampChunks[0], count: count)
            stampChunks[0].deallocate()
            stampChunks[0] = stamps
            if tracksAccess {
                let ticks = UnsafeMutablePointer<UInt32>.allocate(capacity: newRows)
                ticks.moveInitialize(from: accessChunks[0], count: count)
                accessChunks[0].deallocate()
                accessChunks[0] = ticks
            }
            firstChunkRows = newRows
        } else {
            rowChunks.append(.allocate(capacity: chunkRows * rowWidth))
            keyChunks.append(.allocate(capacity: chunkRows))
            stampChunks.append(.allocate(capacity: chunkRows))
            if tracksAccess { accessChunks.append(.allocate(capacity: chunkRows)) }
        }
    }
}

/// A `RowStripe` behind its own lock.
final class LockedStripe: Sendable {
    let rows: Mutex<RowStripe>

    init(rowWidth: Int, chunkRows: Int, tracksAccess: Bool = false) {
        rows = Mutex(RowStripe(rowWidth: rowWidth, chunkRows: chunkRows, tracksAccess: tracksAccess))
    }
}
