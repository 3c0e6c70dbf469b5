import Foundation
import Testing
import TesseraCore

@Suite struct RankingMetricsTests {
    let ranked = [5, 3, 9, 1]
    let relevant: Set<Int> = [3, 1, 7]

    @Test func cutoffThree() {
        // Top 3 = [5, 3, 9]; one hit (3) at rank 2; R = 3.
        let s = RankingMetrics.scores(ranked: ranked, relevant: relevant, k: 3)
        #expect(EvalSupport.close(s.recall, 1.0 / 3))        // 1 / 3
        #expect(EvalSupport.close(s.precision, 1.0 / 3))     // 1 / K = 1 / 3
        #expect(s.hit == 1)
        #expect(EvalSupport.close(s.mrr, 0.5))               // first hit at rank 2
        // DCG = 1/log2(3); IDCG = 1 + 1/log2(3) + 1/log2(4) over min(R, K) = 3 ranks
        // = 0.6309298 / 2.1309298 = 0.2960819
        let expected = (1 / log2(3.0)) / (1 + 1 / log2(3.0) + 1 / log2(4.0))
        #expect(EvalSupport.close(s.ndcg, expected))
        #expect(EvalSupport.close(s.ndcg, 0.2960819, 1e-6))
    }

    @Test func cutoffFour() {
        // Hits: 3 at rank 2, 1 at rank 4.
        let s = RankingMetrics.scores(ranked: ranked, relevant: relevant, k: 4)
        #expect(EvalSupport.close(s.recall, 2.0 / 3))
        #expect(EvalSupport.close(s.precision, 0.5))         // 2 / 4
        #expect(EvalSupport.close(s.mrr, 0.5))
        // DCG = 1/log2(3) + 1/log2(5) = 0.6309298 + 0.4306766 = 1.0616064
        // IDCG over min(3, 4) = 3 ranks = 2.1309298 → 0.4981890
        #expect(EvalSupport.close(s.ndcg, 0.4981890, 1e-6))
    }

    @Test func cutoffLargerThanList() {
        // K = 10 > 4 items: the list counts as padded with misses.
        let s = RankingMetrics.scores(ranked: ranked, relevant: relevant, k: 10)
        #expect(EvalSupport.close(s.recall, 2.0 / 3))
        #expect(EvalSupport.close(s.precision, 0.2))         // 2 / 10, not 2 / 4
        #expect(EvalSupport.close(s.ndcg, 0.4981890, 1e-6))  // IDCG still over min(3, 10) = 3
        #expect(EvalSupport.close(s.mrr, 0.5))
    }

    @Test func noHits() {
        let s = RankingMetrics.scores(ranked: [2, 4, 6], relevant: [1], k: 3)
        #expect(s == .zero)
        #expect(RankingMetrics.recall(ranked: [2, 4, 6], relevant: [1], k: 3) == 0)
    }

    @Test func hitBeyondCutoffDoesNotCount() {
        // 1 is relevant but at rank 4 > K = 3.
        let s = RankingMetrics.scores(ranked: [2, 4, 6, 1], relevant: [1], k: 3)
        #expect(s == .zero)
    }

    @Test func moreRelevantThanK() {
        // R = 5 > K = 2; hits at ranks 1 and 2.
        // DCG = 1 + 1/log2(3); IDCG over min(5, 2) = 2 ranks = the same → NDCG = 1.
        let s = RankingMetrics.scores(ranked: [1, 2, 3], relevant: [1, 2, 3, 4, 5], k: 2)
        #expect(EvalSupport.close(s.ndcg, 1))
        #expect(EvalSupport.close(s.recall, 0.4))            // 2 / 5
        #expect(EvalSupport.close(s.precision, 1))           // 2 / 2
        #expect(EvalSupport.close(s.mrr, 1))
    }

    @Test func singleRelevantItemNDCG() {
        // One relevant item at rank 3: NDCG = 1/log2(4) = 0.5; MRR = 1/3.
        let s = RankingMetrics.scores(ranked: ["a", "b", "c"], relevant: ["c"], k: 10)
        #expect(EvalSupport.close(s.ndcg, 0.5))
        #expect(EvalSupport.close(s.mrr, 1.0 / 3))
        #expect(s.hit == 1)
    }

    @Test func emptyRelevantScoresZero() {
        #expect(RankingMetrics.scores(ranked: [1, 2], relevant: [], k: 2) == .zero)
    }

    @Test func singleMetricFunctionsAgree() {
        #expect(EvalSupport.close(RankingMetrics.recall(ranked: ranked, relevant: relevant, k: 3), 1.0 / 3))
        #expect(EvalSupport.close(RankingMetrics.precision(ranked: ranked, relevant: relevant, k: 4), 0.5))
        #expect(RankingMetrics.hit(ranked: ranked, relevant: relevant, k: 1) == 0)
        #expect(RankingMetrics.hit(ranked: ranked, relevant: relevant, k: 2) == 1)
        #expect(EvalSupport.close(RankingMetrics.ndcg(ranked: ranked, relevant: relevant, k: 3), 0.2960819, 1e-6))
        #expect(EvalSupport.close(RankingMetrics.mrr(ranked: ranked, relevant: relevant, k: 3), 0.5))
    }

    @Test func hitRanksForm() {
        // Unsorted ranks and a rank beyond K: same as hits at 2 and 4 with K = 4.
        let s = RankingMetrics.scores(hitRanks: [4, 2, 9], relevantCount: 3, k: 4)
        #expect(EvalSupport.close(s.ndcg, 0.4981890, 1e-6))
        #expect(EvalSupport.close(s.mrr, 0.5))
    }

    @Test func idcg() {
        #expect(RankingMetrics.idcg(relevantCount: 0, k: 10) == 0)
        #expect(EvalSupport.close(RankingMetrics.idcg(relevantCount: 1, k: 10), 1))
        // min(3, 2) = 2 ranks: 1 + 1/log2(3)
        #expect(EvalSupport.close(RankingMetrics.idcg(relevantCount: 3, k: 2), 1 + 1 / log2(3.0)))
    }

    @Test func averageAndKeys() {
        var average = RankingMetrics.Average()
        average.add(RankingMetrics.ListScores(recall: 1, precision: 0.5, hit: 1, ndcg: 1, mrr: 1))
        average.add(.zero)
        let metrics = average.metrics(k: 7)
        #expect(average.users == 2)
        #expect(metrics == ["recall@7": 0.5, "precision@7": 0.25, "hit@7": 0.5, "ndcg@7": 0.5, "mrr@7": 0.5])
    }
}
