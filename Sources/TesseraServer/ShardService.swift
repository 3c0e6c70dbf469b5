import Foundation
import Synchronization
import TesseraCore
import TesseraRPC

/// One parameter-server shard: the tables' rows this shard owns, served over
/// `tessera.v1.ParameterServer`.
///
/// Thread-safe. Each table locks stripes of rows, so pulls and pushes on
/// different rows proceed in parallel. Requests are checked before any row is
/// touched: the table must exist, the shard-map version must be this shard's,
/// and every key must be owned by this shard under that map.
///
/// Served tables (the item table) also keep a `ServingIndex`: every change to
/// their rows reaches it as a versioned delta, in order, and `ScoreItems`
/// scores from it without touching the training rows' locks.
///
/// Checkpoints (`Checkpoint`) go to `ROOT/shard-<id>`; a shard can start from
/// such a chain (`init(shardID:restoring:…)`) and then extends it.
///
/// Replication (`ShardService+Replication.swift`): a leader with a `Replicator`
/// sends every change it acknowledges (pushed rows with their optimizer state,
/// assigned rows, evictions, counters, restores) to its follower before it
/// answers. A follower (`following`) refuses the data calls and applies what
/// its leader sends through `Replicate`, until `Promote` makes it the leader.
public final class ShardService: ParameterServerService {
    public let shardID: UInt32
    /// Largest row payload one Pull may ask for or one Push may carry (the gRPC message limit).
    public let maxPayloadBytes: Int
    /// Most items one ScoreItems may ask for (top-k plus pool).
    public let maxScoredItems = 100_000
    let tables: [String: EmbeddingTable]
    /// Table names in config order (checkpoints write tables in this order).
    let tableOrder: [String]
    let indexes: [String: ServingIndex]
    /// True while this process follows its shard's leader (see `Replicate`, `Promote`).
    let followingFlag = Atomic<Bool>(false)
    /// The link to this leader's follower; nil or inactive without replication.
    let replicator = Mutex<Replicator?>(nil)
    /// Replicate batches applied (a follower).
    let appliedBatches = Atomic<UInt64>(0)
    /// The writer of the checkpoint root in use (standardized path). One chain
    /// at a time: the tables' change tracking serves one chain, so a checkpoint
    /// to another root starts a new chain there (full) and drops this one.
    private let checkpointChain = Mutex<(root: String, writer: CheckpointWriter)?>(nil)
    let routing = Mutex<ShardRouting?>(nil)
    /// The live reshard under way, if any (`ShardService+Migration.swift`).
    let migration = Mutex<Migration?>(nil)
    /// Token and TLS of the channels this shard opens to other shards (reshard copies).
    let peerSecurity = Mutex<ClientSecurity>(.insecure)
    /// Last applied sequence per "producer/table" (idempotent pushes and counter updates).
    let sequences = Mutex<[String: UInt64]>([:])
    private let pullRequests = Atomic<UInt64>(0)
    private let pulledRows = Atomic<UInt64>(0)
    private let pushRequests = Atomic<UInt64>(0)
    private let pushedRows = Atomic<UInt64>(0)
    private let duplicates = Atomic<UInt64>(0)

    /// - Parameter served: tables to keep a serving index for (items to recommend).
    public convenience init(shardID: UInt32, tables specs: [TableSpec], served: [String] = [], maxPayloadBytes: Int = 64 << 20) throws {
        try self.init(shardID: shardID, tables: specs.map { try EmbeddingTable(spec: $0) }, served: served,
                      maxPayloadBytes: maxPayloadBytes)
    }

