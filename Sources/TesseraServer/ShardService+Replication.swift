import Foundation
import TesseraCore
import TesseraRPC

/// Replication: the leader's side (forwarding every acknowledged change before
/// answering) and the follower's (`Replicate`, `Promote`).
extension ShardService {
    /// Whether this process follows its shard's leader (it serves no data calls then).
    public var isFollowing: Bool {
        followingFlag.load(ordering: .acquiring)
    }

    /// Makes this shard a follower: from now on it refuses Pull, Push and the
    /// other data calls and applies only what its leader sends, until promoted.
    /// Call before it serves.
    public func startFollowing() {
        followingFlag.store(true, ordering: .releasing)
    }

    /// Sends this leader's changes to the follower that the shard map names for it.
    /// Call before it serves; `update(routing:)` keeps the follower's address current.
    public func attach(_ replicator: Replicator) {
        self.replicator.withLock { $0 = replicator }
        if let routing = routing.withLock({ $0 }) { followerChanged(routing) }
    }

    /// The replicator's state, for status and metrics.
    public var followerState: Replicator.FollowerState {
        replicator.withLock { $0 }?.state ?? .none
    }

    /// Replication counters: the follower's state; batches forwarded (leader) or applied (follower); failed batches.
    public var replicationCounts: (state: Replicator.FollowerState, batches: UInt64, failures: UInt64) {
        let replicator = self.replicator.withLock { $0 }
        return (replicator?.state ?? .none, isFollowing ? appliedBatches.load(ordering: .relaxed) : replicator?.forwardedBatches ?? 0,
                replicator?.failedBatches ?? 0)
    }

    /// Points the replicator at the follower `routing` names for this shard.
    func followerChanged(_ routing: ShardRouting) {
        guard let replicator = replicator.withLock({ $0 }) else { return }
        try? replicator.update(followerAddress: isFollowing ? nil : routing.followers[shardID])
        for table in tables.values { table.replication.isRecording = replicator.isActive }
    }

    /// Refuses data calls while this process is a follower.
    func checkLeading() throws {
        guard !isFollowing else {
            throw RPCError(.unavailable, "this process follows shard \(shardID) (replication) and serves no calls until it is promoted; route with the current shard map")
        }
    }

    // MARK: Leader

    /// Sends the rows of `keys` (and the table's pending evictions) to the
    /// follower, waiting for its answer. Nothing to do without an active follower.
    func replicate(table: EmbeddingTable, keys: [UInt64], producer: String = "", sequence: UInt64 = 0,
                   sequenceTable: String = "") async throws {
        guard !isFollowing, let replicator = replicator.withLock({ $0 }), replicator.isActive else { return }
        var batch = table.replicaBatch(keys: keys)
        let evicted = table.replication.drainRemovals()
        batch.removed += evicted.keys
        batch.removedVersions += evicted.versions
        var request = Self.request(shardID: shardID, table: table.spec.name, batch: batch)
        if !producer.isEmpty {
            request.producer = producer
            request.sequence = sequence
            request.sequenceTable = sequenceTable
        }
        try await replicator.forward(request)
    }

    /// Sends applied feedback counters (and their producer's sequence) to the follower.
    func replicate(counters update: Tessera_V1_UpdateCountersRequest) async throws {
        guard !isFollowing, let replicator = replicator.withLock({ $0 }), replicator.isActive else { return }
        var request = Tessera_V1_ReplicateRequest()
        request.shardID = shardID
        request.table = update.table
        request.counters = update.deltas
        if !update.producer.isEmpty {
            request.producer = update.producer
            request.sequence = update.sequence
            request.sequenceTable = "counters/\(update.table)"
        }
        try await replicator.forward(request)
    }

    /// Sends evictions made since the last batch (TTL sweeps, the row cap on
    /// pulls) to the follower. The TTL sweeper calls it every second.
    public func flushEvictions() async throws {
        guard !isFollowing, let replicator = replicator.withLock({ $0 }), replicator.isActive else { return }
        for name in tableOrder {
            guard let table = tables[name] else { continue }
            let evicted = table.replication.drainRemovals()
            guard !evicted.keys.isEmpty else { continue }
            var batch = ReplicaBatch()
            batch.removed = evicted.keys
            batch.removedVersions = evicted.versions
            try await replicator.forward(Self.request(shardID: shardID, table: name, batch: batch))
        }
    }

