import Foundation
import Testing
import TesseraCore

@Suite struct MatrixFactorizationTests {
    /// One user, items 0 (positive) and 1 (negative), dim 2.
    func tinyBatch() -> MFBatch {
        var batch = MFBatch()
        batch.userKeys = [7]
        batch.itemKeys = [100, 200]
        batch.users = [0]
        batch.positives = [0]
        batch.negatives = [1]
        batch.negativesPerPositive = 1
        return batch
    }

    @Test func bprGradientMatchesHandComputation() {
        // u = (1, 2), p = (0.5, -1), n = (1, 1): x = u·(p - n) = 1·(-0.5) + 2·(-2) = -4.5
        // loss = softplus(4.5) = ln(1 + e^4.5) ≈ 4.51104; g = dloss/dx = -sigmoid(4.5) ≈ -0.98901
        // grad u = g·(p - n) = (0.494506, 1.978024); grad p = g·u = (-0.98901, -1.97803); grad n = -g·u.
        let result = MatrixFactorization.gradients(kind: .bprMF, batch: tinyBatch(), userRows: [1, 2],
                                                   itemRows: [0.5, -1, 1, 1], dim: 2, l2: 0)
        let g = -1 / (1 + exp(-4.5))
        #expect(abs(result.lossSum - log1p(exp(4.5))) < 1e-5)
        #expect(abs(Double(result.users[0]) - g * -0.5) < 1e-5)
        #expect(abs(Double(result.users[1]) - g * -2) < 1e-5)
        #expect(abs(Double(result.items[0]) - g * 1) < 1e-5)
        #expect(abs(Double(result.items[1]) - g * 2) < 1e-5)
        #expect(abs(Double(result.items[2]) + g * 1) < 1e-5)
        #expect(abs(Double(result.items[3]) + g * 2) < 1e-5)
    }

    @Test(arguments: [ModelSettings.Kind.bprMF, .logisticMF])
    func gradientMatchesFiniteDifferences(kind: ModelSettings.Kind) {
        // Two users, four items, two negatives each, with a shared item so sums per key are exercised.
        var batch = MFBatch()
        batch.userKeys = [1, 2]
        batch.itemKeys = [10, 11, 12, 13]
        batch.users = [0, 1, 0]
        batch.positives = [0, 1, 2]
        batch.negatives = [1, 3, 2, 0, 3, 1]
        batch.negativesPerPositive = 2
        var rng = SplitMix64(seed: 3)
        let dim = 3
        let users = (0..<6).map { _ in rng.nextGaussian() * 0.5 }
        let items = (0..<12).map { _ in rng.nextGaussian() * 0.5 }
        let l2: Float = 0.05

        func objective(_ users: [Float], _ items: [Float]) -> Double {
            let result = MatrixFactorization.gradients(kind: kind, batch: batch, userRows: users, itemRows: items, dim: dim, l2: 0)
            // The model charges l2/2·‖row‖² per use of a row in a (positive, negative) pair.
            var penalty = 0.0
            for e in 0..<batch.count {
                for j in 0..<batch.negativesPerPositive {
                    let n = Int(batch.negatives[e * 2 + j])
                    var rows: [(array: [Float], row: Int)] = [(items, n)]
                    if kind == .bprMF || j == 0 { rows += [(users, Int(batch.users[e])), (items, Int(batch.positives[e]))] }
                    if kind == .logisticMF { rows.append((users, Int(batch.users[e]))) }
                    for (array, row) in rows {
                        penalty += (0..<dim).map { Double(array[row * dim + $0] * array[row * dim + $0]) }.reduce(0, +)
                    }
                }
            }
            return result.lossSum + Double(l2) / 2 * penalty
        }
        let analytic = MatrixFactorization.gradients(kind: kind, batch: batch, userRows: users, itemRows: items, dim: dim, l2: l2)
        let h: Float = 1e-3
        for i in users.indices {
            var plus = users, minus = users
            plus[i] += h
            minus[i] -= h
            let numeric = (objective(plus, items) - objective(minus, items)) / Double(2 * h)
            #expect(abs(numeric - Double(analytic.users[i])) < 2e-2, "user value \(i)")
        }
        for i in items.indices {
            var plus = items, minus = items
            plus[i] += h
            minus[i] -= h
            let numeric = (objective(users, plus) - objective(users, minus)) / Double(2 * h)
            #expect(abs(numeric - Double(analytic.items[i])) < 2e-2, "item value \(i)")
        }
    }

