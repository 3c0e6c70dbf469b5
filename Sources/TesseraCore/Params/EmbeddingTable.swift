import Synchronization

/// The rows of one embedding table on one shard, with their optimizer state:
/// pull (creating unseen rows) and push (one optimizer step per key).
///
/// Thread safety: every method may be called from any thread concurrently. Keys
/// are spread over `stripeCount` lock stripes by a hash of the key (salted
/// differently from the ring's and data sharding's hashes); a call locks each
/// stripe it touches once, so calls on different stripes proceed in parallel.
/// Within a call, rows of one stripe are handled atomically with respect to
/// other calls; a whole call is not atomic across stripes.
///
/// Memory: each row takes `(dim + stateWidth) * 4` bytes in chunked slabs plus
/// its key and generation stamp (16 bytes) and index entry (about 16–32 bytes);
/// see `RowStripe`.
///
/// Change tracking (for incremental checkpoints): every row carries the table
/// `generation` of its last change (creation, push, insert); removals leave a
/// tombstone once a checkpoint has begun. See `EmbeddingTable+Changes.swift`.
public final class EmbeddingTable: Sendable {
    public let spec: TableSpec
    public let optimizer: Optimizer
    /// Number of lock stripes (a power of two).
    public let stripeCount: Int
    let stripes: [LockedStripe]
    private let stripeMask: UInt64
    /// The generation stamped on rows changed now; starts at 1, advanced by
    /// `advanceGeneration()`. Read inside a stripe's lock (see there).
    let generation = Atomic<UInt64>(1)
    /// Admission, expiry and row cap (see `TableLifecycle`); nil keeps every row forever.
    let lifecycle: TableLifecycle?
    /// Rows each stripe may hold (`lifecycle.maxRows / stripeCount`, at least 1); 0: no cap.
    let stripeCap: Int
    /// Seconds since the table began, as the tick stamped on used rows.
    let clock: @Sendable () -> UInt32
    /// Lifecycle counters (see `LifecycleCounts`).
    let counts = LifecycleCounters()
    /// Versions and recorded evictions for a follower (see `EmbeddingTable+Replication.swift`).
    public let replication = TableReplicationLog()

    /// Salt of the key → stripe hash ("stripes!"), distinct from the ring's.
    private static let stripeSalt: UInt64 = 0x7374_7269_7065_7321

    /// Creates an empty table. Throws `TableError.invalidSpec` if `spec.validate()` fails.
    ///
    /// - Parameters:
    ///   - stripeCount: lock stripes, a power of two (precondition).
    ///   - chunkRows: rows per slab chunk, a power of two (precondition).
    ///   - clock: the current tick in seconds (default: seconds since the table was made); tests inject one.
    public init(spec: TableSpec, stripeCount: Int = 64, chunkRows: Int = 1024,
                clock: (@Sendable () -> UInt32)? = nil) throws(TableError) {
        try spec.validate()
        precondition(stripeCount > 0 && stripeCount & (stripeCount - 1) == 0, "stripeCount must be a power of two")
        precondition(chunkRows > 0 && chunkRows & (chunkRows - 1) == 0, "chunkRows must be a power of two")
        self.spec = spec
        self.optimizer = Optimizer(spec.optimizer, dim: spec.dim)
        self.stripeCount = stripeCount
        self.stripeMask = UInt64(stripeCount - 1)
        let rowWidth = spec.dim + optimizer.stateWidth
        let lifecycle = spec.lifecycle == TableLifecycle() ? nil : spec.lifecycle
        self.lifecycle = lifecycle
        self.stripeCap = (lifecycle?.maxRows ?? 0) > 0 ? max(1, (lifecycle!.maxRows + stripeCount - 1) / stripeCount) : 0
        let tracksAccess = lifecycle?.tracksAccess ?? false
        self.stripes = (0..<stripeCount).map { _ in LockedStripe(rowWidth: rowWidth, chunkRows: chunkRows, tracksAccess: tracksAccess) }
        if let clock {
            self.clock = clock
        } else {
            let start = ContinuousClock.now
            self.clock = { UInt32(clamping: Int((ContinuousClock.now - start).components.seconds)) }
        }
    }

    /// Floats per row value.
    public var dim: Int { spec.dim }
    /// Floats of optimizer state per row.
    public var stateWidth: Int { optimizer.stateWidth }

    /// The stripe that holds `key` (for diagnostics and tests).
    @inline(__always)
    public func stripeIndex(for key: UInt64) -> Int {
        Int(truncatingIfNeeded: Hashing.combine(key, Self.stripeSalt) & stripeMask)
    }

    // MARK: Pull and push

