import Foundation
import Testing
import TesseraCore

@Suite struct ClickMetricsTests {
    @Test func aucWithTies() {
        // Positives 0.4 and 0.8; negatives 0.1, 0.35, 0.4. Pairs (P·N = 6):
        // 0.4 beats 0.1 and 0.35, ties 0.4 → 2.5; 0.8 beats all three → 3. AUC = 5.5 / 6.
        // (Mid-ranks: 0.1→1, 0.35→2, 0.4,0.4→3.5, 0.8→5; positives 3.5 + 5 − 3 = 5.5.)
        let auc = RankingMetrics.auc(scores: [0.1, 0.4, 0.35, 0.8, 0.4], labels: [false, true, false, true, false])
        #expect(EvalSupport.close(auc!, 5.5 / 6))
    }

    @Test func aucExtremes() {
        #expect(RankingMetrics.auc(scores: [1, 2, 3, 4], labels: [false, false, true, true]) == 1)
        #expect(RankingMetrics.auc(scores: [4, 3, 2, 1], labels: [false, false, true, true]) == 0)
        #expect(RankingMetrics.auc(scores: [7, 7, 7, 7], labels: [true, false, true, false]) == 0.5)
        #expect(RankingMetrics.auc(scores: [1, 2], labels: [true, true]) == nil)
    }

    @Test func aucMatchesPairCount() {
        var rng = SplitMix64(seed: 5)
        let n = 300
        let scores = (0..<n).map { _ in Float(rng.nextInt(below: 20)) }
        let labels = (0..<n).map { _ in rng.nextInt(below: 3) == 0 }
        var wins = 0.0, pairs = 0.0
        for i in 0..<n where labels[i] {
            for j in 0..<n where !labels[j] {
                pairs += 1
                wins += scores[i] > scores[j] ? 1 : scores[i] == scores[j] ? 0.5 : 0
            }
        }
        #expect(EvalSupport.close(RankingMetrics.auc(scores: scores, labels: labels)!, wins / pairs, 1e-12))
    }

    @Test func logLoss() {
        // −(ln 0.9 + ln(1 − 0.2)) / 2 = (0.1053605 + 0.2231436) / 2 = 0.1642520
        let fromProbabilities = RankingMetrics.logLoss(probabilities: [0.9, 0.2], labels: [true, false])
        #expect(EvalSupport.close(fromProbabilities, 0.1642520, 1e-6))
        // logit(0.9) = ln 9, logit(0.2) = ln 0.25: the same loss.
        let fromLogits = RankingMetrics.logLoss(logits: [Float(log(9.0)), Float(log(0.25))], labels: [true, false])
        #expect(EvalSupport.close(fromLogits, 0.1642520, 1e-6))
    }

    @Test func logLossClampsCertainMistakes() {
        // p = 0 for a positive costs −ln(1e-7) = 16.1181, not infinity.
        let loss = RankingMetrics.logLoss(probabilities: [0], labels: [true])
        #expect(EvalSupport.close(loss, -log(1e-7), 1e-9))
        // A huge logit stays finite and exact: softplus(1000) = 1000.
        #expect(EvalSupport.close(RankingMetrics.logLoss(logits: [1000], labels: [false]), 1000))
    }
}
