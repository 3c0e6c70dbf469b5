import Foundation
import Synchronization
import TesseraCore

/// Pulls and pushes rows of any table across all shards: groups keys by
/// owning shard with the ring, calls every shard concurrently, and puts the
/// answers back in key order.
///
/// Thread-safe. Transient failures (UNAVAILABLE, DEADLINE_EXCEEDED) are retried
/// with backoff; a stale shard map surfaces as FAILED_PRECONDITION, after which
/// the owner fetches the new map and calls `update(routing:)`.
public final class ShardedParameterClient: Sendable {
    private struct State {
        var routing: ShardRouting
        var clients: [UInt32: ParameterServerClient]
    }

    private let state: Mutex<State>
    /// Options for every call (deadline, metadata).
    public let callOptions: CallOptions
    /// How rows travel on the wire.
    public let encoding: Tessera_V1_RowEncoding
    /// Attempts per call for transient failures.
    public let attempts: Int
    /// Keys per request; larger batches are split so messages stay well under the size limit.
    public let maxKeysPerRequest: Int
    /// The token and TLS of every channel.
    public let security: ClientSecurity
    /// How calls ride out a leader's failover (replication); nil: not at all.
    private let failover = Mutex<Failover?>(nil)

    /// How a client rides out a shard leader's death when shards have followers:
    /// a call that fails (unreachable shard, stale map) keeps retrying for up to
    /// `patience`, switching to a newer shard map as soon as there is one that
    /// moves no key and either keeps the shard where it was or hands it to the
    /// follower the old map named. A map that puts the shard anywhere else (a
    /// restart from a checkpoint, a rollback under way) is not followed: the
    /// error is thrown as without replication.
    public struct Failover: Sendable {
        /// How long one call may keep retrying.
        public var patience: Duration
        /// Waits up to the given time for a shard map newer than the given
        /// version; nil if none came. Nil: rely on `update(routing:)` alone.
        public var newerMap: (@Sendable (_ version: UInt64, _ wait: Duration) async throws -> ShardRouting?)?

        public init(patience: Duration, newerMap: (@Sendable (UInt64, Duration) async throws -> ShardRouting?)? = nil) {
            self.patience = patience
            self.newerMap = newerMap
        }
    }

    /// Lets calls ride out a leader's failover (see `Failover`).
    public func enableFailover(_ settings: Failover) {
        failover.withLock { $0 = settings }
    }

    public init(routing: ShardRouting, callOptions: CallOptions = CallOptions(), encoding: Tessera_V1_RowEncoding = .float32,
                attempts: Int = 4, maxKeysPerRequest: Int = 65_536, security: ClientSecurity = .insecure) throws {
        self.callOptions = callOptions
        self.encoding = encoding
        self.attempts = max(1, attempts)
        self.maxKeysPerRequest = max(1, min(maxKeysPerRequest, security.maxKeysPerRequest))
        self.security = security
        state = Mutex(State(routing: routing, clients: try Self.clients(for: routing, reusing: [:], old: nil, security: security)))
    }

    /// The routing in use.
    public var routing: ShardRouting {
        state.withLock { $0.routing }
    }

    /// Switches to a new shard map, reopening channels only for moved shards.
    public func update(routing: ShardRouting) throws {
        try state.withLock { state in
            state.clients = try Self.clients(for: routing, reusing: state.clients, old: state.routing, security: security)
            state.routing = routing
        }
    }

    private static func clients(for routing: ShardRouting, reusing existing: [UInt32: ParameterServerClient],
                                old: ShardRouting?, security: ClientSecurity) throws -> [UInt32: ParameterServerClient] {
        var clients: [UInt32: ParameterServerClient] = [:]
        for (id, address) in routing.addresses {
            if let client = existing[id], old?.addresses[id] == address {
                clients[id] = client
            } else {
                clients[id] = ParameterServerClient(channel: try GRPCChannel(target: address, security: security))
            }
        }
        return clients
    }