    /// Copies the rows of `keys` into `output` (row `i` at `[i*dim, (i+1)*dim)`),
    /// creating unseen rows with the table's initializer. Returns how many rows
    /// were created. Keys may repeat.
    ///
    /// Throws `TableError` (and changes nothing) if `output.count != keys.count * dim`.
    @discardableResult
    public func pull(keys: UnsafeBufferPointer<UInt64>, into output: UnsafeMutableBufferPointer<Float>) throws(TableError) -> Int {
        let dim = self.dim
        guard output.count == keys.count * dim else {
            throw .sizeMismatch("pull of \(keys.count) keys of dim \(dim) into output", expected: keys.count * dim, got: output.count)
        }
        guard let keyBase = keys.baseAddress, let out = output.baseAddress else { return 0 }
        guard let lifecycle else {
            return forEachStripeGroup(keys) { stripe, order in
                var created = 0
                for i in order {
                    let key = keyBase[i]
                    var row = stripe.row(for: key)
                    if row == nil {
                        row = createRow(in: &stripe, key: key, generation: currentGeneration)
                        created += 1
                    }
                    (out + i * dim).update(from: row.unsafelyUnwrapped, count: dim)
                }
                return created
            }
        }
        let tick = clock()
        return forEachStripeGroup(keys) { stripe, order in
            var created = 0
            for i in order {
                let key = keyBase[i]
                if let row = stripe.row(for: key, touching: tick) {
                    (out + i * dim).update(from: row, count: dim)
                    continue
                }
                if lifecycle.admitAfter > 1 && !admit(key, in: &stripe) {
                    // Not admitted yet: answer the row it would start with, store nothing.
                    spec.initializer.initializeRow(out + i * dim, dim: dim, key: key, tableSeed: spec.seed)
                    continue
                }
                let row = createRow(in: &stripe, key: key, generation: currentGeneration)
                if let slot = stripe.slot(of: key) { stripe.touch(slot: slot, tick: tick) }
                created += 1
                (out + i * dim).update(from: row, count: dim)
                enforceCap(in: &stripe, keeping: key)
            }
            return created
        }
    }

    /// Applies one optimizer step to the row of each key with its gradient
    /// (`gradients[i*dim ..< (i+1)*dim]` for `keys[i]`), creating unseen rows
    /// first. Returns how many rows were created.
    ///
    /// Precondition (asserted in debug builds): keys are unique — aggregate the
    /// gradients of a key before pushing. In release builds a repeated key gets
    /// one step per occurrence, in order.
    /// Throws `TableError` (and changes nothing) if `gradients.count != keys.count * dim`.
    @discardableResult
    public func push(keys: UnsafeBufferPointer<UInt64>, gradients: UnsafeBufferPointer<Float>) throws(TableError) -> Int {
        let dim = self.dim
        guard gradients.count == keys.count * dim else {
            throw .sizeMismatch("push of \(keys.count) keys of dim \(dim) with gradients", expected: keys.count * dim, got: gradients.count)
        }
        assert(Set(keys).count == keys.count, "push keys must be unique; aggregate gradients per key first")
        guard let keyBase = keys.baseAddress, let grad = gradients.baseAddress else { return 0 }
        let optimizer = self.optimizer
        return forEachStripeGroup(keys) { stripe, order in
            var created = 0
            let generation = currentGeneration
            let tick = lifecycle == nil ? 0 : clock()
            for i in order {
                let key = keyBase[i]
                var row = stripe.rowForUpdate(key: key, generation: generation)
                if row == nil {
                    if let lifecycle, lifecycle.admitAfter > 1 {
                        // A key not admitted has no row to train: the step is dropped.
                        counts.droppedPushes.add(1, ordering: .relaxed)
                        continue
                    }
                    row = createRow(in: &stripe, key: key, generation: generation)
                    created += 1
                    if lifecycle != nil { enforceCap(in: &stripe, keeping: key) }
                    row = stripe.row(for: key)
                }
                if lifecycle != nil, let slot = stripe.slot(of: key) { stripe.touch(slot: slot, tick: tick) }
                let value = row.unsafelyUnwrapped
                optimizer.step(value: value, state: value + dim, gradient: grad + i * dim)
            }
            return created
        }
    }

