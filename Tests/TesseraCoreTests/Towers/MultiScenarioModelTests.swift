import Foundation
import Testing
import TesseraCore

/// The multi-scenario model's keys, gradients (end to end), scenario handling and
/// serving vectors on tiny instances.
@Suite("Towers: multi-scenario model")
struct MultiScenarioModelTests {
    typealias S = TowerTestSupport

    /// Three scenarios; user 1 has positives in two scenarios (an accidental hit across
    /// scenarios), item 10 is a positive in two scenarios, a negative repeats a positive.
    static let batch = TwoTowerBatch(users: [1, 2, 1, 3, 2, 4], items: [10, 11, 12, 10, 13, 14],
                                     scenarios: [0, 1, 2, 1, 0, 2], negatives: [15, 11])

    static func config(_ kind: MultiScenarioConfig.Kind, loss: TwoTowerLoss = .sampledSoftmax, activation: Activation = .gelu,
                       residual: Bool = true, itemBias: Bool = true, scenarios: Int = 3) -> MultiScenarioConfig {
        var config = MultiScenarioConfig(kind: kind, scenarios: scenarios)
        config.embeddingDim = 4
        config.starHidden = [5]
        config.experts = 2
        config.expertSizes = [5]
        config.towerHidden = [3]
        config.activation = activation
        config.residual = residual
        config.itemBias = itemBias
        config.loss = loss
        config.temperature = 0.7
        config.denseBlockSize = 32
        return config
    }

    static func rows(_ model: MultiScenarioModel, batch: TwoTowerBatch = batch, seed: UInt64 = 1) -> [String: [Float]] {
        S.randomRows(keys: model.keys(for: batch), dims: model.tableDims, denseTable: "dense",
                     denseRows: model.initialDenseRows(seed: 3), seed: seed)
    }

    @Test(arguments: MultiScenarioConfig.Kind.allCases, TwoTowerLoss.allCases)
    func gradientsMatchFiniteDifferences(kind: MultiScenarioConfig.Kind, loss: TwoTowerLoss) throws {
        let logQ = TwoTowerLogQ(counts: [10: 40, 11: 3, 12: 9, 13: 1])
        for (residual, itemBias) in [(true, true), (false, false)] {
            let model = try MultiScenarioModel(config: Self.config(kind, loss: loss, residual: residual, itemBias: itemBias), logQ: logQ)
            let report = try S.checkGradients(model, batch: Self.batch, rows: Self.rows(model), checker: S.composite)
            #expect(report.passed, "\(kind) \(loss) residual \(residual) itemBias \(itemBias): \(report)")
        }
    }

    @Test(arguments: [MultiScenarioConfig.Kind.star, .mmoe])
    func gradientsMatchWithReluAndDropout(kind: MultiScenarioConfig.Kind) throws {
        var config = Self.config(kind, activation: .relu)
        config.dropout = 0.25
        let model = try MultiScenarioModel(config: config)
        let report = try S.checkGradients(model, batch: Self.batch, rows: Self.rows(model, seed: 2), checker: S.reluComposite)
        #expect(report.passed, "\(kind): \(report)")
        #expect(Double(report.kinks) <= 0.25 * Double(report.checked), "\(report)")
    }

    @Test func shapesAndKeys() throws {
        let star = try MultiScenarioModel(config: Self.config(.star))
        #expect(star.itemDim == 4 + 1 + 3 && star.vectorDim == star.itemDim)
        #expect(star.tableDims == ["user": 4, "item": 8, "dense": 32])
        let keys = star.keys(for: Self.batch)
        #expect(keys["user"] == [1, 2, 3, 4])
        #expect(keys["item"] == [10, 11, 12, 13, 14, 15])
        #expect(keys["dense"] == star.dense.keys)
        let blind = try MultiScenarioModel(config: Self.config(.blind))
        #expect(blind.partitions == 1 && blind.itemDim == 4 + 2)
        #expect(try MultiScenarioModel(config: Self.config(.mmoe, itemBias: false)).itemDim == 4)
    }

