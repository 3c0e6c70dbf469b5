import Logging
import Synchronization
import TesseraCore
import TesseraObservability
import TesseraRPC

/// A shard process's metrics: its registry, the `/metrics` endpoint, and the
/// decorator that counts and times every ParameterServer call.
///
/// Owned by `ServerRole.run`; nothing global. The shard is attached once it
/// exists, so the state gauges (rows, bytes, map version) can be read at scrape time.
final class ShardObservation: Sendable {
    let metrics: ShardMetrics
    let endpoint: MetricsEndpoint?
    private let shard = Mutex<(service: ShardService, tables: [String])?>(nil)

    private init(metrics: ShardMetrics, endpoint: MetricsEndpoint?) {
        self.metrics = metrics
        self.endpoint = endpoint
    }

    /// Starts the endpoint per `settings` (none when disabled) and logs where it serves.
    static func start(settings: MetricsSettings, logger: Logger) async throws -> ShardObservation {
        let metrics = ShardMetrics()
        let holder = Mutex<ShardObservation?>(nil)
        let endpoint = try await MetricsEndpoint.start(settings: settings, registry: metrics.registry, logger: logger) {
            holder.withLock { $0 }?.refresh()
        }
        let observation = ShardObservation(metrics: metrics, endpoint: endpoint)
        holder.withLock { $0 = observation }
        return observation
    }

    var address: String { endpoint?.address ?? "" }

    func attach(_ service: ShardService, tables: [String]) {
        shard.withLock { $0 = (service, tables) }
    }

    func refresh() {
        guard let (service, names) = shard.withLock({ $0 }) else {
            metrics.refresh(shardID: nil, mapVersion: nil, tables: [])
            return
        }
        let tables = names.compactMap { name in
            service.table(named: name).map { table in
                let counts = table.lifecycleCounts
                return ShardMetrics.TableState(name: name, rows: table.rowCount, bytes: table.bytesUsed,
                                               admitted: counts.admitted, evicted: counts.evicted)
            }
        }
        metrics.refresh(shardID: service.shardID, mapVersion: service.routingVersion, tables: tables)
        let replication = service.replicationCounts
        metrics.refreshReplication(state: replication.state.rawValue, following: service.isFollowing,
                                   batches: replication.batches, failures: replication.failures)
    }

    func stop() async {
        await endpoint?.stop()
    }
}

/// Counts and times the ParameterServer calls of `inner`, then forwards them unchanged.
struct MeteredParameterServer<Inner: ParameterServerService>: ParameterServerService {
    let inner: Inner
    let metrics: ShardMetrics

    private func timed<Response>(_ method: String, _ body: () async throws -> Response,
                                 done: (Response, Duration) -> Void) async throws -> Response {
        let start = ContinuousClock.now
        do {
            let response = try await body()
            done(response, ContinuousClock.now - start)
            return response
        } catch {
            let code = (error as? RPCError).map { "\($0.code)".lowercased() } ?? "unknown"
            metrics.recordError(method: method, code: code)
            throw error
        }
    }

    func pull(_ request: Tessera_V1_PullRequest, context: ServerContext) async throws -> Tessera_V1_PullResponse {
        try await timed("pull", { try await inner.pull(request, context: context) }) { response, duration in
            metrics.recordPull(table: request.table, keys: request.keys, bytes: response.values.count, duration: duration)
        }
    }

    func push(_ request: Tessera_V1_PushRequest, context: ServerContext) async throws -> Tessera_V1_PushResponse {
        try await timed("push", { try await inner.push(request, context: context) }) { _, duration in
            metrics.recordPush(rows: request.keys.count, bytes: request.gradients.count, duration: duration)
        }
    }

    func stats(_ request: Tessera_V1_ShardStatsRequest, context: ServerContext) async throws -> Tessera_V1_ShardStatsResponse {
        try await inner.stats(request, context: context)
    }

    func scoreItems(_ request: Tessera_V1_ScoreItemsRequest, context: ServerContext) async throws -> Tessera_V1_ScoreItemsResponse {
        try await timed("score_items", { try await inner.scoreItems(request, context: context) }) { _, duration in
            metrics.recordScore(duration: duration)
        }
    }

    func updateCounters(_ request: Tessera_V1_UpdateCountersRequest, context: ServerContext) async throws -> Tessera_V1_UpdateCountersResponse {
        try await timed("update_counters", { try await inner.updateCounters(request, context: context) }) { _, _ in
            metrics.recordCounterUpdate()
        }
    }

    func assign(_ request: Tessera_V1_AssignRequest, context: ServerContext) async throws -> Tessera_V1_AssignResponse {
        try await inner.assign(request, context: context)
    }

    func checkpoint(_ request: Tessera_V1_CheckpointRequest, context: ServerContext) async throws -> Tessera_V1_CheckpointResponse {
        try await inner.checkpoint(request, context: context)
    }

    func restore(_ request: Tessera_V1_RestoreRequest, context: ServerContext) async throws -> Tessera_V1_RestoreResponse {
        try await inner.restore(request, context: context)
    }

    func replicate(_ request: Tessera_V1_ReplicateRequest, context: ServerContext) async throws -> Tessera_V1_ReplicateResponse {
        try await inner.replicate(request, context: context)
    }

    func promote(_ request: Tessera_V1_PromoteRequest, context: ServerContext) async throws -> Tessera_V1_PromoteResponse {
        try await inner.promote(request, context: context)
    }

    func migrate(_ request: Tessera_V1_MigrateRequest, context: ServerContext) async throws -> Tessera_V1_MigrateResponse {
        try await inner.migrate(request, context: context)
    }
}
