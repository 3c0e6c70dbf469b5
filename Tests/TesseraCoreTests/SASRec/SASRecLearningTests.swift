import Foundation
import Testing
import TesseraCore

/// SASRec trained without a server (`LocalParameters`, Adam, through `ShardedStep`) on
/// users who walk a cycle of items with noise: the next item is predictable from the last
/// one, which neither popularity nor chance can exploit.
@Suite("SASRec: learns sequential structure")
struct SASRecLearningTests {
    typealias S = SASRecTestSupport

    @Test(arguments: [SASRec.Loss.binaryCrossEntropy, .sampledSoftmax(negatives: 64)])
    func hitRateRisesFarAbovePopularity(loss: SASRec.Loss) async throws {
        let interactions = S.cycles(users: 400, items: 300, lengths: 8...20, noise: 0.15, seed: 11)
        let data = SequenceData(interactions: interactions)
        let model = SASRec(dim: 16, maxLength: 12, blocks: 1, heads: 1, dropout: 0.1, loss: loss,
                           itemTable: "item", denseTable: "dense", blockSize: 256)
        let parameters = try S.parameters(for: model, learningRate: 0.01)
        let evaluator = try SampledRankingEvaluator(seed: 3)
        let test = SASRecEvaluationSet(data: data, target: .test, evaluator: evaluator)
        #expect(test.users.count == 400)

        // Popularity (training counts) through the same evaluator: one-dimensional vectors.
        var counts: [UInt64: Float] = [:]
        for user in data.users.indices { for item in data.trainSequence(ofUser: user) { counts[item, default: 0] += 1 } }
        let keys = test.candidateKeys
        let popularity = evaluator.evaluate(userVectors: [Float](repeating: 1, count: test.users.count), candidates: test.candidates,
                                            itemKeys: keys, itemRows: keys.map { counts[$0] ?? 0 }, dim: 1)

        let before = try await S.evaluate(model, set: test, evaluator: evaluator, on: parameters)
        var losses: [Double] = []
        for epoch in 0..<8 {
            losses.append(try await S.trainEpoch(model, data: data, epoch: epoch, batchSize: 32, seed: 5, on: parameters))
        }
        let after = try await S.evaluate(model, set: test, evaluator: evaluator, on: parameters)
        let hr = try #require(after.metrics["hr@10"]), ndcg = try #require(after.metrics["ndcg@10"])
        let popularHR = try #require(popularity.metrics["hr@10"])
        #expect(losses.last! < losses.first! * 0.7, "loss per position \(losses)")
        #expect(popularHR < 0.25 && before.metrics["hr@10"]! < 0.25, "baselines: popularity \(popularity), untrained \(before)")
        #expect(hr > 0.7 && hr > popularHR + 0.45, "HR@10 \(hr) (popularity \(popularHR), untrained \(before))")
        #expect(ndcg > 0.4, "NDCG@10 \(ndcg)")
    }
}
