import Foundation
import Testing
import TesseraCore

@Suite struct RankerTests {
    func ranker(popularity: [UInt64: Float] = [10: 2, 11: 0.5]) -> Ranker {
        Ranker(dim: 3, scenarios: 2, hidden: [5], userTable: "user", itemTable: "item", denseTable: "dense", blockSize: 16,
               denseFirstKey: 100, popularity: popularity)
    }

    @Test func keysNameUsersItemsAndItsOwnBlocks() {
        let model = ranker()
        let batch = Ranker.Batch(examples: [.init(user: 1, item: 10, label: 1), .init(user: 1, item: 11, label: 0),
                                            .init(user: 2, item: 10, scenario: 1, label: 1)])
        let keys = model.keys(for: batch)
        #expect(keys["user"] == [1, 2])
        #expect(keys["item"] == [10, 11])
        #expect(keys["dense"]?.first == 100)
        #expect(keys["dense"]?.count == model.dense.blockCount)
    }

    @Test func denseGradientMatchesFiniteDifferences() throws {
        let model = ranker()
        var rng = SplitMix64(seed: 4)
        let users = (0..<6).map { _ in rng.nextGaussian() }
        let items = (0..<6).map { _ in rng.nextGaussian() }
        let batch = Ranker.Batch(examples: [.init(user: 1, item: 10, label: 1), .init(user: 1, item: 11, label: 0),
                                            .init(user: 2, item: 10, scenario: 1, label: 1), .init(user: 2, item: 11, scenario: 1, label: 0)])
        let initial = model.initialParameters(seed: 9)
        func step(_ parameters: [Float]) throws -> ModelStep {
            try model.gradients(for: batch, rows: ["user": users, "item": items, "dense": model.dense.blocks(parameters)], seed: 1)
        }
        let analytic = model.dense.flatten(try #require(step(initial).gradients["dense"]))
        let report = GradientCheck(tolerance: 2e-2, floor: 0.1, allowsKinks: true).check(initial, analytic: analytic) { parameters in
            (try? step(parameters).lossSum) ?? .nan
        }
        #expect(report.passed, "\(report)")
        // Only the ranker's own weights train: user and item rows get no gradient.
        #expect(try step(initial).gradients.keys.sorted() == ["dense"])
    }

    @Test func listwiseGradientMatchesFiniteDifferencesAndItsLossIsTheListSoftmax() throws {
        var rng = SplitMix64(seed: 6)
        let users = (0..<6).map { _ in rng.nextGaussian() }
        let items = (0..<9).map { _ in rng.nextGaussian() }
        let popularity: [UInt64: Float] = [10: 2, 11: 0.5, 12: 1]
        let listwise = Ranker(dim: 3, scenarios: 2, hidden: [5], userTable: "user", itemTable: "item", denseTable: "dense",
                              blockSize: 16, denseFirstKey: 100, popularity: popularity)
        // List 1: user 1, one positive of three; list 2: user 2, two positives of three; list 3: no positive.
        let examples: [Ranker.Example] = [.init(user: 1, item: 10, label: 0), .init(user: 1, item: 11, label: 1),
                                          .init(user: 1, item: 12, label: 0), .init(user: 2, item: 10, label: 1),
                                          .init(user: 2, item: 12, label: 1), .init(user: 2, item: 11, label: 0),
                                          .init(user: 1, item: 12, label: 0)]
        let batch = Ranker.Batch(examples: examples, lists: [0..<3, 3..<6, 6..<7])
        func step(_ parameters: [Float]) throws -> ModelStep {
            try listwise.gradients(for: batch, rows: ["user": users, "item": items, "dense": listwise.dense.blocks(parameters)], seed: 1)
        }
        // Untrained, the scores are u·v: the loss is the lists' softmax cross-entropy over them.
        func dot(_ user: Int, _ item: Int) -> Double { (0..<3).reduce(0.0) { $0 + Double(users[user * 3 + $1] * items[item * 3 + $1]) } }
        func logSoftmax(_ scores: [Double], _ i: Int) -> Double { scores[i] - log(scores.reduce(0) { $0 + exp($1) }) }
        let first = [dot(0, 0), dot(0, 1), dot(0, 2)], second = [dot(1, 0), dot(1, 2), dot(1, 1)]
        let expected = -logSoftmax(first, 1) - 0.5 * (logSoftmax(second, 0) + logSoftmax(second, 1))
        let initial = listwise.initialParameters(seed: 9)
        let untrained = try step(initial)
        #expect(abs(untrained.lossSum - expected) < 1e-4, "loss \(untrained.lossSum) vs \(expected)")
        #expect(untrained.examples == 2, "lists with a positive count")
        var moved = initial
        for (i, noise) in (0..<initial.count).map({ _ in 0.3 * rng.nextGaussian() }).enumerated() { moved[i] += noise }
        let analytic = listwise.dense.flatten(try #require(step(moved).gradients["dense"]))
        let report = GradientCheck(tolerance: 2e-2, floor: 0.1, allowsKinks: true).check(moved, analytic: analytic) { parameters in
            (try? step(parameters).lossSum) ?? .nan
        }
        #expect(report.passed, "\(report)")
    }

    @Test func untrainedRankerRanksAsRetrievalDoes() {
        let model = ranker()
        let scores = model.score(user: [1, 0, 0.5], items: [10, 11], itemVectors: [0.2, 0, 0, 0.5, 0, 1], scenario: 0,
                                 parameters: model.initialParameters(seed: 1))
        #expect(abs(scores[0] - 0.2) < 1e-6 && abs(scores[1] - 1.0) < 1e-6)
    }

    @Test func learnsWhichItemsAreClicked() throws {
        // Item 10 is clicked, item 11 never; the vectors alone do not tell them apart.
        let model = ranker(popularity: [10: 3, 11: 0.1])
        var parameters = model.initialParameters(seed: 3)
        let rows: [String: [Float]] = ["user": [0.1, 0.2, 0.3, -0.1, 0.2, 0.1], "item": [0.2, 0.1, 0.0, 0.2, 0.1, 0.0]]
        let batch = Ranker.Batch(examples: [.init(user: 1, item: 10, label: 1), .init(user: 1, item: 11, label: 0),
                                            .init(user: 2, item: 10, label: 1), .init(user: 2, item: 11, label: 0)])
        var first = 0.0, last = 0.0
        for round in 0..<200 {
            var withDense = rows
            withDense["dense"] = model.dense.blocks(parameters)
            let step = try model.gradients(for: batch, rows: withDense, seed: UInt64(round))
            if round == 0 { first = step.lossSum }
            last = step.lossSum
            let gradient = model.dense.flatten(step.gradients["dense"] ?? [])
            for i in parameters.indices { parameters[i] -= 0.1 * gradient[i] }
        }
        #expect(last < first * 0.2, "loss \(first) -> \(last)")
        let scores = model.score(user: [0.1, 0.2, 0.3], items: [10, 11], itemVectors: [0.2, 0.1, 0.0, 0.2, 0.1, 0.0],
                                 scenario: 0, parameters: parameters)
        #expect(scores[0] > scores[1])
    }
}