    /// A shard that starts from a restored checkpoint chain and extends it.
    ///
    /// Throws `CheckpointError(.mismatch)` when the checkpoint belongs to another
    /// shard id or shard count, or its tables do not fit `specs` (see
    /// `RestoredShard.tables(for:shardID:shardCount:)`); tables the checkpoint
    /// lacks start empty. Producer sequences (idempotent pushes) are restored
    /// too, and served tables' serving indexes are rebuilt from the rows.
    ///
    /// - Parameter root: the checkpoint root `restored` came from (`root/shard-<id>`).
    public convenience init(shardID: UInt32, restoring restored: RestoredShard, root: String, shardCount: Int,
                            tables specs: [TableSpec], served: [String] = [], maxPayloadBytes: Int = 64 << 20) throws {
        let fitted = try restored.tables(for: specs, shardID: shardID, shardCount: shardCount)
        let tables = try zip(specs, fitted).map { spec, table in try table ?? EmbeddingTable(spec: spec) }
        try self.init(shardID: shardID, tables: tables, served: served, maxPayloadBytes: maxPayloadBytes)
        sequences.withLock { $0 = restored.manifest.producerSequences }
        let writer = CheckpointWriter(continuing: restored, tables: tables)
        checkpointChain.withLock { $0 = (Self.standardized(root), writer) }
        for (name, index) in indexes {
            guard let table = self.tables[name] else { continue }
            var keys: [UInt64] = []
            table.forEachStripeSnapshot(changedAfter: nil) { keys += $0.keys }
            if !keys.isEmpty { index.apply(keys: keys) { keys in (try? table.lookupArray(keys)) ?? [] } }
        }
    }

    private init(shardID: UInt32, tables list: [EmbeddingTable], served: [String], maxPayloadBytes: Int) throws {
        self.shardID = shardID
        self.maxPayloadBytes = maxPayloadBytes
        var tables: [String: EmbeddingTable] = [:]
        var indexes: [String: ServingIndex] = [:]
        for table in list {
            tables[table.spec.name] = table
            if served.contains(table.spec.name) { indexes[table.spec.name] = ServingIndex(dim: table.dim) }
        }
        self.tables = tables
        self.tableOrder = list.map(\.spec.name)
        self.indexes = indexes
    }

    /// Starts serving under `routing` (the shard map); requests routed with another version are refused.
    public func update(routing: ShardRouting) {
        self.routing.withLock { $0 = routing }
        followerChanged(routing)
    }

    /// Token and TLS for calls this shard makes to other shards (a live reshard's copies). Call before it serves.
    public func usePeerSecurity(_ security: ClientSecurity) {
        peerSecurity.withLock { $0 = security }
    }

    var migrationSecurity: ClientSecurity { peerSecurity.withLock { $0 } }

    /// The shard-map version served, or nil before the first map.
    public var routingVersion: UInt64? {
        routing.withLock { $0?.version }
    }

    /// The table named `name`, for in-process use (tests, checkpoints).
    public func table(named name: String) -> EmbeddingTable? {
        tables[name]
    }

    /// The serving index of table `name`, if it is served.
    public func servingIndex(named name: String) -> ServingIndex? {
        indexes[name]
    }

    // MARK: Pull and push

    public func pull(_ request: Tessera_V1_PullRequest, context: ServerContext) async throws -> Tessera_V1_PullResponse {
        try checkLeading()
        let table = try self.table(request.table)
        guard let width = RowPayload.bytesPerValue(request.encoding) else {
            throw RPCError(.invalidArgument, "encoding: unknown row encoding \(request.encoding.rawValue)")
        }
        let dim = table.dim
        let bytes = request.keys.count * dim * width
        guard bytes <= maxPayloadBytes - 1024 else {
            throw RPCError(.invalidArgument,
                           "keys: \(request.keys.count) rows of dimension \(dim) need \(bytes) bytes, over the \(maxPayloadBytes >> 20) MiB message limit; split the request")
        }
        try checkRouting(version: request.shardMapVersion, keys: request.keys)
        var response = Tessera_V1_PullResponse()
        response.dim = UInt32(dim)
        response.encoding = request.encoding
        var rows = [Float](repeating: 0, count: request.keys.count * dim)
        if request.readOnly {
            let missing = try rows.withUnsafeMutableBufferPointer { output in
                try request.keys.withUnsafeBufferPointer { try table.lookup(keys: $0, into: output) }
            }
            response.missing = missing.map { UInt32($0) }
        } else {
            let created = try rows.withUnsafeMutableBufferPointer { output in
                try request.keys.withUnsafeBufferPointer { try table.pull(keys: $0, into: output) }
            }
            response.created = UInt64(created)
            if created > 0, let index = indexes[request.table] {
                // New rows join the serving index like any other change.
                index.apply(keys: request.keys) { keys in (try? table.lookupArray(keys)) ?? [] }
            }
            // During a reshard's copy, rows created here for keys that move exist at their new owner too.
            if created > 0 { try await forwardMoving(table: table, keys: request.keys) }
        }
        response.values = try rows.withUnsafeBufferPointer { try RowPayload.encode($0, as: request.encoding) }
        pullRequests.add(1, ordering: .relaxed)
        pulledRows.add(UInt64(request.keys.count), ordering: .relaxed)
        return response
    }

