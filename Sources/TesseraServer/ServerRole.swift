import Foundation
import Logging
import Synchronization
import TesseraCore
import TesseraObservability
import TesseraRPC

/// The `tessera server` process: serves one shard until the scheduler says stop.
///
/// It binds its port first (so it can tell the scheduler where it serves),
/// registers to learn its shard id and the tables, waits for the shard map,
/// then heartbeats. Calls that arrive before the shard is ready are refused
/// with UNAVAILABLE.
public struct ServerRole: Sendable {
    public var schedulerAddress: String
    /// Interface to listen on.
    public var host: String
    /// Port; 0 lets the OS pick.
    public var port: Int
    /// The host name other members should dial (defaults to `host`).
    public var advertisedHost: String?
    /// The shard id to ask for (a stable identity); nil takes any free one.
    public var shardID: UInt32?
    /// Run as the follower of this shard (replication, `tessera server --follow N`):
    /// apply every change its leader acknowledges, and serve once promoted.
    public var follow: UInt32?
    /// Also answer the shim's raw echo method (for `tessera bench`).
    public var benchEcho = false
    /// A checkpoint root (`DIR/shard-<id>/manifest.json`, …) to restore this
    /// shard's tables from before serving. The chain is read and checked in
    /// full; a missing, damaged or mismatched one stops the shard with a
    /// message naming the file (and, once registered, reports it to the scheduler).
    public var restoreDirectory: String?
    /// Where to serve Prometheus metrics (`/metrics`); its address is sent when registering.
    public var metrics = MetricsSettings()
    /// Token, TLS and limits of its server and its calls (`ResolvedSecurity.fromEnvironment()` in
    /// `tessera server`); the config's `security.limits` replace the limits once it has joined.
    public var security: ResolvedSecurity = .insecure

    public init(schedulerAddress: String, host: String = "127.0.0.1", port: Int = 0, advertisedHost: String? = nil,
                shardID: UInt32? = nil) {
        self.schedulerAddress = schedulerAddress
        self.host = host
        self.port = port
        self.advertisedHost = advertisedHost
        self.shardID = shardID
    }

    /// Runs until shutdown; throws when the shard cannot go on.
    public func run(logger: Logger) async throws {
        // With a known id, a bad checkpoint is refused before anything else happens.
        var early: RestoredShard?
        if let root = restoreDirectory, let shardID = follow ?? shardID {
            early = try RestoredShard.load(directory: CheckpointFormat.shardDirectory(root: root, shardID: shardID))
        }
        let slot = ShardSlot()
        let observation = try await ShardObservation.start(settings: metrics, logger: logger)
        var router = RPCRouter()
        router.register(MeteredParameterServer(inner: slot, metrics: observation.metrics))
        let server = try GRPCServer(host: host, port: port, router: router, options: ServerOptions(echo: benchEcho, security: security.server))
        let address = "\(advertisedHost ?? host):\(server.port)"
        logger.info("listening", metadata: ["address": "\(address)"])
        do {
            let session = try await MemberSession.join(schedulerAddress: schedulerAddress, role: follow == nil ? .server : .follower,
                                                       address: address, requestedID: follow ?? shardID, metricsAddress: observation.address,
                                                       security: security.client)
            let membership = session.membership
            server.update(limits: membership.config.security.limits)
            let shard: ShardService
            do {
                if let root = restoreDirectory {
                    let directory = CheckpointFormat.shardDirectory(root: root, shardID: membership.memberID)
                    let restored = try early.flatMap { $0.manifest.shardID == membership.memberID ? $0 : nil }
                        ?? RestoredShard.load(directory: directory)
                    shard = try ShardService(shardID: membership.memberID, restoring: restored, root: root,
                                             shardCount: Int(membership.memberCount), tables: membership.config.tables,
                                             served: [membership.config.servingTable])
                    early = nil
                    logger.info("restored", metadata: [
                        "directory": "\(directory)", "sequence": "\(restored.manifest.sequence)",
                        "files": "\(restored.manifest.chain.count)",
                        "rows": "\(restored.tables.reduce(0) { $0 + $1.rowCount })",
                    ])
                } else {
                    shard = try ShardService(shardID: membership.memberID, tables: membership.config.tables,
                                             served: [membership.config.servingTable])
                }
            } catch {
                let what = restoreDirectory == nil ? "cannot create its tables" : "cannot restore from \(restoreDirectory!)"
                await session.reportFailure("shard \(membership.memberID): \(what): \(error)")
                throw error
            }
            let routing = try await session.shardMap()
            if follow != nil { shard.startFollowing() }
            let shardID = membership.memberID
            shard.attach(Replicator(security: security.client, logger: logger) { reason in
                try await session.reportFollowerLost(shard: shardID, reason)
            })
            shard.usePeerSecurity(security.client)
            shard.update(routing: routing)
            slot.fill(shard)
            observation.attach(shard, tables: membership.config.tables.map(\.name))
            logger.info(follow == nil ? "serving" : "following", metadata: [
                "shard": "\(membership.memberID)", "of": "\(membership.memberCount)", "map_version": "\(routing.version)",
                "follower": "\(shard.followerState.rawValue)",
                "tables": "\(membership.config.tables.map(\.name).joined(separator: ","))",
            ])
            let interval = Duration.seconds(membership.config.scheduler.heartbeatInterval)
            let timeout = Duration.seconds(membership.config.scheduler.heartbeatTimeout)
            // Rows past their table's TTL are swept every second.
            let expiring = membership.config.tables.filter { ($0.lifecycle?.ttlSeconds ?? 0) > 0 }.compactMap { shard.table(named: $0.name) }
            // Evictions a leader made (TTL, the row cap on pulls) reach its follower at least every second.
            let replicated = membership.config.replication.enabled && membership.config.tables.contains { $0.lifecycle != nil }
            let sweeper = expiring.isEmpty && !replicated ? nil : Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(1))
                    // A follower's rows expire when its leader's do (their evictions arrive as batches).
                    guard !shard.isFollowing else { continue }
                    for table in expiring {
                        let evicted = table.evictExpired()
                        if evicted > 0 { logger.debug("expired rows", metadata: ["table": "\(table.spec.name)", "rows": "\(evicted)"]) }
                    }
                    try? await shard.flushEvictions()
                }
            }
            defer { sweeper?.cancel() }
            let outcome = try await session.heartbeat(interval: interval, timeout: timeout) { version in
                guard version > (shard.routingVersion ?? 0) else { return }
                if let routing = try? await session.shardMap(minVersion: version) {
                    shard.update(routing: routing)
                    logger.info("new shard map", metadata: ["version": "\(routing.version)", "following": "\(shard.isFollowing)",
                                                            "follower": "\(shard.followerState.rawValue)"])
                }
            }
            if case .shutdown(let reason) = outcome {
                logger.info("stopping", metadata: ["reason": "\(reason)"])
            }
            await server.shutdown(grace: .seconds(2))
            await observation.stop()
        } catch {
            await server.shutdown(grace: .zero)
            await observation.stop()
            throw error
        }
    }
}

