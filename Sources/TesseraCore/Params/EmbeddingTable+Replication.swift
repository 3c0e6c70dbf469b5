import Synchronization

/// A leader table's replication clock and the evictions its follower has not
/// heard of yet.
///
/// Every version is taken while the lock of the row's stripe is held, so for
/// one key the versions follow the order in which its row changed: a follower
/// that keeps the highest version per key converges to the leader's rows
/// whatever order (or how often) batches arrive. Thread-safe.
public final class TableReplicationLog: Sendable {
    private let clock = Atomic<UInt64>(0)
    private let recording = Atomic<Bool>(false)
    private let removals = Mutex<(keys: [UInt64], versions: [UInt64])>(([], []))

    public init() {}

    /// Whether evictions are recorded for a follower (set by a leader that has one).
    public var isRecording: Bool {
        get { recording.load(ordering: .relaxed) }
        set { recording.store(newValue, ordering: .relaxed) }
    }

    /// The next version. Call with the stripe lock of the rows it stamps held.
    @inline(__always)
    func nextVersion() -> UInt64 {
        clock.add(1, ordering: .relaxed).newValue
    }

    /// Records that `key` was deleted by the lifecycle (call with its stripe lock held).
    func recordRemoval(of key: UInt64) {
        guard isRecording else { return }
        let version = nextVersion()
        removals.withLock {
            $0.keys.append(key)
            $0.versions.append(version)
        }
    }

    /// The evictions recorded since the last call, with their versions.
    public func drainRemovals() -> (keys: [UInt64], versions: [UInt64]) {
        removals.withLock { pending in
            defer { pending = ([], []) }
            return pending
        }
    }
}

/// Whole rows of one table with their replication versions, as a leader sends
/// them to its follower.
public struct ReplicaBatch: Sendable, Equatable {
    /// Keys whose rows are in `rows`.
    public var keys: [UInt64] = []
    /// `keys.count * rowWidth` floats: each row's value, then its optimizer state.
    public var rows: [Float] = []
    /// One version per key.
    public var versions: [UInt64] = []
    /// Keys without a row on the leader (deleted), with their versions.
    public var removed: [UInt64] = []
    public var removedVersions: [UInt64] = []

    public init() {}

    public var isEmpty: Bool { keys.isEmpty && removed.isEmpty }
}

/// Replication: a leader copies changed rows out with versions, a follower applies them.
extension EmbeddingTable {
    /// The current rows of `keys` (value and state) for the follower, each
    /// stamped with a fresh version under its stripe's lock; keys without a
    /// row are listed as removed. Call after changing the rows (push, assign).
    public func replicaBatch(keys: [UInt64]) -> ReplicaBatch {
        let width = rowWidth
        var batch = ReplicaBatch()
        batch.keys.reserveCapacity(keys.count)
        batch.rows.reserveCapacity(keys.count * width)
        batch.versions.reserveCapacity(keys.count)
        keys.withUnsafeBufferPointer { keys in
            guard let keyBase = keys.baseAddress else { return }
            _ = forEachStripeGroup(keys) { stripe, order in
                let version = replication.nextVersion()
                for i in order {
                    let key = keyBase[i]
                    if let row = stripe.row(for: key) {
                        batch.keys.append(key)
                        batch.rows.append(contentsOf: UnsafeBufferPointer(start: row, count: width))
                        batch.versions.append(version)
                    } else {
                        batch.removed.append(key)
                        batch.removedVersions.append(version)
                    }
                }
                return 0
            }
        }
        return batch
    }

    /// Applies a leader's batch on a follower: each row or removal whose version
    /// is above the highest applied for its key replaces what is there; older
    /// ones are ignored. Returns the rows stored or removed.
    ///
    /// Throws `TableError` (and changes nothing) when the sizes do not match.
    @discardableResult
    public func applyReplica(_ batch: ReplicaBatch) throws(TableError) -> Int {
        let width = rowWidth
        guard batch.rows.count == batch.keys.count * width, batch.versions.count == batch.keys.count else {
            throw .sizeMismatch("replica of \(batch.keys.count) rows of width \(width) (and one version each)",
                                expected: batch.keys.count * width, got: batch.rows.count)
        }
        guard batch.removedVersions.count == batch.removed.count else {
            throw .sizeMismatch("replica removals (one version each)", expected: batch.removed.count, got: batch.removedVersions.count)
        }
        var applied = 0
        let tick = lifecycle == nil ? 0 : clock()
        batch.keys.withUnsafeBufferPointer { keys in
            batch.rows.withUnsafeBufferPointer { rows in
                guard let keyBase = keys.baseAddress, let source = rows.baseAddress else { return }
                applied += forEachStripeGroup(keys) { stripe, order in
                    let generation = currentGeneration
                    var stored = 0
                    for i in order {
                        let key = keyBase[i], version = batch.versions[i]
                        guard version > stripe.replicaVersions[key, default: 0] else { continue }
                        stripe.replicaVersions[key] = version
                        let row = stripe.rowForUpdate(key: key, generation: generation) ?? stripe.append(key: key, generation: generation)
                        row.update(from: source + i * width, count: width)
                        if lifecycle != nil, let slot = stripe.slot(of: key) { stripe.touch(slot: slot, tick: tick) }
                        stored += 1
                    }
                    return stored
                }
            }
        }
        batch.removed.withUnsafeBufferPointer { keys in
            guard let keyBase = keys.baseAddress else { return }
            applied += forEachStripeGroup(keys) { stripe, order in
                let generation = currentGeneration
                var removed = 0
                for i in order {
                    let key = keyBase[i], version = batch.removedVersions[i]
                    guard version > stripe.replicaVersions[key, default: 0] else { continue }
                    stripe.replicaVersions[key] = version
                    if stripe.remove(key: key, generation: generation > 1 ? generation : nil) { removed += 1 }
                }
                return removed
            }
        }
        return applied
    }

    /// Forgets the follower's per-key versions (after a restore replaced every
    /// row, or on promotion, when versions no longer arrive).
    public func resetReplicaVersions() {
        for stripe in stripes {
            stripe.rows.withLock { $0.replicaVersions = [:] }
        }
    }
}
