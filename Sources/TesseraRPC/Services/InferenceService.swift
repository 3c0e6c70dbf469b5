/// The server side of `tessera.v1.Inference`.
public protocol InferenceService: Sendable {
    func recommend(_ request: Tessera_V1_RecommendRequest, context: ServerContext) async throws -> Tessera_V1_RecommendResponse
    func score(_ request: Tessera_V1_ScoreRequest, context: ServerContext) async throws -> Tessera_V1_ScoreResponse
    func feedback(_ request: Tessera_V1_FeedbackRequest, context: ServerContext) async throws -> Tessera_V1_FeedbackResponse
}

extension RPCRouter {
    /// Routes the Inference methods to `service`.
    public mutating func register(_ service: some InferenceService) {
        unary(Methods.Inference.recommend) { try await service.recommend($0, context: $1) }
        unary(Methods.Inference.score) { try await service.score($0, context: $1) }
        unary(Methods.Inference.feedback) { try await service.feedback($0, context: $1) }
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

    public func score(_ request: Tessera_V1_ScoreRequest, options: CallOptions = CallOptions()) async throws -> Tessera_V1_ScoreResponse {
        try await channel.call(Methods.Inference.score, request, options: options)
    }

    public func feedback(_ request: Tessera_V1_FeedbackRequest, options: CallOptions = CallOptions()) async throws -> Tessera_V1_FeedbackResponse {
        try await channel.call(Methods.Inference.feedback, request, options: options)
    }
}
