import TesseraObservability
import TesseraRPC

/// Counts and times every Inference call of `inner` (`tessera_inference_*`), then
/// forwards it unchanged.
struct MeteredInference<Inner: InferenceService>: InferenceService {
    let inner: Inner
    let metrics: SchedulerMetrics

    private func timed<Response>(_ method: String, _ body: () async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        do {
            let response = try await body()
            metrics.record(method: method, duration: ContinuousClock.now - start, code: nil)
            return response
        } catch {
            let code = (error as? RPCError).map { "\($0.code)".lowercased() } ?? "unknown"
            metrics.record(method: method, duration: ContinuousClock.now - start, code: code)
            throw error
        }
    }

    func recommend(_ request: Tessera_V1_RecommendRequest, context: ServerContext) async throws -> Tessera_V1_RecommendResponse {
        try await timed("recommend") { try await inner.recommend(request, context: context) }
    }

    func score(_ request: Tessera_V1_ScoreRequest, context: ServerContext) async throws -> Tessera_V1_ScoreResponse {
        try await timed("score") { try await inner.score(request, context: context) }
    }

    func feedback(_ request: Tessera_V1_FeedbackRequest, context: ServerContext) async throws -> Tessera_V1_FeedbackResponse {
        try await timed("feedback") { try await inner.feedback(request, context: context) }
    }
}