    static func request(shardID: UInt32, table: String, batch: ReplicaBatch) -> Tessera_V1_ReplicateRequest {
        var request = Tessera_V1_ReplicateRequest()
        request.shardID = shardID
        request.table = table
        request.keys = batch.keys
        request.rows = batch.rows.withUnsafeBufferPointer { (try? RowPayload.encode($0, as: .float32)) ?? Data() }
        request.versions = batch.versions
        request.removedKeys = batch.removed
        request.removedVersions = batch.removedVersions
        return request
    }

    // MARK: Follower

    public func replicate(_ request: Tessera_V1_ReplicateRequest, context: ServerContext) async throws -> Tessera_V1_ReplicateResponse {
        if request.targetMapVersion != 0 { return try await receiveMigrated(request) }
        guard isFollowing else {
            throw RPCError(.failedPrecondition, "shard \(shardID) is a leader, not a follower; it takes no Replicate")
        }
        guard request.shardID == shardID else {
            throw RPCError(.failedPrecondition, "shard_id: this process follows shard \(shardID), not shard \(request.shardID)")
        }
        var response = Tessera_V1_ReplicateResponse()
        if !request.producer.isEmpty {
            // Sequences only grow on the leader, so the highest one seen is the leader's, whatever the order.
            sequences.withLock { last in
                let key = "\(request.producer)/\(request.sequenceTable)"
                last[key] = max(last[key, default: 0], request.sequence)
            }
        }
        guard !request.table.isEmpty else { return response }
        if !request.counters.isEmpty {
            let index = try servedIndex(request.table)
            index.addCounts(request.counters.map { ($0.key, $0.userGroup, $0.impressions, $0.clicks) })
            response.applied += UInt64(request.counters.count)
        }
        guard !request.keys.isEmpty || !request.removedKeys.isEmpty else {
            appliedBatches.add(1, ordering: .relaxed)
            return response
        }
        let table = try self.table(request.table)
        response.applied += UInt64(try applyReplicaRequest(request, to: table))
        appliedBatches.add(1, ordering: .relaxed)
        return response
    }

    /// Applies the versioned rows and removals of `request` to `table` (and its serving index); returns the rows stored or removed.
    func applyReplicaRequest(_ request: Tessera_V1_ReplicateRequest, to table: EmbeddingTable) throws -> Int {
        var batch = ReplicaBatch()
        batch.keys = request.keys
        batch.versions = request.versions
        batch.removed = request.removedKeys
        batch.removedVersions = request.removedVersions
        batch.rows = [Float](repeating: 0, count: request.keys.count * table.rowWidth)
        try batch.rows.withUnsafeMutableBufferPointer { output in
            try RowPayload.decode(request.rows, as: .float32, into: output, field: "rows")
        }
        let applied: Int
        do {
            applied = try table.applyReplica(batch)
        } catch {
            throw RPCError(.invalidArgument, "\(error)", cause: error)
        }
        if let index = indexes[request.table] {
            let keys = request.keys + request.removedKeys
            index.apply(keys: keys) { keys in (try? table.lookupArray(keys)) ?? [] }
        }
        return applied
    }

    public func promote(_ request: Tessera_V1_PromoteRequest, context: ServerContext) async throws -> Tessera_V1_PromoteResponse {
        guard request.shardID == shardID else {
            throw RPCError(.failedPrecondition, "shard_id: this process is shard \(shardID)'s, not shard \(request.shardID)'s")
        }
        guard var routing = self.routing.withLock({ $0 }) else {
            throw RPCError(.unavailable, "shard \(shardID) has no shard map yet; retry shortly")
        }
        if isFollowing {
            followingFlag.store(false, ordering: .releasing)
            for table in tables.values { table.resetReplicaVersions() }
        }
        // Promotion moves no key: the map it names differs only in this shard's address (ours now) and
        // follower; the full map arrives with the next heartbeat.
        if request.shardMapVersion > routing.version {
            routing.version = request.shardMapVersion
            routing.followers[shardID] = nil
            update(routing: routing)
        }
        var response = Tessera_V1_PromoteResponse()
        response.rows = UInt64(tables.values.reduce(0) { $0 + $1.rowCount })
        return response
    }
}
