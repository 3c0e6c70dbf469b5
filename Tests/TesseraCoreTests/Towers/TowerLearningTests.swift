import Foundation
import Testing
import TesseraCore

/// The retrieval models learn on synthetic data (small, fast versions of the comparisons
/// reported in the change; deterministic).
@Suite("Towers: learning on synthetic data")
struct TowerLearningTests {
    /// Multi-scenario data whose scenarios differ strongly (`scenarioStrength` 3): STAR and
    /// MMoE each beat both the scenario-blind model and one model per scenario on average,
    /// and lose clearly on no scenario.
    @Test func multiScenarioModelsBeatBlindAndPerScenarioModels() async throws {
        var spec = SyntheticSpec(users: 450, items: 200, interactionsPerUser: 24, seed: 42)
        spec.scenarios = 3
        spec.scenarioStrength = 3
        let data = try SyntheticGenerator(spec: spec).generate()
        var training = try TowerTraining(items: data.items, split: InteractionSplit.split(data.interactions, seed: 7))
        training.epochs = 6
        let scenarios = [0, 1, 2]
        func config(_ kind: MultiScenarioConfig.Kind, scenarios: Int) -> MultiScenarioConfig {
            var config = MultiScenarioConfig(kind: kind, scenarios: scenarios)
            config.embeddingDim = 16
            config.l2 = 0.3
            return config
        }
        let logQ = TwoTowerLogQ(train: training.split.train)
        let star = try await training.trainAndEvaluate(MultiScenarioModel(config: config(.star, scenarios: 3), logQ: logQ), scenarios: scenarios)
        let mmoe = try await training.trainAndEvaluate(MultiScenarioModel(config: config(.mmoe, scenarios: 3), logQ: logQ), scenarios: scenarios)
        let blind = try await training.trainAndEvaluate(MultiScenarioModel(config: config(.blind, scenarios: 3), logQ: logQ), scenarios: scenarios)
        var perScenario: [Int: Double] = [:]
        for s in scenarios {
            let own = training.split.train.filter { $0.scenario == s }
            let model = try MultiScenarioModel(config: config(.blind, scenarios: 1), logQ: TwoTowerLogQ(train: own))
            perScenario[s] = try await training.trainAndEvaluate(model, train: own, scenarios: [s])[s]
        }
        func mean(_ r: [Int: Double]) -> Double { r.values.reduce(0, +) / Double(r.count) }
        let summary = "star \(star), mmoe \(mmoe), blind \(blind), per-scenario \(perScenario)"
        if TowerTestSupport.verbose { print(summary) }
        for (name, model) in [("star", star), ("mmoe", mmoe)] {
            #expect(mean(model) > mean(blind) + 0.01, "\(name): \(summary)")
            #expect(mean(model) > mean(perScenario) + 0.01, "\(name): \(summary)")
            for s in scenarios {
                #expect(model[s]! > max(blind[s]!, perScenario[s]!) - 0.01, "\(name), scenario \(s): \(summary)")
            }
        }
    }

    /// A two-tower model with item features learns: NDCG@10 well above popularity. BPR
    /// learns better on raw dot products than on cosines (see `TwoTowerConfig.normalize`).
    @Test(arguments: [TwoTowerLoss.sampledSoftmax, .bpr])
    func twoTowerBeatsPopularity(loss: TwoTowerLoss) async throws {
        let spec = SyntheticSpec(users: 500, items: 300, interactionsPerUser: 20, seed: 3)
        let generator = try SyntheticGenerator(spec: spec)
        let data = generator.generate()
        var training = try TowerTraining(items: data.items, split: InteractionSplit.split(data.interactions, seed: 7))
        training.epochs = 8
        var config = TwoTowerConfig()
        config.embeddingDim = 16
        config.userHidden = [32]
        config.itemHidden = [32]
        config.outputDim = 16
        config.loss = loss
        config.normalize = loss == .sampledSoftmax
        config.temperature = loss == .sampledSoftmax ? 0.1 : 1
        let model = try TwoTowerModel(config: config, features: Self.features(generator), logQ: TwoTowerLogQ(train: training.split.train))
        let (ndcg, popularity) = try await training.trainAndEvaluate(model)
        if TowerTestSupport.verbose { print("two-tower \(loss): ndcg@10 \(ndcg), popularity \(popularity)") }
        #expect(ndcg > 1.5 * popularity, "\(loss): ndcg@10 \(ndcg), popularity \(popularity)")
    }

    /// Synthetic item features: the signs of the first three planted coordinates (8 taste
    /// groups) as a `genres` value.
    static func features(_ generator: SyntheticGenerator) -> ItemFeatures {
        var values: [UInt64: [String]] = [:]
        for item in 1...UInt64(generator.spec.items) {
            guard let v = generator.itemVector(item) else { continue }
            values[item] = ["g" + v.prefix(3).map { $0 >= 0 ? "+" : "-" }.joined()]
        }
        return ItemFeatures(values: values)
    }
}