    public func push(_ request: Tessera_V1_PushRequest, context: ServerContext) async throws -> Tessera_V1_PushResponse {
        try checkLeading()
        let table = try self.table(request.table)
        guard Int(request.dim) == table.dim else {
            throw RPCError(.invalidArgument, "dim: table '\(table.spec.name)' has dimension \(table.dim), the push says \(request.dim)")
        }
        try checkRouting(version: request.shardMapVersion, keys: request.keys)
        var gradients = [Float](repeating: 0, count: request.keys.count * table.dim)
        try gradients.withUnsafeMutableBufferPointer { output in
            try RowPayload.decode(request.gradients, as: request.encoding, into: output, field: "gradients")
        }
        for value in gradients where !value.isFinite {
            throw RPCError(.invalidArgument, "gradients: holds a non-finite value (\(value)); nothing was applied")
        }
        var response = Tessera_V1_PushResponse()
        guard claim(producer: request.producer, table: request.table, sequence: request.sequence) else {
            // A resend after a failed forward: the new owner must still get these rows before the OK.
            try await forwardMoving(table: table, keys: request.keys)
            response.duplicate = true
            return response
        }
        let applied = try gradients.withUnsafeBufferPointer { gradients in
            try request.keys.withUnsafeBufferPointer { keys in
                try table.push(keys: keys, gradients: gradients)
            }
        }
        if let index = indexes[request.table] {
            index.apply(keys: request.keys) { keys in (try? table.lookupArray(keys)) ?? [] }
        }
        // The follower has the resulting rows before the pusher hears OK.
        try await replicate(table: table, keys: request.keys, producer: request.producer, sequence: request.sequence,
                            sequenceTable: request.table)
        // During a reshard's copy, the new owner of a moving key has it before the pusher hears OK.
        try await forwardMoving(table: table, keys: request.keys)
        pushRequests.add(1, ordering: .relaxed)
        pushedRows.add(UInt64(request.keys.count), ordering: .relaxed)
        _ = applied
        response.applied = UInt64(request.keys.count)
        return response
    }

    public func assign(_ request: Tessera_V1_AssignRequest, context: ServerContext) async throws -> Tessera_V1_AssignResponse {
        try checkLeading()
        let table = try self.table(request.table)
        guard Int(request.dim) == table.dim else {
            throw RPCError(.invalidArgument, "dim: table '\(table.spec.name)' has dimension \(table.dim), the request says \(request.dim)")
        }
        try checkRouting(version: request.shardMapVersion, keys: request.keys)
        var values = [Float](repeating: 0, count: request.keys.count * table.dim)
        try values.withUnsafeMutableBufferPointer { output in
            try RowPayload.decode(request.values, as: request.encoding, into: output, field: "values")
        }
        for value in values where !value.isFinite {
            throw RPCError(.invalidArgument, "values: holds a non-finite value (\(value)); nothing was set")
        }
        var assigned: [UInt64] = []
        for (i, key) in request.keys.enumerated() {
            if request.onlyIfAbsent, table.row(for: key) != nil { continue }
            try table.insert(key: key, value: Array(values[i * table.dim..<(i + 1) * table.dim]))
            assigned.append(key)
        }
        if let index = indexes[request.table], !assigned.isEmpty {
            index.apply(keys: assigned) { keys in (try? table.lookupArray(keys)) ?? [] }
        }
        try await replicate(table: table, keys: assigned)
        try await forwardMoving(table: table, keys: assigned)
        var response = Tessera_V1_AssignResponse()
        response.assigned = UInt64(assigned.count)
        return response
    }

    // MARK: Serving

