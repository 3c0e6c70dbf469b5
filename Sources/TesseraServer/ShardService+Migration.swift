import Foundation
import TesseraCore
import TesseraRPC

/// A live reshard as one shard sees it (see `MigrateRequest`).
struct Migration: Sendable {
    /// The map being moved to.
    var target: ShardRouting
    /// Whether acknowledged changes to keys the target places elsewhere are forwarded there.
    var forwarding = false
    /// Channels to the other shards of the target, by shard id.
    var clients: [UInt32: ParameterServerClient]
}

/// Live resharding: old owners copy the rows whose owner changes to the new
/// owner and forward every acknowledged change to them before answering; at
/// the switch (COMMIT, no step in flight) each shard serves the target map and
/// drops what it no longer owns. Row versions (the replication clock) make
/// copies and forwarded changes safe in any order: the new owner keeps the
/// highest version per key, and each key has one sender, its old owner.
extension ShardService {
    /// Keys per migration batch (kept well under the message size limit).
    static let migrationBatchKeys = 4096

    public func migrate(_ request: Tessera_V1_MigrateRequest, context: ServerContext) async throws -> Tessera_V1_MigrateResponse {
        try checkLeading()
        let started = ContinuousClock.now
        let target = try request.targetRouting()
        var response = Tessera_V1_MigrateResponse()
        switch request.phase {
        case .prepare:
            try prepareMigration(to: target)
        case .copy:
            let (rows, bytes) = try await copyMovingRows(to: target)
            response.rows = rows
            response.bytes = bytes
            if let served = routing.withLock({ $0 }) { response.rowsBefore = UInt64(checksum(ownedUnder: served).rows) }
        case .commit:
            try commitMigration(to: target, into: &response)
        case .abort:
            response.rows = abortMigration()
        case .UNRECOGNIZED(let value):
            throw RPCError(.invalidArgument, "phase: unknown migrate phase \(value)")
        }
        response.seconds = (ContinuousClock.now - started).seconds
        response.heldRows = UInt64(tables.values.reduce(0) { $0 + $1.rowCount })
        return response
    }

    /// The target map of the reshard under way, if any.
    public var migrationTarget: ShardRouting? {
        migration.withLock { $0?.target }
    }

    private func prepareMigration(to target: ShardRouting) throws {
        let served = routing.withLock { $0?.version ?? 0 }
        guard target.version > served else {
            throw RPCError(.failedPrecondition, "target: shard map version \(target.version) is not above the version shard \(shardID) serves (\(served))")
        }
        var clients: [UInt32: ParameterServerClient] = [:]
        for (id, address) in target.addresses where id != shardID {
            clients[id] = ParameterServerClient(channel: try GRPCChannel(target: address, security: migrationSecurity))
        }
        try migration.withLock { migration in
            if let migration, migration.target.version == target.version, migration.target != target {
                throw RPCError(.failedPrecondition, "target: another map of version \(target.version) is being moved to already")
            }
            if migration?.target != target { migration = Migration(target: target, clients: clients) }
        }
    }

    private func prepared(_ target: ShardRouting, for phase: String) throws -> Migration {
        guard let migration = migration.withLock({ $0 }), migration.target == target else {
            throw RPCError(.failedPrecondition, "\(phase): shard \(shardID) was not prepared for shard map version \(target.version) (send PREPARE first)")
        }
        return migration
    }

    /// Turns forwarding on, then sends every row this shard holds that the target places elsewhere.
    private func copyMovingRows(to target: ShardRouting) async throws -> (rows: UInt64, bytes: UInt64) {
        _ = try prepared(target, for: "COPY")
        // Forwarding first: a change acknowledged from now on is forwarded, one acknowledged before is in the copy.
        migration.withLock { $0?.forwarding = true }
        var rows: UInt64 = 0, bytes: UInt64 = 0
        for name in tableOrder {
            guard let table = tables[name] else { continue }
            var moving: [UInt64] = []
            table.forEachRow { key, _, _ in
                if target.ring.shard(for: key) != shardID { moving.append(key) }
            }
            var start = 0
            while start < moving.count {
                let end = min(start + Self.migrationBatchKeys, moving.count)
                let sent = try await sendToNewOwners(table: table, keys: Array(moving[start..<end]), what: "copy")
                rows += sent.rows
                bytes += sent.bytes
                start = end
            }
        }
        return (rows, bytes)
    }

    /// Forwards the current rows of those `keys` the target places elsewhere
    /// to their new owners, when a reshard is copying. Call after changing the
    /// rows, before answering: a throw means the change is not acknowledged.
    func forwardMoving(table: EmbeddingTable, keys: [UInt64]) async throws {
        guard let target = migration.withLock({ $0?.forwarding == true ? $0?.target : nil }) else { return }
        let moving = keys.filter { target.ring.shard(for: $0) != shardID }
        guard !moving.isEmpty else { return }
        _ = try await sendToNewOwners(table: table, keys: moving, what: "forward")
    }