    /// Rows for `keys` (row-major, `keys.count * dim` floats), creating unseen rows.
    ///
    /// Precondition: keys are unique.
    public func pull(table: String, keys: [UInt64], dim: Int) async throws -> [Float] {
        let (routing, clients) = state.withLock { ($0.routing, $0.clients) }
        let requests = plan(keys: keys, routing: routing)
        let answers = try await withThrowingTaskGroup(of: (Int, Data).self) { group in
            for (index, request) in requests.enumerated() {
                guard let client = clients[request.shard] else { continue }
                var message = Tessera_V1_PullRequest()
                message.table = table
                message.shardMapVersion = routing.version
                message.keys = request.positions.map { keys[$0] }
                message.encoding = encoding
                let request = (shard: request.shard, message: message)
                group.addTask {
                    let response = try await self.retrying("pull from shard \(request.shard)", shard: request.shard, routing: routing,
                                                           client: client) { client, version in
                        var message = request.message
                        message.shardMapVersion = version
                        return try await client.pull(message, options: self.callOptions)
                    }
                    guard response.dim == dim else {
                        throw RPCError(.failedPrecondition,
                                       "table '\(table)' has dim \(response.dim) on shard \(request.shard), expected \(dim)")
                    }
                    return (index, response.values)
                }
            }
            var answers = [Data](repeating: Data(), count: requests.count)
            for try await (index, values) in group { answers[index] = values }
            return answers
        }
        var rows = [Float](repeating: 0, count: keys.count * dim)
        var scratch = [Float](repeating: 0, count: 0)
        try rows.withUnsafeMutableBufferPointer { out in
            for (request, payload) in zip(requests, answers) {
                let count = request.positions.count * dim
                if scratch.count < count { scratch = [Float](repeating: 0, count: count) }
                try scratch.withUnsafeMutableBufferPointer { buffer in
                    let part = UnsafeMutableBufferPointer(rebasing: buffer[0..<count])
                    try RowPayload.decode(payload, as: encoding, into: part, field: "PullResponse.values from shard \(request.shard)")
                    for (row, position) in request.positions.enumerated() {
                        (out.baseAddress! + position * dim).update(from: part.baseAddress! + row * dim, count: dim)
                    }
                }
            }
        }
        return rows
    }

    /// Applies `gradients` (row-major, one row per key) to the rows of `keys`.
    ///
    /// Precondition: keys are unique and `gradients.count == keys.count * dim`.
    public func push(table: String, keys: [UInt64], gradients: [Float], dim: Int) async throws {
        try await push(table: table, keys: keys, gradients: gradients, dim: dim, producer: "", sequence: 0)
    }

