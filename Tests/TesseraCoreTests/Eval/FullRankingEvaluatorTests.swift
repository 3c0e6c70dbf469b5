import Foundation
import Testing
import TesseraCore

/// Three users × five items, dim 2, scored by hand.
///
/// Items (keys 10…50 = indices 0…4): v0 (1,0), v1 (0,1), v2 (1,1), v3 (2,0), v4 (0,0.5).
/// Users 1, 2, 3: u1 (1,0), u2 (0,1), u3 (1,1). Scores (u·v):
///   u1: 1, 0, 1, 2, 0      u2: 0, 1, 1, 0, 0.5      u3: 1, 1, 2, 2, 0.5
/// Train: u1–40 (its best item), u2–20, u3–30. Held out: u1–30; u2–50, u2–10; u3 none.
@Suite struct FullRankingEvaluatorTests {
    let items: [UInt64] = [10, 20, 30, 40, 50]
    let itemVectors: [Float] = [1, 0, 0, 1, 1, 1, 2, 0, 0, 0.5]
    let userVectors: [Float] = [1, 0, 0, 1, 1, 1]
    let train = [Interaction(user: 1, item: 40), Interaction(user: 2, item: 20), Interaction(user: 3, item: 30)]
    let heldOut = [Interaction(user: 1, item: 30), Interaction(user: 2, item: 50), Interaction(user: 2, item: 10)]

    func set(train: [Interaction]? = nil, extraMask: [Interaction] = []) -> EvaluationSet {
        EvaluationSet(items: items, train: train ?? self.train, heldOut: heldOut, extraMask: extraMask, users: [1, 2, 3])
    }

    @Test func handComputedRankingsAndMetrics() throws {
        let evaluator = try FullRankingEvaluator(k: 2)
        let result = evaluator.evaluate(set(), userVectors: userVectors, itemVectors: itemVectors, dim: 2, keepLists: true)
        // u1, mask {3}: 0:1, 1:0, 2:1, 4:0 → [0, 2] (tie at 1 → lower index); relevant {2}
        //   hit at rank 2: recall 1, precision 1/2, NDCG (1/log2 3)/1 = 0.6309298, MRR 1/2.
        // u2, mask {1}: 0:0, 2:1, 3:0, 4:0.5 → [2, 4]; relevant {0, 4}
        //   hit at rank 2: recall 1/2, precision 1/2, NDCG 0.6309298 / (1 + 0.6309298) = 0.3868528, MRR 1/2.
        // u3 has no held-out items: skipped.
        #expect(result.users == 2)
        #expect(result.k == 2)
        #expect(result.lists?[0] == [ScoredItem(index: 0, score: 1), ScoredItem(index: 2, score: 1)])
        #expect(result.lists?[1] == [ScoredItem(index: 2, score: 1), ScoredItem(index: 4, score: 0.5)])
        #expect(result.lists?[2] == [])
        let expected: [String: Double] = [
            "recall@2": 0.75,                            // (1 + 1/2) / 2
            "precision@2": 0.5,
            "hit@2": 1,
            "ndcg@2": (0.6309298 + 0.3868528) / 2,       // 0.5088913
            "mrr@2": 0.5,
        ]
        #expect(EvalSupport.close(result.metrics, expected, 1e-6))
        #expect(result[.ndcg] == result.metrics["ndcg@2"])
    }

    @Test func maskedTrainItemIsNeverRanked() throws {
        let evaluator = try FullRankingEvaluator(k: 4)
        let lists = evaluator.topK(set(), userVectors: userVectors, itemVectors: itemVectors, dim: 2)
        // u1's best item (index 3, score 2) is a train item; u3's best (index 2) too.
        #expect(!lists[0].contains { $0.index == 3 })
        #expect(!lists[2].contains { $0.index == 2 })
        #expect(lists[2].map(\.index) == [3, 0, 1, 4])   // u3: 2, 1, 1, 0.5
        // Without the mask u1's list starts with it, and u1 loses its hit at K = 2.
        let unmasked = try FullRankingEvaluator(k: 2)
            .evaluate(set(train: []), userVectors: userVectors, itemVectors: itemVectors, dim: 2, keepLists: true)
        #expect(unmasked.lists?[0].map(\.index) == [3, 0])
    }

