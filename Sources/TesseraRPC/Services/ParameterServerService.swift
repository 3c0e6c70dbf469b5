/// The server side of `tessera.v1.ParameterServer`.
public protocol ParameterServerService: Sendable {
    func pull(_ request: Tessera_V1_PullRequest, context: ServerContext) async throws -> Tessera_V1_PullResponse
    func push(_ request: Tessera_V1_PushRequest, context: ServerContext) async throws -> Tessera_V1_PushResponse
    func stats(_ request: Tessera_V1_ShardStatsRequest, context: ServerContext) async throws -> Tessera_V1_ShardStatsResponse
}

extension RPCRouter {
    /// Routes the ParameterServer methods to `service`.
    public mutating func register(_ service: some ParameterServerService) {
        unary(Methods.ParameterServer.pull) { try await service.pull($0, context: $1) }
        unary(Methods.ParameterServer.push) { try await service.push($0, context: $1) }
        unary(Methods.ParameterServer.stats) { try await service.stats($0, context: $1) }
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
}