    public func scoreItems(_ request: Tessera_V1_ScoreItemsRequest, context: ServerContext) async throws -> Tessera_V1_ScoreItemsResponse {
        try checkLeading()
        let index = try servedIndex(request.table)
        guard request.query.count == index.dim else {
            throw RPCError(.invalidArgument, "query: has \(request.query.count) values; table '\(request.table)' has dimension \(index.dim)")
        }
        guard request.query.allSatisfy(\.isFinite) else {
            throw RPCError(.invalidArgument, "query: holds a non-finite value")
        }
        guard Int(request.k) + 2 * Int(request.explorePool) <= maxScoredItems else {
            throw RPCError(.invalidArgument, "k: k + 2 * explore_pool must be at most \(maxScoredItems)")
        }
        try checkRouting(version: request.shardMapVersion, keys: [])
        let result = index.score(query: request.query, k: Int(request.k), excluding: request.excludeKeys,
                                 explorePool: Int(request.explorePool), seed: request.seed, group: request.userGroup)
        var response = Tessera_V1_ScoreItemsResponse()
        response.servingVersion = result.version
        response.catalogSize = UInt64(result.catalogSize)
        response.totalImpressions = result.totalImpressions
        response.items = result.items.map { item in
            var scored = Tessera_V1_ScoredKey()
            scored.key = item.key
            scored.score = item.score
            scored.impressions = item.counter.impressions
            scored.clicks = item.counter.clicks
            scored.groupImpressions = item.groupCounter.impressions
            scored.groupClicks = item.groupCounter.clicks
            scored.explorePool = item.explorePool
            return scored
        }
        return response
    }

    public func updateCounters(_ request: Tessera_V1_UpdateCountersRequest, context: ServerContext) async throws -> Tessera_V1_UpdateCountersResponse {
        try checkLeading()
        let index = try servedIndex(request.table)
        try checkRouting(version: request.shardMapVersion, keys: request.deltas.map(\.key))
        var response = Tessera_V1_UpdateCountersResponse()
        guard claim(producer: request.producer, table: "counters/\(request.table)", sequence: request.sequence) else {
            response.duplicate = true
            return response
        }
        index.addCounts(request.deltas.map { ($0.key, $0.userGroup, $0.impressions, $0.clicks) })
        try await replicate(counters: request)
        response.applied = UInt64(request.deltas.count)
        return response
    }

    public func stats(_ request: Tessera_V1_ShardStatsRequest, context: ServerContext) async throws -> Tessera_V1_ShardStatsResponse {
        var response = Tessera_V1_ShardStatsResponse()
        response.shardID = shardID
        response.shardMapVersion = routing.withLock { $0?.version ?? 0 }
        response.tables = tables.keys.sorted().compactMap { name in
            guard let table = tables[name] else { return nil }
            var stats = Tessera_V1_TableStats()
            stats.name = name
            stats.dim = UInt32(table.dim)
            stats.rows = UInt64(table.rowCount)
            stats.bytes = UInt64(table.bytesUsed)
            return stats
        }
        response.pullRequests = pullRequests.load(ordering: .relaxed)
        response.pulledRows = pulledRows.load(ordering: .relaxed)
        response.pushRequests = pushRequests.load(ordering: .relaxed)
        response.pushedRows = pushedRows.load(ordering: .relaxed)
        response.duplicatePushes = duplicates.load(ordering: .relaxed)
        for index in indexes.values {
            let totals = index.totals
            response.impressions += totals.impressions
            response.clicks += totals.clicks
            response.servingVersion += index.version
        }
        response.following = isFollowing
        let replicator = self.replicator.withLock { $0 }
        response.followerState = (replicator?.state ?? .none).rawValue
        response.replicatedBatches = isFollowing ? appliedBatches.load(ordering: .relaxed) : (replicator?.forwardedBatches ?? 0)
        return response
    }

    // MARK: Checkpoints