/// Forwards to the shard once it exists; until then answers UNAVAILABLE.
final class ShardSlot: ParameterServerService {
    private let shard = Mutex<ShardService?>(nil)

    func fill(_ service: ShardService) {
        shard.withLock { $0 = service }
    }

    private func ready() throws -> ShardService {
        guard let service = shard.withLock({ $0 }) else {
            throw RPCError(.unavailable, "this shard is still starting (no shard id or tables yet); retry shortly")
        }
        return service
    }

    func pull(_ request: Tessera_V1_PullRequest, context: ServerContext) async throws -> Tessera_V1_PullResponse {
        try await ready().pull(request, context: context)
    }

    func push(_ request: Tessera_V1_PushRequest, context: ServerContext) async throws -> Tessera_V1_PushResponse {
        try await ready().push(request, context: context)
    }

    func stats(_ request: Tessera_V1_ShardStatsRequest, context: ServerContext) async throws -> Tessera_V1_ShardStatsResponse {
        try await ready().stats(request, context: context)
    }

    func scoreItems(_ request: Tessera_V1_ScoreItemsRequest, context: ServerContext) async throws -> Tessera_V1_ScoreItemsResponse {
        try await ready().scoreItems(request, context: context)
    }

    func updateCounters(_ request: Tessera_V1_UpdateCountersRequest, context: ServerContext) async throws -> Tessera_V1_UpdateCountersResponse {
        try await ready().updateCounters(request, context: context)
    }

    func assign(_ request: Tessera_V1_AssignRequest, context: ServerContext) async throws -> Tessera_V1_AssignResponse {
        try await ready().assign(request, context: context)
    }

    func checkpoint(_ request: Tessera_V1_CheckpointRequest, context: ServerContext) async throws -> Tessera_V1_CheckpointResponse {
        try await ready().checkpoint(request, context: context)
    }

    func restore(_ request: Tessera_V1_RestoreRequest, context: ServerContext) async throws -> Tessera_V1_RestoreResponse {
        try await ready().restore(request, context: context)
    }

    func replicate(_ request: Tessera_V1_ReplicateRequest, context: ServerContext) async throws -> Tessera_V1_ReplicateResponse {
        try await ready().replicate(request, context: context)
    }

    func promote(_ request: Tessera_V1_PromoteRequest, context: ServerContext) async throws -> Tessera_V1_PromoteResponse {
        try await ready().promote(request, context: context)
    }

    func migrate(_ request: Tessera_V1_MigrateRequest, context: ServerContext) async throws -> Tessera_V1_MigrateResponse {
        try await ready().migrate(request, context: context)
    }
}