    @Test func extraMaskIsApplied() throws {
        // Test protocol: validation items are masked too. Masking u2–30 (index 2):
        // u2 → [4 (0.5), 0 (0)] (0 and 3 tie at 0 → index 0); both relevant → recall 1, NDCG 1.
        let result = try FullRankingEvaluator(k: 2).evaluate(
            set(extraMask: [Interaction(user: 2, item: 30)]),
            userVectors: userVectors, itemVectors: itemVectors, dim: 2, keepLists: true)
        #expect(result.lists?[1].map(\.index) == [4, 0])
        // recall (1 + 1) / 2, NDCG (0.6309298 + 1) / 2
        #expect(EvalSupport.close(result.metrics["recall@2"]!, 1))
        #expect(EvalSupport.close(result.metrics["ndcg@2"]!, (0.6309298 + 1) / 2, 1e-6))
    }

    @Test func defaultUserOrderIsHeldOutUsersAscending() {
        let s = EvaluationSet(items: items, train: train, heldOut: heldOut.reversed())
        #expect(s.users == [1, 2])
        #expect(s.evaluatedUserCount == 2)
        #expect(Array(s.relevant(ofUser: 1)) == [0, 4])
        #expect(Array(s.mask(ofUser: 0)) == [3])
        #expect(s.trainCounts == [0, 1, 1, 1, 0])
        #expect(s.trainUserCount == 3)
    }

    @Test func unknownHeldOutItemCountsAsRelevantButMissed() throws {
        // u1 also holds out item 99, which is not in the universe: R = 2, one hit at rank 2.
        let s = EvaluationSet(items: items, train: train, heldOut: heldOut + [Interaction(user: 1, item: 99)], users: [1, 2, 3])
        #expect(s.unknownHeldOutItems == 1)
        let result = try FullRankingEvaluator(k: 2).evaluate(s, userVectors: userVectors, itemVectors: itemVectors, dim: 2)
        #expect(EvalSupport.close(result.metrics["recall@2"]!, (0.5 + 0.5) / 2))
    }

    @Test func invalidSettingsThrow() {
        #expect(throws: EvaluationError.self) { try FullRankingEvaluator(k: 0) }
        #expect(throws: EvaluationError.self) { try FullRankingEvaluator(k: 10, usersPerBlock: 0) }
        do {
            _ = try FullRankingEvaluator(k: -3)
            Issue.record("K = -3 was accepted")
        } catch {
            #expect(error.code == .invalidArgument)
            #expect(error.message.contains("-3"))
        }
    }

    @Test func blockSizeDoesNotChangeResults() throws {
        let data = EvalSupport.randomSplit(users: 37, items: 53, seed: 11)
        let s = EvaluationSet(items: data.items, train: data.train, heldOut: data.test, extraMask: data.valid)
        var rng = SplitMix64(seed: 3)
        let dim = 4
        let users = EvalSupport.integerVectors(count: s.users.count * dim, rng: &rng)
        let vectors = EvalSupport.integerVectors(count: data.items.count * dim, rng: &rng)
        let one = try FullRankingEvaluator(k: 5, usersPerBlock: 1000)
            .evaluate(s, userVectors: users, itemVectors: vectors, dim: dim, keepLists: true)
        let byUsers = try FullRankingEvaluator(k: 5, usersPerBlock: 2)
            .evaluate(s, userVectors: users, itemVectors: vectors, dim: dim, keepLists: true)
        let byBytes = try FullRankingEvaluator(k: 5, maxScoreBytes: 3 * 53 * 4)
            .evaluate(s, userVectors: users, itemVectors: vectors, dim: dim, keepLists: true)
        #expect(one.users > 10)
        #expect(one.lists! == byUsers.lists!)
        #expect(one.lists! == byBytes.lists!)
        #expect(EvalSupport.close(one.metrics, byUsers.metrics, 1e-12))
        #expect(EvalSupport.close(one.metrics, byBytes.metrics, 1e-12))
    }