    @Test func sigmoidAndSoftplusAreStableAtExtremes() {
        #expect(MatrixFactorization.sigmoid(100) == 1)
        #expect(MatrixFactorization.sigmoid(-100) >= 0 && MatrixFactorization.sigmoid(-100) < 1e-30)
        #expect(MatrixFactorization.softplus(100) == 100)
        #expect(MatrixFactorization.softplus(-100).isFinite && MatrixFactorization.softplus(-100) >= 0)
    }

    @Test func batchesDeduplicateKeysAndAvoidPositives() {
        let train = [Interaction(user: 1, item: 10), Interaction(user: 1, item: 11), Interaction(user: 2, item: 10)]
        let sampler = NegativeSampler(items: [10, 11, 12, 13], train: train)
        var rng = SplitMix64(seed: 1)
        let batch = sampler.batch(train[...], negatives: 3, using: &rng)
        #expect(batch.userKeys == [1, 2])
        #expect(Set(batch.itemKeys).count == batch.itemKeys.count)
        #expect(batch.negatives.count == 9)
        for e in 0..<batch.count {
            let user = batch.userKeys[Int(batch.users[e])]
            for j in 0..<3 {
                let negative = batch.itemKeys[Int(batch.negatives[e * 3 + j])]
                #expect(!(user == 1 && (negative == 10 || negative == 11)))
            }
        }
    }

    /// Trains through `LocalParameters` (no sockets) and checks the model beats popularity clearly.
    @Test func localTrainingBeatsPopularity() async throws {
        let spec = SyntheticSpec(users: 400, items: 200, interactionsPerUser: 25, seed: 5)
        let loaded = try SyntheticGenerator(spec: spec).generate()
        let split = InteractionSplit.split(loaded.interactions, seed: 9)
        let dim = 16
        let tables = [
            TableSpec(name: "user", dim: dim, optimizer: .adagrad(learningRate: 0.1), initializer: .normal(std: 0.1), seed: 1),
            TableSpec(name: "item", dim: dim, optimizer: .adagrad(learningRate: 0.1), initializer: .normal(std: 0.1), seed: 2),
        ]
        let parameters = try LocalParameters(specs: tables)
        var trainer = MFTrainer(model: ModelSettings(), dim: dim, batchSize: 256, seed: 4, train: split.train, items: loaded.items)
        var firstLoss = 0.0, lastLoss = 0.0
        for epoch in 1...15 {
            trainer.beginEpoch(epoch)
            var stats = StepStats()
            for step in 0..<trainer.stepsPerEpoch {
                guard let batch = trainer.batch(step: step) else { break }
                stats.add(try await trainer.train(batch, on: parameters))
            }
            #expect(stats.examples == split.train.count)
            if epoch == 1 { firstLoss = stats.lossSum / Double(stats.examples) }
            lastLoss = stats.lossSum / Double(stats.examples)
        }
        #expect(lastLoss < firstLoss * 0.8)

        let set = EvaluationSet(items: loaded.items, train: split.train, heldOut: split.test, extraMask: split.valid)
        let users = try await parameters.pull(table: "user", keys: set.users, dim: dim)
        let items = try await parameters.pull(table: "item", keys: set.items, dim: dim)
        let evaluator = try FullRankingEvaluator(k: 10)
        let model = evaluator.evaluate(set, userVectors: users, itemVectors: items, dim: dim)
        let popularity = Popularity(set).evaluate(set, with: evaluator)
        let modelNDCG = try #require(model.metrics["ndcg@10"])
        let popularNDCG = try #require(popularity.metrics["ndcg@10"])
        #expect(modelNDCG > popularNDCG * 1.3, "model \(modelNDCG) vs popularity \(popularNDCG)")
    }
}