    /// Reads `keys`' rows with fresh versions and sends each to its owner under the target.
    private func sendToNewOwners(table: EmbeddingTable, keys: [UInt64], what: String) async throws -> (rows: UInt64, bytes: UInt64) {
        guard let migration = migration.withLock({ $0 }) else {
            throw RPCError(.failedPrecondition, "the reshard was given up while shard \(shardID) was sending rows; this change is not acknowledged")
        }
        let batch = table.replicaBatch(keys: keys)
        let width = table.rowWidth
        var parts: [UInt32: ReplicaBatch] = [:]
        for (i, key) in batch.keys.enumerated() {
            let owner = migration.target.ring.shard(for: key)
            parts[owner, default: ReplicaBatch()].keys.append(key)
            parts[owner]!.versions.append(batch.versions[i])
            parts[owner]!.rows.append(contentsOf: batch.rows[i * width..<(i + 1) * width])
        }
        for (i, key) in batch.removed.enumerated() {
            let owner = migration.target.ring.shard(for: key)
            parts[owner, default: ReplicaBatch()].removed.append(key)
            parts[owner]!.removedVersions.append(batch.removedVersions[i])
        }
        var rows: UInt64 = 0, bytes: UInt64 = 0
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (owner, part) in parts {
                guard let client = migration.clients[owner] else {
                    throw RPCError(.internal, "no channel to shard \(owner) of shard map version \(migration.target.version)")
                }
                var request = Self.request(shardID: shardID, table: table.spec.name, batch: part)
                request.targetMapVersion = migration.target.version
                rows += UInt64(part.keys.count)
                bytes += UInt64(request.rows.count)
                let address = migration.target.addresses[owner] ?? "?"
                let sent = request
                group.addTask {
                    do {
                        _ = try await client.replicate(sent, options: CallOptions(timeout: .seconds(10)))
                    } catch {
                        throw RPCError(.unavailable, "reshard \(what) of \(sent.keys.count) rows of table '\(sent.table)' to shard \(owner) at \(address) failed: \(error); not acknowledged", cause: error)
                    }
                }
            }
            try await group.waitForAll()
        }
        return (rows, bytes)
    }

    /// A new owner takes rows moved to it (a `Replicate` with `target_map_version`).
    func receiveMigrated(_ request: Tessera_V1_ReplicateRequest) async throws -> Tessera_V1_ReplicateResponse {
        try checkLeading()
        guard let target = migration.withLock({ $0?.target }), target.version == request.targetMapVersion else {
            throw RPCError(.failedPrecondition, "target_map_version: shard \(shardID) is not prepared for a reshard to shard map version \(request.targetMapVersion)")
        }
        for key in request.keys + request.removedKeys where target.ring.shard(for: key) != shardID {
            throw RPCError(.failedPrecondition, "keys: key \(key) belongs to shard \(target.ring.shard(for: key)) under shard map version \(target.version), not to shard \(shardID)")
        }
        let table = try self.table(request.table)
        let applied = try applyReplicaRequest(request, to: table)
        // This shard's own follower gets the rows too, before the sender hears OK.
        try await replicate(table: table, keys: request.keys + request.removedKeys)
        var response = Tessera_V1_ReplicateResponse()
        response.applied = UInt64(applied)
        return response
    }

    /// Serves `target` and drops the rows it places elsewhere; fills in the rows
    /// dropped and the checksums of the rows owned before and after.
    /// Precondition: no push is in flight (the scheduler holds training at a step boundary).
    private func commitMigration(to target: ShardRouting, into response: inout Tessera_V1_MigrateResponse) throws {
        let served = routing.withLock { $0 }
        if served == target, migration.withLock({ $0 }) == nil {
            response.checksumAfter = checksum(ownedUnder: target).value
            return
        }
        _ = try prepared(target, for: "COMMIT")
        if let served {
            let before = checksum(ownedUnder: served)
            response.checksumBefore = before.value
            response.rowsBefore = UInt64(before.rows)
        }
        update(routing: target)
        migration.withLock { $0 = nil }
        response.rows = dropRowsNotOwned(under: target)
        response.checksumAfter = checksum(ownedUnder: target).value
    }

    /// The checksum of every row this shard holds that `routing` places on it (all tables).
    public func checksum(ownedUnder routing: ShardRouting) -> RowChecksum {
        var sum = RowChecksum()
        for name in tableOrder {
            guard let table = tables[name] else { continue }
            sum.add(table.checksum { routing.ring.shard(for: $0) == shardID })
        }
        return sum
    }

    /// Stops forwarding and drops rows received for the abandoned target; returns the rows dropped.
    private func abortMigration() -> UInt64 {
        migration.withLock { $0 = nil }
        guard let served = routing.withLock({ $0 }) else { return 0 }
        return dropRowsNotOwned(under: served)
    }

    private func dropRowsNotOwned(under routing: ShardRouting) -> UInt64 {
        var dropped: UInt64 = 0
        for name in tableOrder {
            guard let table = tables[name] else { continue }
            var gone: [UInt64] = []
            table.forEachRow { key, _, _ in
                if routing.ring.shard(for: key) != shardID { gone.append(key) }
            }
            guard !gone.isEmpty else { continue }
            dropped += UInt64(table.remove(keys: gone))
            indexes[name]?.apply(keys: gone) { keys in (try? table.lookupArray(keys)) ?? [] }
        }
        // Versions of moved-in rows came from their old owners' clocks; a later reshard starts afresh.
        if !isFollowing { for table in tables.values { table.resetReplicaVersions() } }
        return dropped
    }
}