    @Test func matchesNaiveReference() throws {
        // Scores computed by plain loops, ranked by sorting, metrics per list.
        let data = EvalSupport.randomSplit(users: 40, items: 31, seed: 12)
        let s = EvaluationSet(items: data.items, train: data.train, heldOut: data.test, extraMask: data.valid)
        var rng = SplitMix64(seed: 4)
        let dim = 3, k = 4
        let users = EvalSupport.integerVectors(count: s.users.count * dim, rng: &rng)
        let vectors = EvalSupport.integerVectors(count: data.items.count * dim, rng: &rng)
        var average = RankingMetrics.Average()
        for (row, user) in s.users.enumerated() {
            let scores = (0..<data.items.count).map { i in
                (0..<dim).reduce(Float(0)) { $0 + users[row * dim + $1] * vectors[i * dim + $1] }
            }
            let seen = Set((data.train + data.valid).filter { $0.user == user }.map { s.index(ofItem: $0.item)! })
            let relevant = Set(data.test.filter { $0.user == user }.map { s.index(ofItem: $0.item)! })
            let ranked = EvalSupport.bruteForceTopK(scores, k: k, excluding: seen).map(\.index)
            average.add(RankingMetrics.scores(ranked: ranked, relevant: relevant, k: k))
        }
        let result = try FullRankingEvaluator(k: k, usersPerBlock: 7)
            .evaluate(s, userVectors: users, itemVectors: vectors, dim: dim)
        #expect(result.users == average.users)
        #expect(EvalSupport.close(result.metrics, average.metrics(k: k), 1e-12))
    }

    @Test func closureScorerMatchesDotProduct() throws {
        let s = set()
        let closure = ClosureScorer { users, itemCount, scores in
            for (offset, row) in users.enumerated() {
                for i in 0..<itemCount {
                    scores[offset * itemCount + i] =
                        userVectors[row * 2] * itemVectors[i * 2] + userVectors[row * 2 + 1] * itemVectors[i * 2 + 1]
                }
            }
        }
        let evaluator = try FullRankingEvaluator(k: 3, usersPerBlock: 2)
        let viaClosure = evaluator.evaluate(s, scorer: closure, keepLists: true)
        let viaBLAS = evaluator.evaluate(s, userVectors: userVectors, itemVectors: itemVectors, dim: 2, keepLists: true)
        #expect(viaClosure.lists! == viaBLAS.lists!)
        #expect(viaClosure.metrics == viaBLAS.metrics)
    }

    @Test func beyondAccuracyOnHandCase() throws {
        // Lists: u1 [0, 2], u2 [2, 4] → distinct {0, 2, 4}: coverage 3/5.
        // Novelty: trainUserCount 3; counts 0, 1, 1, 1, 0 → every p = max(c, 1)/3 = 1/3,
        //   −log2(1/3) = 1.5849625 for every item → 1.5849625.
        // Diversity: u1 cos(v0, v2) = 1/√2 → 1 − 0.7071068 = 0.2928932;
        //   u2 cos(v2, v4) = 0.5 / (√2 · 0.5) = 0.7071068 → 0.2928932. Mean 0.2928932.
        var evaluator = try FullRankingEvaluator(k: 2)
        evaluator.beyondAccuracy = true
        let result = evaluator.evaluate(set(), userVectors: userVectors, itemVectors: itemVectors, dim: 2)
        #expect(EvalSupport.close(result.metrics["coverage@2"]!, 0.6))
        #expect(EvalSupport.close(result.metrics["novelty@2"]!, log2(3.0)))
        #expect(EvalSupport.close(result.metrics["diversity@2"]!, 1 - 1 / 2.0.squareRoot(), 1e-6))
        #expect(result.metrics.count == 8)
    }
}