    /// Copies the rows of `keys` that exist into `output`, like `pull`, but
    /// creates nothing: a missing key's row is zeros and its index is returned.
    ///
    /// Serving reads with this, so a query for an unknown user or item never
    /// grows the table. Throws `TableError` if `output.count != keys.count * dim`.
    public func lookup(keys: UnsafeBufferPointer<UInt64>, into output: UnsafeMutableBufferPointer<Float>) throws(TableError) -> [Int] {
        let dim = self.dim
        guard output.count == keys.count * dim else {
            throw .sizeMismatch("lookup of \(keys.count) keys of dim \(dim) into output", expected: keys.count * dim, got: output.count)
        }
        guard let keyBase = keys.baseAddress, let out = output.baseAddress else { return [] }
        var missing: [Int] = []
        _ = forEachStripeGroup(keys) { stripe, order in
            for i in order {
                if let row = stripe.row(for: keyBase[i]) {
                    (out + i * dim).update(from: row, count: dim)
                } else {
                    (out + i * dim).update(repeating: 0, count: dim)
                    missing.append(i)
                }
            }
            return 0
        }
        return missing.sorted()
    }

    /// Array form of `pull(keys:into:)`: `output` must hold `keys.count * dim` floats.
    @discardableResult
    public func pull(keys: [UInt64], into output: inout [Float]) throws(TableError) -> Int {
        let created: Result<Int, TableError> = keys.withUnsafeBufferPointer { k in
            output.withUnsafeMutableBufferPointer { o in Result { () throws(TableError) in try pull(keys: k, into: o) } }
        }
        return try created.get()
    }

    /// Array form of `pull(keys:into:)` returning the rows (`keys.count * dim` floats).
    public func pull(keys: [UInt64]) throws(TableError) -> [Float] {
        var output = [Float](repeating: 0, count: keys.count * dim)
        try pull(keys: keys, into: &output)
        return output
    }

    /// Array form of `push(keys:gradients:)`.
    @discardableResult
    public func push(keys: [UInt64], gradients: [Float]) throws(TableError) -> Int {
        let created: Result<Int, TableError> = keys.withUnsafeBufferPointer { k in
            gradients.withUnsafeBufferPointer { g in Result { () throws(TableError) in try push(keys: k, gradients: g) } }
        }
        return try created.get()
    }

    // MARK: Grouping by stripe

    /// Buckets the indices of `keys` by stripe (counting sort, stable) and calls
    /// `body` once per non-empty stripe with its lock held and the ascending
    /// indices of its keys. Returns the sum of `body`'s results.
    func forEachStripeGroup(
        _ keys: UnsafeBufferPointer<UInt64>,
        _ body: (inout RowStripe, UnsafeBufferPointer<Int>) -> Int
    ) -> Int {
        let n = keys.count, s = stripeCount
        if s == 1 {
            return withUnsafeTemporaryAllocation(of: Int.self, capacity: n) { order in
                for i in 0..<n { order[i] = i }
                return stripes[0].rows.withLock { body(&$0, UnsafeBufferPointer(order)) }
            }
        }
        return withUnsafeTemporaryAllocation(of: Int.self, capacity: n + s + 1) { scratch in
            let order = UnsafeMutableBufferPointer(rebasing: scratch[0..<n])
            // bounds[t] ends as the start of stripe t's indices in `order`; bounds[s] = n.
            let bounds = UnsafeMutableBufferPointer(rebasing: scratch[n...])
            bounds.update(repeating: 0)
            for key in keys { bounds[stripeIndex(for: key)] += 1 }
            var running = 0
            for t in 0..<s {
                running += bounds[t]
                bounds[t] = running  // end of stripe t
            }
            bounds[s] = n
            var i = n
            while i > 0 {
                i -= 1
                let t = stripeIndex(for: keys[i])
                bounds[t] -= 1
                order[bounds[t]] = i
            }
            var total = 0
            for t in 0..<s where bounds[t] < bounds[t + 1] {
                let group = UnsafeBufferPointer(rebasing: order[bounds[t]..<bounds[t + 1]])
                total += stripes[t].rows.withLock { body(&$0, group) }
            }
            return total
        }
    }

    /// The generation to stamp on a change. Call it with a stripe's lock held:
    /// `advanceGeneration()` runs before a checkpoint locks any stripe, so a
    /// change made after the checkpoint visited this stripe gets the new generation.
    @inline(__always)
    var currentGeneration: UInt64 {
        generation.load(ordering: .acquiring)
    }

    /// Appends and initializes the row of `key` (value from the initializer, then
    /// optimizer state), stamped `generation`.
    @inline(__always)
    private func createRow(in stripe: inout RowStripe, key: UInt64, generation: UInt64) -> UnsafeMutablePointer<Float> {
        let row = stripe.append(key: key, generation: generation)
        spec.initializer.initializeRow(row, dim: spec.dim, key: key, tableSeed: spec.seed)
        optimizer.initializeState(row + spec.dim, value: row)
        return row
    }
}
