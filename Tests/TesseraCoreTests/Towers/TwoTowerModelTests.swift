import Foundation
import Testing
import TesseraCore

/// The two-tower model's keys, gradients (end to end, through `GradientCheck`) and
/// serving vectors on tiny instances.
@Suite("Towers: two-tower model")
struct TwoTowerModelTests {
    typealias S = TowerTestSupport

    /// Users 1 and 2 each have two positives (accidental hits), item 10 is a positive
    /// twice, negatives repeat a positive; item 12 has no features.
    static let batch = TwoTowerBatch(users: [1, 2, 1, 3, 2], items: [10, 11, 12, 10, 13], negatives: [14, 11])
    static let features: [UInt64: [UInt64]] = [10: [100, 101], 11: [101], 13: [102], 14: [100, 102, 103]]

    static func model(loss: TwoTowerLoss = .sampledSoftmax, normalize: Bool = true, activation: Activation = .gelu,
                      features: Bool = true, dropout: Float = 0, logQ: Bool = true) throws -> TwoTowerModel {
        var config = TwoTowerConfig()
        config.embeddingDim = 4
        config.userHidden = [5]
        config.itemHidden = [6]
        config.outputDim = 3
        config.activation = activation
        config.normalize = normalize
        config.temperature = normalize ? 0.5 : 1
        config.loss = loss
        config.dropout = dropout
        config.denseBlockSize = 16
        config.featureTable = features ? "feature" : nil
        let counts: [UInt64: Int] = [10: 50, 11: 5, 12: 1, 13: 20]
        return try TwoTowerModel(config: config, itemFeatureKeys: Self.features, logQ: logQ ? TwoTowerLogQ(counts: counts) : nil)
    }

    static func rows(_ model: TwoTowerModel, seed: UInt64 = 1) -> [String: [Float]] {
        S.randomRows(keys: model.keys(for: batch), dims: model.tableDims, denseTable: "dense",
                     denseRows: model.initialDenseRows(seed: 3), seed: seed)
    }

    @Test func keysAreUniqueSortedAndCoverFeatures() throws {
        let model = try Self.model()
        let keys = model.keys(for: Self.batch)
        #expect(keys["user"] == [1, 2, 3])
        #expect(keys["item"] == [10, 11, 12, 13, 14])
        #expect(keys["feature"] == [100, 101, 102, 103])
        #expect(keys["dense"] == model.dense.keys)
        #expect(model.dense.parameterCount == model.layout.count)
        #expect(Set(model.tableDims.keys) == Set(keys.keys))
        #expect(try Self.model(features: false).keys(for: Self.batch)["feature"] == nil)
    }

    @Test(arguments: [TwoTowerLoss.sampledSoftmax, .bpr], [true, false])
    func gradientsMatchFiniteDifferences(loss: TwoTowerLoss, normalize: Bool) throws {
        let model = try Self.model(loss: loss, normalize: normalize)
        let report = try S.checkGradients(model, batch: Self.batch, rows: Self.rows(model), checker: S.composite)
        #expect(report.passed, "\(loss) normalize \(normalize): \(report)")
    }

    @Test func gradientsMatchWithReluDropoutAndNoFeatures() throws {
        for features in [true, false] {
            let model = try Self.model(activation: .relu, features: features, dropout: 0.3)
            let report = try S.checkGradients(model, batch: Self.batch, rows: Self.rows(model, seed: 2), checker: S.reluComposite)
            #expect(report.passed, "features \(features): \(report)")
            #expect(Double(report.kinks) <= 0.25 * Double(report.checked), "\(report)")
        }
    }

    @Test func l2AddsDecayToTouchedRowsOnly() throws {
        var config = try Self.model().config
        config.l2 = 0.1
        let decayed = try TwoTowerModel(config: config, itemFeatureKeys: Self.features)
        let plain = try TwoTowerModel(config: try Self.model().config, itemFeatureKeys: Self.features)
        let rows = Self.rows(plain)
        let a = try decayed.gradients(for: Self.batch, rows: rows, seed: 0)
        let b = try plain.gradients(for: Self.batch, rows: rows, seed: 0)
        for table in ["user", "item", "feature"] {
            for i in rows[table]!.indices {
                #expect(abs(a.gradients[table]![i] - b.gradients[table]![i] - 0.1 * rows[table]![i]) < 1e-5)
            }
        }
        #expect(a.gradients["dense"] == b.gradients["dense"])
        #expect(abs(a.lossSum - b.lossSum) < 1e-9)
    }

    /// `userVectors · itemVectors` is the training score: one example against its
    /// candidates, sampled softmax without log-Q, reproduces the step's loss.
    @Test func servingVectorsReproduceTheTrainingScores() throws {
        let model = try Self.model(logQ: false)
        let batch = TwoTowerBatch(users: [2], items: [11], negatives: [10, 12, 13, 14])
        let rows = S.randomRows(keys: model.keys(for: batch), dims: model.tableDims, denseTable: "dense",
                                denseRows: model.initialDenseRows(seed: 3), seed: 4)
        let loss = try model.gradients(for: batch, rows: rows, seed: 0).lossSum

        let users = try model.userVectors(users: [2], rows: ["user": rows["user"]!, "dense": rows["dense"]!])
        let itemKeys = model.itemVectorKeys(items: [11, 10, 12, 13, 14])
        #expect(itemKeys["item"] == [10, 11, 12, 13, 14])
        #expect(itemKeys["feature"] == [100, 101, 102, 103])
        let items = try model.itemVectors(items: [11, 10, 12, 13, 14], rows: rows)
        #expect(users.count == model.vectorDim && items.count == 5 * model.vectorDim)
        let d = model.vectorDim
        let scores = (0..<5).map { j in (0..<d).reduce(0.0) { $0 + Double(users[$1]) * Double(items[j * d + $1]) } }
        let logSumExp = log(scores.reduce(0.0) { $0 + exp($1) })
        #expect(abs((logSumExp - scores[0]) - loss) < 1e-4, "serving scores give \(logSumExp - scores[0]), training loss \(loss)")
        // Normalised item vectors have unit length.
        for j in 0..<5 {
            let norm = (0..<d).reduce(Float(0)) { $0 + items[j * d + $1] * items[j * d + $1] }.squareRoot()
            #expect(abs(norm - 1) < 1e-5)
        }
    }

    @Test func missingOrMisSizedRowsThrow() throws {
        let model = try Self.model()
        var rows = Self.rows(model)
        rows["feature"] = nil
        #expect(throws: ModelError.self) { try model.gradients(for: Self.batch, rows: rows, seed: 0) }
        rows = Self.rows(model)
        rows["user"]!.removeLast()
        #expect(throws: ModelError.self) { try model.gradients(for: Self.batch, rows: rows, seed: 0) }
    }

    @Test func logQCorrectionUsesFrequencies() {
        let q = TwoTowerLogQ(counts: [1: 9, 2: 0])
        // total = (9 + 1) + (0 + 1) + 1 = 12
        #expect(abs(q[1] - Float(log(10.0 / 12))) < 1e-6)
        #expect(abs(q[2] - Float(log(1.0 / 12))) < 1e-6)
        #expect(q[3] == q.unseen)
    }
}
