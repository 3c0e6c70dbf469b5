import Foundation

/// Click-prediction metrics: AUC and log loss over scored examples.
extension RankingMetrics {
    /// ROC AUC: the probability that a random positive scores above a random
    /// negative, ties counting 1/2 (the Mann–Whitney U statistic).
    ///
    /// Computed with mid-ranks in O(n log n): sort by score, give each group of tied
    /// scores the mean of the ranks it spans, then
    /// AUC = (Σ ranks of positives − P(P+1)/2) / (P·N), with P positives, N negatives.
    /// Returns nil when there are no positives or no negatives (AUC is undefined).
    /// Preconditions: `scores.count == labels.count`; no score is NaN.
    public static func auc(scores: [Float], labels: [Bool]) -> Double? {
        precondition(scores.count == labels.count, "\(scores.count) scores but \(labels.count) labels")
        precondition(!scores.contains(where: \.isNaN), "AUC needs scores without NaN")
        let positives = labels.reduce(0) { $0 + ($1 ? 1 : 0) }
        let negatives = labels.count - positives
        guard positives > 0, negatives > 0 else { return nil }

        let order = scores.indices.sorted { scores[$0] < scores[$1] }
        var positiveRankSum = 0.0
        var start = 0
        while start < order.count {
            var end = start + 1
            while end < order.count && scores[order[end]] == scores[order[start]] { end += 1 }
            // Ranks start+1 ... end (1-based) are tied: each gets their mean.
            let midRank = Double(start + 1 + end) / 2
            for position in start..<end where labels[order[position]] {
                positiveRankSum += midRank
            }
            start = end
        }
        let p = Double(positives)
        return (positiveRankSum - p * (p + 1) / 2) / (p * Double(negatives))
    }

    /// Mean binary cross-entropy of probabilities, natural log:
    /// −(1/n) Σ [y log p + (1−y) log(1−p)], with p clamped to [ε, 1−ε] so a
    /// confident mistake costs −log ε instead of infinity.
    /// Preconditions: equal, nonzero lengths; probabilities in [0, 1].
    public static func logLoss(probabilities: [Float], labels: [Bool], epsilon: Double = 1e-7) -> Double {
        precondition(probabilities.count == labels.count, "\(probabilities.count) probabilities but \(labels.count) labels")
        precondition(!probabilities.isEmpty, "log loss of no examples")
        var total = 0.0
        for (p, y) in zip(probabilities, labels) {
            let q = min(max(Double(p), epsilon), 1 - epsilon)
            total -= y ? log(q) : log(1 - q)
        }
        return total / Double(probabilities.count)
    }

    /// Mean binary cross-entropy of logits x (p = sigmoid(x)), computed stably as
    /// softplus(−x) for positives and softplus(x) for negatives, where
    /// softplus(z) = max(z, 0) + log(1 + e^(−|z|)). No clamping is needed.
    /// Preconditions: equal, nonzero lengths.
    public static func logLoss(logits: [Float], labels: [Bool]) -> Double {
        precondition(logits.count == labels.count, "\(logits.count) logits but \(labels.count) labels")
        precondition(!logits.isEmpty, "log loss of no examples")
        var total = 0.0
        for (x, y) in zip(logits, labels) {
            let z = y ? -Double(x) : Double(x)
            total += max(z, 0) + log1p(exp(-abs(z)))
        }
        return total / Double(logits.count)
    }
}
