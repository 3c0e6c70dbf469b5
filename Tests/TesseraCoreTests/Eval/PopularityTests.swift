import Foundation
import Testing
import TesseraCore

/// Items 10…50 (indices 0…4). Train: u1 {10, 20, 30}, u2 {20, 30}, u3 {30, 40}
/// → counts 1, 2, 3, 1, 0; ranking 30, 20, 10, 40, 50 (10 and 40 tie → lower index).
/// Held out: u1 {40}, u2 {10, 50}, u3 {20}.
@Suite struct PopularityTests {
    let items: [UInt64] = [10, 20, 30, 40, 50]
    let train = [(1, 10), (1, 20), (1, 30), (2, 20), (2, 30), (3, 30), (3, 40)]
        .map { Interaction(user: UInt64($0.0), item: UInt64($0.1)) }
    let heldOut = [(1, 40), (2, 10), (2, 50), (3, 20)].map { Interaction(user: UInt64($0.0), item: UInt64($0.1)) }

    @Test func countsAndRanking() {
        let popularity = Popularity(items: items, train: train + [Interaction(user: 9, item: 77)])
        #expect(popularity.counts == [1, 2, 3, 1, 0])
        #expect(popularity.ranking == [2, 1, 0, 3, 4])
        #expect(popularity.top(k: 2) == [30, 20])
        #expect(popularity.top(k: 2, excluding: [30]) == [20, 10])
        #expect(popularity.top(k: 10) == [30, 20, 10, 40, 50])
        #expect(popularity.top(k: 0).isEmpty)
    }

    @Test func baselineMetricsByHand() throws {
        let s = EvaluationSet(items: items, train: train, heldOut: heldOut)
        var evaluator = try FullRankingEvaluator(k: 2)
        evaluator.beyondAccuracy = true
        let result = Popularity(s).evaluate(s, with: evaluator, keepLists: true)
        // u1 masks {0, 1, 2} → [3 (1), 4 (0)]; relevant {3}: rank 1 → recall 1, NDCG 1, MRR 1.
        // u2 masks {1, 2} → [0 (1), 3 (1)]; relevant {0, 4}: rank 1 → recall 1/2,
        //    NDCG 1 / (1 + 1/log2 3) = 0.6131472, MRR 1.
        // u3 masks {2, 3} → [1 (2), 0 (1)]; relevant {1}: rank 1 → recall 1, NDCG 1, MRR 1.
        #expect(result.lists! == [
            [ScoredItem(index: 3, score: 1), ScoredItem(index: 4, score: 0)],
            [ScoredItem(index: 0, score: 1), ScoredItem(index: 3, score: 1)],
            [ScoredItem(index: 1, score: 2), ScoredItem(index: 0, score: 1)],
        ])
        #expect(result.users == 3)
        #expect(EvalSupport.close(result.metrics["recall@2"]!, 2.5 / 3))
        #expect(EvalSupport.close(result.metrics["ndcg@2"]!, (2 + 0.6131472) / 3, 1e-6))
        #expect(EvalSupport.close(result.metrics["mrr@2"]!, 1))
        #expect(EvalSupport.close(result.metrics["hit@2"]!, 1))
        #expect(EvalSupport.close(result.metrics["precision@2"]!, 0.5))
        // Coverage {3, 4, 0, 1} = 4/5. Novelty with 3 train users, p = max(c, 1)/3:
        // u1 (1, 0→1): 1.5849625; u2 (1, 1): 1.5849625; u3 (2, 1): (0.5849625 + 1.5849625)/2 = 1.0849625.
        // Mean (1.5849625 · 2 + 1.0849625) / 3 = 1.4182958. No embeddings → no diversity.
        #expect(EvalSupport.close(result.metrics["coverage@2"]!, 0.8))
        #expect(EvalSupport.close(result.metrics["novelty@2"]!, 1.4182958, 1e-6))
        #expect(result.metrics["diversity@2"] == nil)
    }

    @Test func baselineIsJudgedLikeAModel() throws {
        // The same shared scores as a one-dimensional dot product (user 1, item count).
        let data = EvalSupport.randomSplit(users: 30, items: 20, seed: 21)
        let s = EvaluationSet(items: data.items, train: data.train, heldOut: data.test, extraMask: data.valid)
        let popularity = Popularity(s)
        let evaluator = try FullRankingEvaluator(k: 5, usersPerBlock: 4)
        let baseline = popularity.evaluate(s, with: evaluator, keepLists: true)
        let asModel = evaluator.evaluate(
            s, userVectors: [Float](repeating: 1, count: s.users.count),
            itemVectors: popularity.counts.map(Float.init), dim: 1, keepLists: true)
        #expect(baseline.lists! == asModel.lists!)
        #expect(baseline.metrics == asModel.metrics)
    }
}