    /// Writes a checkpoint of every table to `ROOT/shard-<id>` (see `CheckpointWriter`).
    ///
    /// Runs on a thread of its own, so pulls and pushes keep the cooperative
    /// pool while files are written. The producer sequences are recorded as of
    /// the start: the checkpoint is exactly consistent with them only when no
    /// push is in flight (at a barrier).
    public func checkpoint(_ request: Tessera_V1_CheckpointRequest, context: ServerContext) async throws -> Tessera_V1_CheckpointResponse {
        guard !request.directory.isEmpty else {
            throw RPCError(.invalidArgument, "directory: empty; name the cluster's checkpoint root")
        }
        try checkLeading()
        guard let routing = routing.withLock({ $0 }) else {
            throw RPCError(.unavailable, "shard \(shardID) has no shard map yet; retry shortly")
        }
        let writer = try checkpointWriter(root: request.directory)
        let tables = tableOrder.compactMap { self.tables[$0] }
        let producerSequences = sequences.withLock { $0 }
        let kind: CheckpointKind = request.incremental ? .incremental : .full
        let result: Result<CheckpointSummary, CheckpointError> = await Self.onOwnThread {
            Result { () throws(CheckpointError) in
                try writer.checkpoint(tables: tables, kind: kind, sequence: request.sequence,
                                      shardCount: routing.shardIDs.count, ring: CheckpointRing(routing.ring),
                                      producerSequences: producerSequences)
            }
        }
        let summary: CheckpointSummary
        switch result {
        case .success(let value):
            summary = value
        case .failure(let error):
            switch error.code {
            case .invalidArgument: throw RPCError(.invalidArgument, "sequence: \(error.message)", cause: error)
            case .busy: throw RPCError(.failedPrecondition, error.message, cause: error)
            default: throw RPCError(.internal, error.message, cause: error)
            }
        }
        var response = Tessera_V1_CheckpointResponse()
        response.shardID = shardID
        response.sequence = summary.sequence
        response.incremental = summary.kind == .incremental
        response.files = summary.files
        response.rows = UInt64(summary.rows)
        response.removedRows = UInt64(summary.removed)
        response.bytes = UInt64(summary.bytes)
        response.seconds = summary.seconds
        response.chainLength = UInt32(summary.chainLength)
        return response
    }

    /// Rolls every table back to the checkpoint chain in `ROOT/shard-<id>`, in place.
    ///
    /// The chain is read and checked in full before any row changes, so a
    /// damaged one leaves the shard as it was. Then each table keeps exactly
    /// the checkpoint's rows (rows created since are removed), producers'
    /// sequences are the checkpoint's, served indexes are refreshed, and the
    /// next checkpoint extends this chain. Precondition: nothing pulls or
    /// pushes meanwhile (the scheduler holds the workers back during recovery).
    public func restore(_ request: Tessera_V1_RestoreRequest, context: ServerContext) async throws -> Tessera_V1_RestoreResponse {
        guard !request.directory.isEmpty else {
            throw RPCError(.invalidArgument, "directory: empty; name the cluster's checkpoint root")
        }
        let started = ContinuousClock.now
        let root = Self.standardized(request.directory)
        let directory = CheckpointFormat.shardDirectory(root: root, shardID: shardID)
        let specs = tableOrder.compactMap { tables[$0]?.spec }
        let shardCount = routing.withLock { $0?.shardIDs.count }
        let shardID = self.shardID
        let loaded: Result<(RestoredShard, [EmbeddingTable?]), CheckpointError> = await Self.onOwnThread {
            Result { () throws(CheckpointError) in
                let restored = try RestoredShard.load(directory: directory)
                return (restored, try restored.tables(for: specs, shardID: shardID, shardCount: shardCount ?? restored.manifest.shardCount))
            }
        }
        let (restored, fitted): (RestoredShard, [EmbeddingTable?])
        switch loaded {
        case .success(let value):
            (restored, fitted) = value
        case .failure(let error):
            let code: RPCStatusCode = switch error.code {
            case .missing: .notFound
            case .corrupt: .dataLoss
            case .mismatch: .failedPrecondition
            default: .internal
            }
            throw RPCError(code, "restore of shard \(shardID): \(error.message)", cause: error)
        }
        guard request.sequence == 0 || restored.manifest.sequence == request.sequence else {
            throw RPCError(.notFound, "restore of shard \(shardID): the newest checkpoint in \(directory) is \(restored.manifest.sequence), not \(request.sequence) as asked (a checkpoint after it was interrupted?)")
        }
        var rows = 0
        var live: [EmbeddingTable] = []
        for (name, source) in zip(tableOrder, fitted) {
            guard let table = tables[name] else { continue }
            var stale = Set<UInt64>()
            table.forEachStripeSnapshot(changedAfter: nil) { stale.formUnion($0.keys) }
            var restoredKeys: [UInt64] = []
            try source?.forEachStripeSnapshot(changedAfter: nil) { (snapshot) throws(TableError) in
                try table.insert(keys: snapshot.keys, rows: snapshot.rows)
                stale.subtract(snapshot.keys)
                restoredKeys += snapshot.keys
            }
            table.remove(keys: Array(stale))
            rows += restoredKeys.count
            live.append(table)
            if let index = indexes[name] {
                let keys = restoredKeys + stale
                if !keys.isEmpty { index.apply(keys: keys) { keys in (try? table.lookupArray(keys)) ?? [] } }
            }
        }
        sequences.withLock { $0 = restored.manifest.producerSequences }
        let writer = CheckpointWriter(continuing: restored, tables: live)
        // The removals just made are part of the restored state, not changes for the next incremental.
        for table in live { table.forgetRemovals(through: table.changeGeneration - 1) }
        checkpointChain.withLock { $0 = (root, writer) }
        // The follower rolls back to the same checkpoint (its shard directory is this shard's).
        if !isFollowing { try await replicator.withLock({ $0 })?.forward(restore: request) }
        var response = Tessera_V1_RestoreResponse()
        response.shardID = shardID
        response.sequence = restored.manifest.sequence
        response.rows = UInt64(rows)
        response.seconds = (ContinuousClock.now - started).seconds
        return response
    }

