/// Whole-row access for checkpoints, restore, eviction, stats and tests.
extension EmbeddingTable {
    /// Rows currently stored. Locks each stripe in turn, so under concurrent
    /// pulls the result is a moment-by-moment sum, not a snapshot.
    public var rowCount: Int {
        stripes.reduce(0) { sum, stripe in sum + stripe.rows.withLock { $0.count } }
    }

    /// Bytes held: allocated slab chunks (including not-yet-used slots) and keys,
    /// plus an estimate of the key index's bytes.
    public var bytesUsed: Int {
        stripes.reduce(0) { sum, stripe in sum + stripe.rows.withLock { $0.bytesUsed } }
    }

    /// The bytes the rows themselves need: `rowCount * (dim + stateWidth) * 4`.
    public var rawBytes: Int {
        rowCount * (dim + stateWidth) * MemoryLayout<Float>.size
    }

    /// Calls `body` with every row's key, value (dim floats) and state
    /// (stateWidth floats), stripe by stripe, in the order rows were created
    /// within a stripe (removals reorder).
    ///
    /// Each stripe is locked while its rows are visited, so each stripe is seen
    /// as one consistent snapshot, while other stripes stay available. `body`
    /// must not call back into this table (the stripe lock is not reentrant),
    /// and the buffers are valid only during the call.
    public func forEachRow<E: Error>(
        _ body: (_ key: UInt64, _ value: UnsafeBufferPointer<Float>, _ state: UnsafeBufferPointer<Float>) throws(E) -> Void
    ) throws(E) {
        let dim = self.dim, width = stateWidth
        for stripe in stripes {
            let failure: E? = stripe.rows.withLock { rows in
                do throws(E) {
                    try rows.forEach { (key, row) throws(E) in
                        try body(key, UnsafeBufferPointer(start: row, count: dim), UnsafeBufferPointer(start: row + dim, count: width))
                    }
                    return nil
                } catch {
                    return error
                }
            }
            if let failure { throw failure }
        }
    }

    /// A copy of the row of `key` and its state, or nil if the table has no such
    /// row. Does not create the row.
    public func row(for key: UInt64) -> (value: [Float], state: [Float])? {
        let dim = self.dim, width = stateWidth
        return stripes[stripeIndex(for: key)].rows.withLock { rows -> (value: [Float], state: [Float])? in
            guard let row = rows.row(for: key) else { return nil }
            return (Array(UnsafeBufferPointer(start: row, count: dim)),
                    Array(UnsafeBufferPointer(start: row + dim, count: width)))
        }
    }

    /// Stores a row, replacing any existing row of `key`.
    ///
    /// `state` must hold `stateWidth` floats (a checkpointed state, trusted as
    /// is) or be empty, in which case the state is initialized as for a new row
    /// with this value (e.g. to import pretrained embeddings; for FTRL this sets
    /// z so the weight is `value`). Throws `TableError` on a size mismatch.
    public func insert(key: UInt64, value: [Float], state: [Float] = []) throws(TableError) {
        let dim = self.dim, width = stateWidth
        guard value.count == dim else {
            throw .sizeMismatch("insert of row \(key): value", expected: dim, got: value.count)
        }
        guard state.count == width || state.isEmpty else {
            throw .sizeMismatch("insert of row \(key): \(optimizer.spec.name) state", expected: width, got: state.count)
        }
        let optimizer = self.optimizer
        stripes[stripeIndex(for: key)].rows.withLock { rows in
            let generation = currentGeneration
            let row = rows.rowForUpdate(key: key, generation: generation) ?? rows.append(key: key, generation: generation)
            value.withUnsafeBufferPointer { row.update(from: $0.baseAddress!, count: dim) }
            if state.isEmpty {
                optimizer.initializeState(row + dim, value: row)
            } else {
                state.withUnsafeBufferPointer { (row + dim).update(from: $0.baseAddress!, count: width) }
            }
            if lifecycle != nil, let slot = rows.slot(of: key) { rows.touch(slot: slot, tick: clock()) }
        }
    }

    /// Deletes the rows of `keys` (for eviction); returns how many existed.
    /// A deleted key that is pulled again gets a freshly initialized row.
    /// Once a checkpoint has begun, each deletion leaves a tombstone for the
    /// next incremental checkpoint.
    @discardableResult
    public func remove(keys: [UInt64]) -> Int {
        var removed = 0
        for key in keys {
            let gone = stripes[stripeIndex(for: key)].rows.withLock { rows in
                let generation = currentGeneration
                return rows.remove(key: key, generation: generation > 1 ? generation : nil)
            }
            if gone { removed += 1 }
        }
        return removed
    }
}
