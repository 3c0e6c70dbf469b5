/// The server side of `tessera.v1.ParameterServer`.
public protocol ParameterServerService: Sendable {
    func pull(_ request: Tessera_V1_PullRequest, context: ServerContext) async throws -> Tessera_V1_PullResponse
    func push(_ request: Tessera_V1_PushRequest, context: ServerContext) async throws -> Tessera_V1_PushResponse
    func stats(_ request: Tessera_V1_ShardStatsRequest, context: ServerContext) async throws -> Tessera_V1_ShardStatsResponse
    func scoreItems(_ request: Tessera_V1_ScoreItemsRequest, context: ServerContext) async throws -> Tessera_V1_ScoreItemsResponse
    func updateCounters(_ request: Tessera_V1_UpdateCountersRequest, context: ServerContext) async throws -> Tessera_V1_UpdateCountersResponse
    func assign(_ request: Tessera_V1_AssignRequest, context: ServerContext) async throws -> Tessera_V1_AssignResponse
    func checkpoint(_ request: Tessera_V1_CheckpointRequest, context: ServerContext) async throws -> Tessera_V1_CheckpointResponse
    func restore(_ request: Tessera_V1_RestoreRequest, context: ServerContext) async throws -> Tessera_V1_RestoreResponse
    func replicate(_ request: Tessera_V1_ReplicateRequest, context: ServerContext) async throws -> Tessera_V1_ReplicateResponse
    func promote(_ request: Tessera_V1_PromoteRequest, context: ServerContext) async throws -> Tessera_V1_PromoteResponse
    func migrate(_ request: Tessera_V1_MigrateRequest, context: ServerContext) async throws -> Tessera_V1_MigrateResponse
}

extension RPCRouter {
    /// Routes the ParameterServer methods to `service`.
    public mutating func register(_ service: some ParameterServerService) {
        unary(Methods.ParameterServer.pull) { (request: Tessera_V1_PullRequest, context) in
            try context.checkKeyCount(request.keys.count)
            return try await service.pull(request, context: context)
        }
        unary(Methods.ParameterServer.push) { (request: Tessera_V1_PushRequest, context) in
            try context.checkKeyCount(request.keys.count)
            return try await service.push(request, context: context)
        }
        unary(Methods.ParameterServer.stats) { try await service.stats($0, context: $1) }
        unary(Methods.ParameterServer.scoreItems) { try await service.scoreItems($0, context: $1) }
        unary(Methods.ParameterServer.updateCounters) { (request: Tessera_V1_UpdateCountersRequest, context) in
            try context.checkKeyCount(request.deltas.count, field: "deltas")
            return try await service.updateCounters(request, context: context)
        }
        unary(Methods.ParameterServer.assign) { (request: Tessera_V1_AssignRequest, context) in
            try context.checkKeyCount(request.keys.count)
            return try await service.assign(request, context: context)
        }
        unary(Methods.ParameterServer.checkpoint) { try await service.checkpoint($0, context: $1) }
        unary(Methods.ParameterServer.restore) { try await service.restore($0, context: $1) }
        unary(Methods.ParameterServer.replicate) { try await service.replicate($0, context: $1) }
        unary(Methods.ParameterServer.promote) { try await service.promote($0, context: $1) }
        unary(Methods.ParameterServer.migrate) { try await service.migrate($0, context: $1) }
    }
}

/// A typed client of `tessera.v1.ParameterServer` on one shard.
public struct ParameterServerClient: Sendable {
    public let channel: GRPCChannel

    public init(channel: GRPCChannel) {
        self.channel = channel
    }

    public func pull(_ request: Tessera_V1_PullRequest, options: CallOptions = CallOptions()) async throws -> Tessera_V1_PullResponse {
        try await channel.call(Methods.ParameterServer.pull, request, options: options)
    }

    public func push(_ request: Tessera_V1_PushRequest, options: CallOptions = CallOptions()) async throws -> Tessera_V1_PushResponse {
        try await channel.call(Methods.ParameterServer.push, request, options: options)
    }

    public func stats(options: CallOptions = CallOptions()) async throws -> Tessera_V1_ShardStatsResponse {
        try await channel.call(Methods.ParameterServer.stats, Tessera_V1_ShardStatsRequest(), options: options)
    }

    public func scoreItems(_ request: Tessera_V1_ScoreItemsRequest, options: CallOptions = CallOptions()) async throws -> Tessera_V1_ScoreItemsResponse {
        try await channel.call(Methods.ParameterServer.scoreItems, request, options: options)
    }

    public func updateCounters(_ request: Tessera_V1_UpdateCountersRequest, options: CallOptions = CallOptions()) async throws -> Tessera_V1_UpdateCountersResponse {
        try await channel.call(Methods.ParameterServer.updateCounters, request, options: options)
    }

    public func assign(_ request: Tessera_V1_AssignRequest, options: CallOptions = CallOptions()) async throws -> Tessera_V1_AssignResponse {
        try await channel.call(Methods.ParameterServer.assign, request, options: options)
    }

    /// Writes a checkpoint of this shard (see `CheckpointRequest`). Give it a
    /// deadline that fits the shard's size: it returns once the files are durable.
    public func checkpoint(_ request: Tessera_V1_CheckpointRequest, options: CallOptions = CallOptions()) async throws -> Tessera_V1_CheckpointResponse {
        try await channel.call(Methods.ParameterServer.checkpoint, request, options: options)
    }

    /// Rolls this shard back to a checkpoint in place (see `RestoreRequest`).
    public func restore(_ request: Tessera_V1_RestoreRequest, options: CallOptions = CallOptions()) async throws -> Tessera_V1_RestoreResponse {
        try await channel.call(Methods.ParameterServer.restore, request, options: options)
    }

    /// Leader to follower: applies a batch of acknowledged changes (see `ReplicateRequest`).
    public func replicate(_ request: Tessera_V1_ReplicateRequest, options: CallOptions = CallOptions()) async throws -> Tessera_V1_ReplicateResponse {
        try await channel.call(Methods.ParameterServer.replicate, request, options: options)
    }

    /// Scheduler to follower: take over as the shard's leader.
    public func promote(_ request: Tessera_V1_PromoteRequest, options: CallOptions = CallOptions()) async throws -> Tessera_V1_PromoteResponse {
        try await channel.call(Methods.ParameterServer.promote, request, options: options)
    }

    /// Scheduler to shard: one phase of a live reshard (see `MigrateRequest`). COPY returns once every moving row is sent.
    public func migrate(_ request: Tessera_V1_MigrateRequest, options: CallOptions = CallOptions()) async throws -> Tessera_V1_MigrateResponse {
        try await channel.call(Methods.ParameterServer.migrate, request, options: options)
    }
}