    /// `push` made idempotent: every shard applies a (producer, sequence) at most once per table.
    public func push(table: String, keys: [UInt64], gradients: [Float], dim: Int, producer: String, sequence: UInt64) async throws {
        precondition(gradients.count == keys.count * dim, "push of \(keys.count) keys needs \(keys.count * dim) gradient values")
        let (routing, clients) = state.withLock { ($0.routing, $0.clients) }
        let requests = plan(keys: keys, routing: routing)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for request in requests {
                guard let client = clients[request.shard] else { continue }
                var message = Tessera_V1_PushRequest()
                message.table = table
                message.shardMapVersion = routing.version
                message.keys = request.positions.map { keys[$0] }
                message.dim = UInt32(dim)
                message.encoding = encoding
                message.producer = producer
                message.sequence = sequence
                var part = [Float](repeating: 0, count: request.positions.count * dim)
                gradients.withUnsafeBufferPointer { source in
                    part.withUnsafeMutableBufferPointer { target in
                        for (row, position) in request.positions.enumerated() {
                            (target.baseAddress! + row * dim).update(from: source.baseAddress! + position * dim, count: dim)
                        }
                    }
                }
                message.gradients = try part.withUnsafeBufferPointer { try RowPayload.encode($0, as: encoding) }
                let request = (shard: request.shard, message: message)
                group.addTask {
                    _ = try await self.retrying("push to shard \(request.shard)", shard: request.shard, routing: routing,
                                                client: client) { client, version in
                        var message = request.message
                        message.shardMapVersion = version
                        return try await client.push(message, options: self.callOptions)
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    /// Rows of `keys` that exist, without creating any: missing rows are zeros
    /// and their positions are returned (serving lookups).
    public func lookup(table: String, keys: [UInt64], dim: Int) async throws -> (rows: [Float], missing: [Int]) {
        let (routing, clients) = state.withLock { ($0.routing, $0.clients) }
        let requests = plan(keys: keys, routing: routing)
        var rows = [Float](repeating: 0, count: keys.count * dim)
        var missing: [Int] = []
        try await withThrowingTaskGroup(of: (PlannedRequest, Tessera_V1_PullResponse).self) { group in
            for request in requests {
                guard let client = clients[request.shard] else { continue }
                var message = Tessera_V1_PullRequest()
                message.table = table
                message.shardMapVersion = routing.version
                message.keys = request.positions.map { keys[$0] }
                message.encoding = .float32
                message.readOnly = true
                let sent = message
                group.addTask {
                    (request, try await self.retrying("lookup on shard \(request.shard)", shard: request.shard, routing: routing,
                                                      client: client) { client, version in
                        var message = sent
                        message.shardMapVersion = version
                        return try await client.pull(message, options: self.callOptions)
                    })
                }
            }
            for try await (request, response) in group {
                var part = [Float](repeating: 0, count: request.positions.count * dim)
                try part.withUnsafeMutableBufferPointer { buffer in
                    try RowPayload.decode(response.values, as: .float32, into: buffer, field: "PullResponse.values from shard \(request.shard)")
                }
                for (row, position) in request.positions.enumerated() {
                    rows.replaceSubrange(position * dim..<(position + 1) * dim, with: part[row * dim..<(row + 1) * dim])
                }
                missing += response.missing.map { request.positions[Int($0)] }
            }
        }
        return (rows, missing.sorted())
    }

    /// Asks every shard for its top-`k` items against `query` plus an exploration pool.
    ///
    /// `exclude` keys are sent only to the shard that owns each. Answers come back in shard-id order.
    public func scoreItems(table: String, query: [Float], k: Int, exclude: [UInt64], explorePool: Int, seed: UInt64,
                           userGroup: UInt32, options: CallOptions? = nil) async throws -> [Tessera_V1_ScoreItemsResponse] {
        let (routing, clients) = state.withLock { ($0.routing, $0.clients) }
        var excludeByShard: [UInt32: [UInt64]] = [:]
        for key in exclude { excludeByShard[routing.ring.shard(for: key), default: []].append(key) }
        return try await withThrowingTaskGroup(of: (UInt32, Tessera_V1_ScoreItemsResponse).self) { group in
            for shard in routing.shardIDs {
                guard let client = clients[shard] else { continue }
                var message = Tessera_V1_ScoreItemsRequest()
                message.table = table
                message.shardMapVersion = routing.version
                message.query = query
                message.k = UInt32(k)
                message.excludeKeys = excludeByShard[shard] ?? []
                message.explorePool = UInt32(explorePool)
                message.seed = Hashing.combine(seed, UInt64(shard))
                message.userGroup = userGroup
                let callOptions = options ?? self.callOptions
                let sent = message
                group.addTask { (shard, try await client.scoreItems(sent, options: callOptions)) }
            }
            // In shard order, whatever order they arrive in, so answers are reproducible.
            var answers: [(UInt32, Tessera_V1_ScoreItemsResponse)] = []
            for try await answer in group { answers.append(answer) }
            return answers.sorted { $0.0 < $1.0 }.map(\.1)
        }
    }

    /// Adds feedback counters to the shards owning each item, idempotently per (producer, sequence).
    public func updateCounters(table: String, deltas: [Tessera_V1_CounterDelta], producer: String, sequence: UInt64) async throws {
        let (routing, clients) = state.withLock { ($0.routing, $0.clients) }
        var byShard: [UInt32: [Tessera_V1_CounterDelta]] = [:]
        for delta in deltas { byShard[routing.ring.shard(for: delta.key), default: []].append(delta) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (shard, part) in byShard {
                guard let client = clients[shard] else { continue }
                var message = Tessera_V1_UpdateCountersRequest()
                message.table = table
                message.shardMapVersion = routing.version
                message.deltas = part
                message.producer = producer
                message.sequence = sequence
                let sent = message
                group.addTask {
                    _ = try await self.retrying("counters on shard \(shard)", shard: shard, routing: routing, client: client) { client, version in
                        var message = sent
                        message.shardMapVersion = version
                        return try await client.updateCounters(message, options: self.callOptions)
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    /// Sets the rows of `keys` to `values` (row-major); with `onlyIfAbsent`, only rows that do not exist yet.
    public func assign(table: String, keys: [UInt64], values: [Float], dim: Int, onlyIfAbsent: Bool = false) async throws {
        precondition(values.count == keys.count * dim, "assign of \(keys.count) keys needs \(keys.count * dim) values")
        let (routing, clients) = state.withLock { ($0.routing, $0.clients) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for request in plan(keys: keys, routing: routing) {
                guard let client = clients[request.shard] else { continue }
                var message = Tessera_V1_AssignRequest()
                message.table = table
                message.shardMapVersion = routing.version
                message.keys = request.positions.map { keys[$0] }
                message.dim = UInt32(dim)
                message.onlyIfAbsent = onlyIfAbsent
                var part = [Float](repeating: 0, count: request.positions.count * dim)
                for (row, position) in request.positions.enumerated() {
                    part.replaceSubrange(row * dim..<(row + 1) * dim, with: values[position * dim..<(position + 1) * dim])
                }
                message.values = try part.withUnsafeBufferPointer { try RowPayload.encode($0, as: .float32) }
                let sent = message
                group.addTask {
                    _ = try await self.retrying("assign on shard \(request.shard)", shard: request.shard, routing: routing,
                                                client: client) { client, version in
                        var message = sent
                        message.shardMapVersion = version
                        return try await client.assign(message, options: self.callOptions)
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    /// Statistics of every shard, by shard id.
    public func stats() async throws -> [UInt32: Tessera_V1_ShardStatsResponse] {
        let clients = state.withLock { $0.clients }
        return try await withThrowingTaskGroup(of: (UInt32, Tessera_V1_ShardStatsResponse).self) { group in
            for (id, client) in clients {
                group.addTask { (id, try await client.stats(options: self.callOptions)) }
            }
            var all: [UInt32: Tessera_V1_ShardStatsResponse] = [:]
            for try await (id, stats) in group { all[id] = stats }
            return all
        }
    }

    /// Has every shard write a checkpoint under `directory` (each in its own
    /// `shard-<id>` subdirectory), concurrently; answers by shard id. Not
    /// retried: a failed shard's error is thrown once all calls have ended
    /// and the others' checkpoints stand.
    ///
    /// - Parameter sequence: the same for every shard (e.g. the epoch); 0 lets each shard take its next.
    public func checkpoint(directory: String, incremental: Bool, sequence: UInt64 = 0,
                           options: CallOptions? = nil) async throws -> [UInt32: Tessera_V1_CheckpointResponse] {
        var request = Tessera_V1_CheckpointRequest()
        request.directory = directory
        request.incremental = incremental
        request.sequence = sequence
        let sent = request, callOptions = options ?? self.callOptions
        return try await onEveryShard("checkpoint") { _, client in try await client.checkpoint(sent, options: callOptions) }
    }

    /// Rolls every shard back to its checkpoint under `directory` (see
    /// `RestoreRequest`), concurrently; answers by shard id. Not retried: the
    /// first failure (lowest shard id) is thrown once all calls have ended.
    ///
    /// - Parameter sequences: the checkpoint sequence per shard id (job.json's); a shard not listed restores its newest.
    public func restore(directory: String, sequences: [UInt32: UInt64],
                        options: CallOptions? = nil) async throws -> [UInt32: Tessera_V1_RestoreResponse] {
        let callOptions = options ?? self.callOptions
        return try await onEveryShard("restore") { id, client in
            var request = Tessera_V1_RestoreRequest()
            request.directory = directory
            request.sequence = sequences[id] ?? 0
            return try await client.restore(request, options: callOptions)
        }
    }

    /// Calls every shard at once; answers by shard id. When any call fails, waits for the
    /// others, then throws the failure of the lowest shard id, prefixed "`what` of shard N".
    private func onEveryShard<Response: Sendable>(
        _ what: String, _ call: @escaping @Sendable (UInt32, ParameterServerClient) async throws -> Response
    ) async throws -> [UInt32: Response] {
        let clients = state.withLock { $0.clients }
        return try await withThrowingTaskGroup(of: (UInt32, Result<Response, any Error>).self) { group in
            for (id, client) in clients {
                group.addTask {
                    do {
                        return (id, .success(try await call(id, client)))
                    } catch {
                        return (id, .failure(error))
                    }
                }
            }
            var answers: [UInt32: Response] = [:]
            var failure: (UInt32, any Error)?
            for try await (id, result) in group {
                switch result {
                case .success(let response): answers[id] = response
                case .failure(let error): if failure == nil || id < failure!.0 { failure = (id, error) }
                }
            }
            if let (id, error) = failure {
                if let error = error as? RPCError {
                    throw RPCError(error.code, "\(what) of shard \(id): \(error.message)", cause: error)
                }
                throw error
            }
            return answers
        }
    }

    /// One request's worth of keys for one shard, as positions in the caller's key list.
    private struct PlannedRequest: Sendable {
        var shard: UInt32
        var positions: [Int]
    }

    private func plan(keys: [UInt64], routing: ShardRouting) -> [PlannedRequest] {
        let partition = routing.ring.partition(keys: keys)
        var requests: [PlannedRequest] = []
        for (group, shard) in partition.shards.enumerated() {
            let positions = partition.indices(ofGroup: group)
            var start = positions.startIndex
            while start < positions.endIndex {
                let end = min(start + maxKeysPerRequest, positions.endIndex)
                requests.append(PlannedRequest(shard: shard, positions: Array(positions[start..<end])))
                start = end
            }
        }
        return requests
    }

    /// Runs `call` on `shard` (first with `client` under `routing`), retrying transient
    /// failures with exponential backoff; with failover on, also through a leader's
    /// failover (see `Failover`). `call` gets the client and shard-map version to use.
    private func retrying<R: Sendable>(_ what: String, shard: UInt32, routing: ShardRouting, client: ParameterServerClient,
                                       _ call: @Sendable (ParameterServerClient, UInt64) async throws -> R) async throws -> R {
        var delay = Duration.milliseconds(50)
        var (routing, client) = (routing, client)
        let failover = self.failover.withLock { $0 }
        let deadline = failover.map { ContinuousClock.now + $0.patience }
        var attempt = 1
        while true {
            do {
                return try await call(client, routing.version)
            } catch let error as RPCError where error.isTransient || (failover != nil && error.code == .failedPrecondition) {
                if error.isTransient && attempt < attempts {
                    attempt += 1
                    try await Task.sleep(for: delay)
                    delay = min(delay * 2, .seconds(2))
                    continue
                }
                guard let failover, let deadline, ContinuousClock.now < deadline else { throw error }
                if let next = try await failedOver(shard: shard, from: routing, failover: failover, until: deadline) {
                    (routing, client) = next
                } else {
                    try await Task.sleep(for: delay)
                    delay = min(delay * 2, .milliseconds(500))
                }
            }
        }
    }

    /// A newer routing to retry `shard` with after a failure under `old`, and its client:
    /// one that moves no key and keeps the shard at its address or hands it to its
    /// follower. Nil when there is none yet.
    private func failedOver(shard: UInt32, from old: ShardRouting, failover: Failover,
                            until deadline: ContinuousClock.Instant) async throws -> (ShardRouting, ParameterServerClient)? {
        func acceptable(_ routing: ShardRouting) -> Bool {
            routing.version > old.version && routing.placesKeysLike(old)
                && (routing.addresses[shard] == old.addresses[shard] || routing.addresses[shard] == old.followers[shard])
        }
        let current = state.withLock { ($0.routing, $0.clients[shard]) }
        if acceptable(current.0), let client = current.1 { return (current.0, client) }
        guard current.0.version <= old.version, let newerMap = failover.newerMap else { return nil }
        let wait = min(.seconds(1), deadline - ContinuousClock.now)
        guard wait > .zero, let newer = try? await newerMap(old.version, wait), acceptable(newer) else { return nil }
        try state.withLock { state in
            guard newer.version > state.routing.version else { return }
            state.clients = try Self.clients(for: newer, reusing: state.clients, old: state.routing, security: security)
            state.routing = newer
        }
        let latest = state.withLock { ($0.routing, $0.clients[shard]) }
        guard acceptable(latest.0), let client = latest.1 else { return nil }
        return (latest.0, client)
    }
}
