/// Change tracking and bulk row copies, for checkpoints and restore.
///
/// Every row carries the generation of its last change. A checkpoint calls
/// `advanceGeneration()` first (getting `G`); changes made from then on are
/// stamped `G + 1`. It then copies rows stripe by stripe: a full checkpoint all
/// of them, an incremental one those stamped after the previous checkpoint's
/// `G`. Because a change reads the generation inside its stripe's lock, a
/// change that lands after the copy of its stripe is stamped `G + 1` and so is
/// in the next incremental; one that lands before is in this copy.
extension EmbeddingTable {
    /// The rows (and tombstones) of one stripe, copied under its lock.
    public struct StripeSnapshot: Sendable {
        /// Keys of the copied rows.
        public var keys: [UInt64] = []
        /// `keys.count * rowWidth` floats: each row's value (dim floats), then its state.
        public var rows: [Float] = []
        /// Keys removed after the requested generation (incremental snapshots only).
        public var removed: [UInt64] = []
    }

    /// Floats per stored row: value then optimizer state.
    public var rowWidth: Int { dim + stateWidth }

    /// The generation stamped on rows changed now.
    public var changeGeneration: UInt64 {
        generation.load(ordering: .acquiring)
    }

    /// Starts a new generation and returns the previous one, `G`: every change
    /// made before this call is stamped at most `G`, every later one `G + 1` or
    /// more. From the first call on, removals leave tombstones.
    public func advanceGeneration() -> UInt64 {
        generation.add(1, ordering: .sequentiallyConsistent).oldValue
    }

    /// Calls `body` once per stripe with a copy of its rows: all of them when
    /// `changedAfter` is nil, else only rows stamped after that generation plus
    /// the keys removed after it.
    ///
    /// Each stripe's lock is held only while it is copied, not while `body`
    /// runs, so pulls and pushes wait at most for the copy of one stripe.
    /// Stripes with nothing to report are skipped.
    public func forEachStripeSnapshot<E: Error>(
        changedAfter: UInt64?, _ body: (StripeSnapshot) throws(E) -> Void
    ) throws(E) {
        let width = rowWidth
        for stripe in stripes {
            let snapshot = stripe.rows.withLock { rows -> StripeSnapshot in
                var snapshot = StripeSnapshot()
                if let base = changedAfter {
                    rows.forEach(changedAfter: base) { key, row in
                        snapshot.keys.append(key)
                        snapshot.rows.append(contentsOf: UnsafeBufferPointer(start: row, count: width))
                    }
                    for (key, removedAt) in rows.removals where removedAt > base {
                        snapshot.removed.append(key)
                    }
                } else {
                    snapshot.keys.reserveCapacity(rows.count)
                    snapshot.rows.reserveCapacity(rows.count * width)
                    rows.forEach { key, row in
                        snapshot.keys.append(key)
                        snapshot.rows.append(contentsOf: UnsafeBufferPointer(start: row, count: width))
                    }
                }
                return snapshot
            }
            if !snapshot.keys.isEmpty || !snapshot.removed.isEmpty { try body(snapshot) }
        }
    }

    /// Drops the tombstones of removals stamped `generation` or older (they are
    /// in a durable checkpoint now).
    public func forgetRemovals(through generation: UInt64) {
        for stripe in stripes {
            stripe.rows.withLock { $0.forgetRemovals(through: generation) }
        }
    }

    /// Stores whole rows (value then state, `rowWidth` floats each, as in a
    /// `StripeSnapshot`), replacing existing rows of the same keys. States are
    /// trusted as is. Keys must be unique.
    ///
    /// Throws `TableError` (and changes nothing) if `rows.count != keys.count * rowWidth`.
    public func insert(keys: UnsafeBufferPointer<UInt64>, rows: UnsafeBufferPointer<Float>) throws(TableError) {
        let width = rowWidth
        guard rows.count == keys.count * width else {
            throw .sizeMismatch("insert of \(keys.count) rows of width \(width)", expected: keys.count * width, got: rows.count)
        }
        guard let keyBase = keys.baseAddress, let source = rows.baseAddress else { return }
        let tick = lifecycle == nil ? 0 : clock()
        _ = forEachStripeGroup(keys) { stripe, order in
            let generation = currentGeneration
            for i in order {
                let key = keyBase[i]
                let row = stripe.rowForUpdate(key: key, generation: generation) ?? stripe.append(key: key, generation: generation)
                row.update(from: source + i * width, count: width)
                if lifecycle != nil, let slot = stripe.slot(of: key) { stripe.touch(slot: slot, tick: tick) }
            }
            return 0
        }
    }

    /// Array form of `insert(keys:rows:)`.
    public func insert(keys: [UInt64], rows: [Float]) throws(TableError) {
        let result: Result<Void, TableError> = keys.withUnsafeBufferPointer { k in
            rows.withUnsafeBufferPointer { r in Result { () throws(TableError) in try insert(keys: k, rows: r) } }
        }
        try result.get()
    }
}
