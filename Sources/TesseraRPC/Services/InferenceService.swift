/// The server side of `tessera.v1.Inference`.
public protocol InferenceService: Sendable {
    func recommend(_ request: Tessera_V1_RecommendRequest, context: ServerContext) async throws -> Tessera_V1_RecommendResponse
}

extension RPCRouter {
    /// Routes the Inference methods to `service`.
    public mutating func register(_ service: some InferenceService) {
        unary(Methods.Inference.recommend) { try await service.recommend($0, context: $1) }
    }
}

/// A typed client of `tessera.v1.Inference`.
public struct InferenceClient: Sendable {
    public let channel: GRPCChannel

    public init(channel: GRPCChannel) {
        self.channel = channel
    }

    public func recommend(_ request: Tessera_V1_RecommendRequest, options: CallOptions = CallOptions()) async throws -> Tessera_V1_RecommendResponse {
        try await channel.call(Methods.Inference.recommend, request, options: options)
    }
}
