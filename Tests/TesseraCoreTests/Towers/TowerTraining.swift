import Foundation
import TesseraCore

/// A local training and full-ranking evaluation loop for the retrieval models, over
/// `LocalParameters` (Adam on every table), for the learning tests.
struct TowerTraining {
    let items: [UInt64]
    let split: SplitData
    var batchSize = 128
    var epochs = 8
    var learningRate: Float = 0.01
    let evaluator: FullRankingEvaluator

    init(items: [UInt64], split: SplitData) throws {
        self.items = items
        self.split = split
        evaluator = try FullRankingEvaluator(k: 10)
    }

    /// Test NDCG@10 of `model` in scenario `scenario` of the data, after training on `train`
    /// (the whole training split unless given). Masks every train and valid item of the user.
    func trainAndEvaluate(_ model: MultiScenarioModel, train: [Interaction]? = nil, scenarios: [Int]) async throws -> [Int: Double] {
        let parameters = try await trained(model, denseKeys: model.dense.keys, denseRows: model.initialDenseRows(seed: 1),
                                     dims: model.tableDims, train: train ?? split.train)
        let itemRows = try await TowerTestSupport.pull(model.itemVectorKeys(items: items), dims: model.tableDims, from: parameters)
        let itemVectors = try model.itemVectors(items: items, rows: itemRows)
        var ndcg: [Int: Double] = [:]
        for s in scenarios {
            let set = testSet(scenario: s)
            let rows = try await TowerTestSupport.pull(model.userVectorKeys(users: set.users), dims: model.tableDims, from: parameters)
            let users = try model.userVectors(users: set.users, scenario: model.partitions == 1 ? 0 : s, rows: rows)
            ndcg[s] = evaluator.evaluate(set, userVectors: users, itemVectors: itemVectors, dim: model.vectorDim).metrics["ndcg@10"]
        }
        return ndcg
    }

    /// Test NDCG@10 of a two-tower model (single scenario) and of popularity.
    func trainAndEvaluate(_ model: TwoTowerModel) async throws -> (model: Double, popularity: Double) {
        let parameters = try await trained(model, denseKeys: model.dense.keys, denseRows: model.initialDenseRows(seed: 1),
                                     dims: model.tableDims, train: split.train)
        let set = testSet(scenario: nil)
        let itemRows = try await TowerTestSupport.pull(model.itemVectorKeys(items: items), dims: model.tableDims, from: parameters)
        let userRows = try await TowerTestSupport.pull(model.userVectorKeys(users: set.users), dims: model.tableDims, from: parameters)
        let result = evaluator.evaluate(set, userVectors: try model.userVectors(users: set.users, rows: userRows),
                                        itemVectors: try model.itemVectors(items: items, rows: itemRows), dim: model.vectorDim)
        let popularity = Popularity(set).evaluate(set, with: evaluator)
        return (result.metrics["ndcg@10"] ?? 0, popularity.metrics["ndcg@10"] ?? 0)
    }

    /// The test set of one scenario (all scenarios for nil), masking train and valid.
    func testSet(scenario: Int?) -> EvaluationSet {
        EvaluationSet(items: items, train: split.train, heldOut: split.test.filter { scenario == nil || $0.scenario == scenario! },
                      extraMask: split.valid)
    }

    private func trained<M: ShardedModel>(_ model: M, denseKeys: [UInt64], denseRows: [Float], dims: [String: Int],
                                          train: [Interaction]) async throws -> LocalParameters where M.Batch == TwoTowerBatch {
        let parameters = try TowerTestSupport.localParameters(
            dims: dims, denseTable: "dense", denseKeys: denseKeys, denseRows: denseRows, optimizer: .adam(learningRate: learningRate))
        let batcher = TwoTowerBatcher(train: train, items: items, batchSize: batchSize, seed: 11)
        for epoch in 0..<epochs {
            for (step, batch) in batcher.batches(epoch: epoch).enumerated() {
                try await TowerTestSupport.trainStep(model, batch: batch, dims: dims, seed: UInt64(epoch * 10_000 + step), on: parameters)
            }
        }
        return parameters
    }
}