    /// The writer of checkpoint root `root`: the current chain's, or a new one
    /// (whose first checkpoint is full) when `root` is another directory.
    private func checkpointWriter(root: String) throws -> CheckpointWriter {
        let key = Self.standardized(root)
        return try checkpointChain.withLock { chain in
            if let chain, chain.root == key { return chain.writer }
            do {
                let writer = try CheckpointWriter(directory: CheckpointFormat.shardDirectory(root: key, shardID: shardID), shardID: shardID)
                chain = (key, writer)
                return writer
            } catch {
                throw RPCError(.internal, "\(error)", cause: error)
            }
        }
    }

    private static func standardized(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.path
    }

    /// Runs blocking `work` (file I/O) on a new thread and awaits its result.
    private static func onOwnThread<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            let thread = Thread { continuation.resume(returning: work()) }
            thread.name = "tessera-checkpoint"
            thread.start()
        }
    }

    // MARK: Checks

    /// Whether a push from `producer` with `sequence` is new; records it if so.
    /// Pushes without a producer are always new.
    func claim(producer: String, table: String, sequence: UInt64) -> Bool {
        guard !producer.isEmpty else { return true }
        let fresh = sequences.withLock { last in
            let key = "\(producer)/\(table)"
            guard sequence > last[key, default: 0] else { return false }
            last[key] = sequence
            return true
        }
        if !fresh { duplicates.add(1, ordering: .relaxed) }
        return fresh
    }

    func table(_ name: String) throws -> EmbeddingTable {
        guard let table = tables[name] else {
            let known = tables.keys.sorted().map { "'\($0)'" }.joined(separator: ", ")
            throw RPCError(.invalidArgument, "table: unknown table '\(name)' (this cluster has \(known))")
        }
        return table
    }

    func servedIndex(_ name: String) throws -> ServingIndex {
        _ = try table(name)
        guard let index = indexes[name] else {
            throw RPCError(.invalidArgument, "table: '\(name)' is not served (serving scores the item table, '\(indexes.keys.sorted().joined(separator: "', '"))')")
        }
        return index
    }

    private func checkRouting(version: UInt64, keys: [UInt64]) throws {
        guard let routing = routing.withLock({ $0 }) else {
            throw RPCError(.unavailable, "shard \(shardID) has no shard map yet; retry shortly")
        }
        guard version == routing.version else {
            throw RPCError(.failedPrecondition,
                           "shard_map_version: the request was routed with shard map version \(version), but shard \(shardID) serves version \(routing.version); fetch the current map and retry")
        }
        for key in keys {
            let owner = routing.ring.shard(for: key)
            if owner != shardID {
                throw RPCError(.failedPrecondition,
                               "keys: key \(key) belongs to shard \(owner) under shard map version \(version), not to shard \(shardID)")
            }
        }
    }
}

extension EmbeddingTable {
    /// The current values of `keys` (zeros for missing keys), for serving deltas.
    func lookupArray(_ keys: [UInt64]) throws -> [Float] {
        var values = [Float](repeating: 0, count: keys.count * dim)
        _ = try values.withUnsafeMutableBufferPointer { output in
            try keys.withUnsafeBufferPointer { try lookup(keys: $0, into: output) }
        }
        return values
    }
}
