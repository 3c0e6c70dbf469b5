import Foundation
import Testing
import TesseraCore

@Suite("Eval: leave-one-out with sampled negatives")
struct SampledRankingEvaluatorTests {
    @Test func rankCountsTiesAgainstTheTarget() {
        #expect(SampledRankingEvaluator.rank([0.5, 0.9, 0.1, 0.5]) == 3)
        #expect(SampledRankingEvaluator.rank([2, 1, 0]) == 1)
        #expect(SampledRankingEvaluator.rank([0, 0, 0]) == 3)
        #expect(SampledRankingEvaluator.rank([.nan, 1]) == 2)
    }

    @Test func hitRateAndNDCGFromRanks() throws {
        let result = try SampledRankingEvaluator(k: 10).result(ranks: [1, 3, 11, 10])
        #expect(result.users == 4)
        #expect(abs(result.metrics["hr@10"]! - 0.75) < 1e-12)
        #expect(result.metrics["hit@10"] == result.metrics["hr@10"])
        let ndcg = (1 + 1 / log2(4.0) + 0 + 1 / log2(11.0)) / 4
        #expect(abs(result.metrics["ndcg@10"]! - ndcg) < 1e-12)
    }

    @Test func scoresUserVectorsAgainstCandidateRows() throws {
        // Items 10…14 (dim 2), passed in another order than the candidates.
        let itemKeys: [UInt64] = [14, 10, 13, 11, 12]
        let itemRows: [Float] = [0, 0, 3, 0, -1, 4, 1, 5, 2, 1]
        let users: [Float] = [1, 0, 0, 2]
        // User 0: 12 (score 2) against 10 (3), 11 (1), 13 (-1) -> rank 2.
        // User 1: 13 (8) against 10 (0), 11 (10), 12 (2), 14 (0) -> rank 2.
        let candidates: [[UInt64]] = [[12, 10, 11, 13], [13, 10, 11, 12, 14]]
        let evaluator = try SampledRankingEvaluator(k: 10)
        #expect(evaluator.ranks(userVectors: users, candidates: candidates, itemKeys: itemKeys, itemRows: itemRows, dim: 2) == [2, 2])
        let result = evaluator.evaluate(userVectors: users, candidates: candidates, itemKeys: itemKeys, itemRows: itemRows, dim: 2)
        #expect(result.metrics["hr@10"] == 1)
        #expect(abs(result.metrics["ndcg@10"]! - 1 / log2(3.0)) < 1e-12)
        let top1 = try SampledRankingEvaluator(k: 1).evaluate(userVectors: users, candidates: candidates, itemKeys: itemKeys,
                                                              itemRows: itemRows, dim: 2)
        #expect(top1.metrics["hr@1"] == 0 && top1.metrics["ndcg@1"] == 0)
        #expect(SampledRankingEvaluator.candidateKeys(candidates) == [10, 11, 12, 13, 14])
    }

    @Test func candidatesAreSeededDistinctAndNeverInteracted() throws {
        let evaluator = try SampledRankingEvaluator(seed: 7)
        let items = Array(UInt64(0)..<1000)
        let interacted: Set<UInt64> = [3, 5, 17, 400]
        let list = evaluator.candidates(user: 42, target: 3, items: items, interacted: interacted)
        #expect(list.count == 101 && list[0] == 3)
        #expect(Set(list).count == 101)
        #expect(list.dropFirst().allSatisfy { !interacted.contains($0) })
        #expect(evaluator.candidates(user: 42, target: 3, items: items, interacted: interacted) == list)
        #expect(evaluator.candidates(user: 43, target: 3, items: items, interacted: interacted) != list)
        #expect(try SampledRankingEvaluator(seed: 8).candidates(user: 42, target: 3, items: items, interacted: interacted) != list)

        // Fewer items left than negatives: every remaining item, once.
        let small = evaluator.candidates(user: 1, target: 0, items: Array(0..<10), interacted: [0, 1, 2])
        #expect(small[0] == 0 && small.count == 8 && Set(small.dropFirst()) == Set(3..<10))
    }

    @Test func negativesAreUniform() throws {
        let evaluator = try SampledRankingEvaluator(negatives: 20)
        let items = Array(UInt64(0)..<50)
        var counts = [Int](repeating: 0, count: 50)
        for user in UInt64(0)..<2000 {
            for item in evaluator.candidates(user: user, target: 0, items: items, interacted: [0, 1]).dropFirst() {
                counts[Int(item)] += 1
            }
        }
        #expect(counts[0] == 0 && counts[1] == 0)
        let expected = 2000.0 * 20 / 48
        for item in 2..<50 { #expect(abs(Double(counts[item]) / expected - 1) < 0.1, "item \(item): \(counts[item]) vs \(expected)") }
    }

    @Test func userSelectionIsARandomSubsetIndependentOfOrder() throws {
        let evaluator = try SampledRankingEvaluator(maxUsers: 20, seed: 3)
        let users = (0..<50).map { UInt64($0 * 7 + 1) }
        let selected = evaluator.selectUsers(users)
        #expect(selected.count == 20)
        #expect(selected == users.filter(Set(selected).contains), "input order is kept")
        var rng = SplitMix64(seed: 1)
        #expect(Set(evaluator.selectUsers(users.shuffled(using: &rng))) == Set(selected))
        #expect(try SampledRankingEvaluator(maxUsers: 20, seed: 4).selectUsers(users) != selected)
        #expect(evaluator.selectUsers(Array(users.prefix(20))) == Array(users.prefix(20)))
    }

    @Test func evaluationSetFollowsLeaveOneOut() throws {
        let interactions = SASRecTestSupport.cycles(users: 60, items: 200, lengths: 1...9, noise: 0.5, seed: 2)
        let data = SequenceData(interactions: interactions)
        let evaluator = try SampledRankingEvaluator(negatives: 30, maxUsers: 25, seed: 5)
        let set = SASRecEvaluationSet(data: data, target: .test, evaluator: evaluator)
        #expect(set.users.count == 25)
        for (u, user) in set.users.enumerated() {
            let row = try #require(data.users.firstIndex(of: user))
            #expect(set.histories[u] == data.history(for: .test, ofUser: row))
            #expect(set.candidates[u][0] == data.target(.test, ofUser: row))
            #expect(set.candidates[u].count == 31)
            #expect(Set(set.candidates[u].dropFirst()).isDisjoint(with: data.interactedItems(ofUser: row)))
        }
        let validation = SASRecEvaluationSet(data: data, target: .validation, evaluator: evaluator)
        #expect(validation.candidates.map { $0[0] } == validation.users.map { data.target(.validation, ofUser: data.users.firstIndex(of: $0)!)! })

        // Shares of the users partition the same selection, with the same candidates.
        let half = data.users.count / 2
        let first = SASRecEvaluationSet(data: data, target: .test, evaluator: evaluator, userRows: Array(0..<half))
        let second = SASRecEvaluationSet(data: data, target: .test, evaluator: evaluator, userRows: Array(half..<data.users.count))
        #expect(first.users + second.users == set.users)
        #expect(first.candidates + second.candidates == set.candidates)
    }
}