    @Test func scenariosOutsideTheModelThrowExceptForBlind() throws {
        let outside = TwoTowerBatch(users: [1, 2], items: [10, 11], scenarios: [0, 3])
        for kind in [MultiScenarioConfig.Kind.star, .mmoe] {
            let model = try MultiScenarioModel(config: Self.config(kind))
            #expect(throws: ModelError.self) { try model.gradients(for: outside, rows: Self.rows(model, batch: outside), seed: 0) }
            let users = model.userVectorKeys(users: [1])
            let rows = S.randomRows(keys: users, dims: model.tableDims, denseTable: "dense", denseRows: model.initialDenseRows(seed: 3), seed: 1)
            #expect(throws: ModelError.self) { try model.userVectors(users: [1], scenario: -1, rows: rows) }
        }
        let blind = try MultiScenarioModel(config: Self.config(.blind))
        _ = try blind.gradients(for: outside, rows: Self.rows(blind, batch: outside), seed: 0)
    }

    /// A blind model ignores scenario labels; a one-scenario model is the per-scenario baseline.
    @Test func blindAndSingleScenarioModels() throws {
        let blind = try MultiScenarioModel(config: Self.config(.blind))
        var relabelled = Self.batch
        relabelled.scenarios = relabelled.scenarios.map { ($0 + 1) % 3 }
        let rows = Self.rows(blind)
        let a = try blind.gradients(for: Self.batch, rows: rows, seed: 0)
        let b = try blind.gradients(for: relabelled, rows: rows, seed: 0)
        #expect(a.lossSum == b.lossSum && a.gradients == b.gradients)
        for kind in MultiScenarioConfig.Kind.allCases {
            let single = try MultiScenarioModel(config: Self.config(kind, scenarios: 1))
            var batch = Self.batch
            batch.scenarios = []
            let report = try S.checkGradients(single, batch: batch, rows: Self.rows(single, batch: batch), checker: S.composite)
            #expect(report.passed, "\(kind) with one scenario: \(report)")
        }
    }

    /// Query vectors depend on the scenario, item vectors are the raw rows, and their dot
    /// product reproduces the training loss of a one-example batch.
    @Test(arguments: MultiScenarioConfig.Kind.allCases)
    func servingVectorsReproduceTheTrainingScores(kind: MultiScenarioConfig.Kind) throws {
        let model = try MultiScenarioModel(config: Self.config(kind))
        let candidates: [UInt64] = [11, 10, 12, 13]
        var queries: [[Float]] = []
        for scenario in 0..<3 {
            let batch = TwoTowerBatch(users: [2], items: [11], scenarios: [UInt32(scenario)], negatives: [10, 12, 13])
            let rows = Self.rows(model, batch: batch, seed: 9)
            let loss = try model.gradients(for: batch, rows: rows, seed: 0).lossSum
            let query = try model.userVectors(users: [2], scenario: scenario, rows: ["user": rows["user"]!, "dense": rows["dense"]!])
            #expect(model.itemVectorKeys(items: candidates) == ["item": [10, 11, 12, 13]])
            let items = try model.itemVectors(items: candidates, rows: ["item": rows["item"]!])
            #expect(Array(items[0..<model.itemDim]) == Array(rows["item"]![model.itemDim..<(2 * model.itemDim)]))
            let d = model.vectorDim
            let scores = (0..<4).map { j in (0..<d).reduce(0.0) { $0 + Double(query[$1]) * Double(items[j * d + $1]) } }
            let logSumExp = log(scores.reduce(0.0) { $0 + exp($1) })
            #expect(abs((logSumExp - scores[0]) - loss) < 1e-4, "\(kind) scenario \(scenario)")
            queries.append(query)
        }
        if kind == .blind {
            #expect(queries[0] == queries[1] && queries[1] == queries[2])
        } else {
            #expect(queries[0] != queries[1] && queries[1] != queries[2])
        }
    }
}
