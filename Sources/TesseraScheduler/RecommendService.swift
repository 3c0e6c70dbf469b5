import Foundation
import Synchronization
import TesseraCore
import TesseraRPC

/// `tessera.v1.Inference`, answered from the best model trained so far.
///
/// Thread-safe: the scheduler swaps models in while requests read the one
/// they started with.
public final class RecommendService: InferenceService {
    private let model = Mutex<ServingModel?>(nil)
    private let names = Mutex<[UInt64: String]>([:])
    public let maxK: Int
    /// Most ids a request may list in `exclude_item_ids`.
    public let maxExcluded = 10_000

    public init(maxK: Int) {
        self.maxK = maxK
    }

    /// Serves `newModel` from now on; `names` maps non-numeric keys back to raw ids.
    public func update(_ newModel: ServingModel, names newNames: [UInt64: String]) {
        names.withLock { $0 = newNames }
        model.withLock { $0 = newModel }
    }

    /// The model in service, if any.
    public var current: ServingModel? {
        model.withLock { $0 }
    }

    public func recommend(_ request: Tessera_V1_RecommendRequest, context: ServerContext) async throws -> Tessera_V1_RecommendResponse {
        guard request.k >= 1, request.k <= maxK else {
            throw RPCError(.invalidArgument, "k: must be between 1 and \(maxK) (serving.max_k), got \(request.k)")
        }
        guard !request.userID.isEmpty else {
            throw RPCError(.invalidArgument, "user_id: must not be empty")
        }
        guard request.excludeItemIds.count <= maxExcluded else {
            throw RPCError(.invalidArgument, "exclude_item_ids: at most \(maxExcluded) ids, got \(request.excludeItemIds.count)")
        }
        guard let model = current else {
            throw RPCError(.unavailable, "no model has been trained yet; Recommend answers after the first evaluated epoch")
        }
        let excluded = Set(request.excludeItemIds.map { EntityKey.key(for: $0) })
        let answer = model.recommend(user: EntityKey.key(for: request.userID), k: Int(request.k), excluding: excluded,
                                     includeSeen: request.includeSeen)
        let names = self.names.withLock { $0 }
        var response = Tessera_V1_RecommendResponse()
        response.modelVersion = model.version
        response.popularityFallback = answer.popularityFallback
        response.items = answer.items.map { item in
            var scored = Tessera_V1_ScoredItem()
            scored.itemID = names[item.item] ?? String(item.item)
            scored.score = item.score
            return scored
        }
        return response
    }
}
