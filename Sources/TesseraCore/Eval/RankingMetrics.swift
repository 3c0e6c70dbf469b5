import Foundation

/// Top-K ranking metrics for one ranked list against a set of relevant items, with
/// RecBole's definitions (binary relevance). Every evaluator in Tessera (full
/// ranking, popularity, recommendations files) goes through `scores(hitRanks:…)`, so
/// they cannot disagree about a formula.
///
/// Notation: the list is ranked best first, ranks start at 1; `K` is the cutoff;
/// `R` is the number of relevant items; `hits` is the number of relevant items at
/// ranks 1…K. A list shorter than K is scored as if padded with misses.
/// When `R == 0` every metric is 0 (evaluators skip such users instead).
public enum RankingMetrics {
    /// The five per-list metrics at one cutoff.
    public struct ListScores: Sendable, Hashable {
        /// hits / R
        public var recall: Double
        /// hits / K (RecBole divides by K even when the list is shorter)
        public var precision: Double
        /// 1 if hits > 0, else 0
        public var hit: Double
        /// DCG / IDCG; see `RankingMetrics.ndcg`.
        public var ndcg: Double
        /// 1 / (rank of the first hit) if it is within K, else 0
        public var mrr: Double

        public static let zero = ListScores(recall: 0, precision: 0, hit: 0, ndcg: 0, mrr: 0)

        public init(recall: Double, precision: Double, hit: Double, ndcg: Double, mrr: Double) {
            self.recall = recall
            self.precision = precision
            self.hit = hit
            self.ndcg = ndcg
            self.mrr = mrr
        }
    }

    /// All five metrics from the 1-based ranks at which the list holds a relevant item.
    ///
    /// This is the one place the formulas live. `hitRanks` need not be sorted; ranks
    /// greater than `k` are ignored. Preconditions: `k >= 1`; ranks are distinct and
    /// `>= 1`; `relevantCount` is at least the number of hits (a relevant item that
    /// could not be ranked, such as a masked one, still counts in `relevantCount`).
    public static func scores(hitRanks: some Sequence<Int>, relevantCount: Int, k: Int) -> ListScores {
        precondition(k >= 1, "K must be at least 1, got \(k)")
        guard relevantCount > 0 else { return .zero }
        var hits = 0
        var dcg = 0.0
        var firstHit = Int.max
        for rank in hitRanks where rank <= k {
            precondition(rank >= 1, "ranks start at 1, got \(rank)")
            hits += 1
            dcg += 1 / log2(Double(rank) + 1)
            firstHit = min(firstHit, rank)
        }
        assert(hits <= relevantCount, "\(hits) hits but only \(relevantCount) relevant items")
        guard hits > 0 else { return .zero }
        return ListScores(
            recall: Double(hits) / Double(relevantCount),
            precision: Double(hits) / Double(k),
            hit: 1,
            ndcg: dcg / idcg(relevantCount: relevantCount, k: k),
            mrr: 1 / Double(firstHit)
        )
    }

    /// All five metrics for `ranked` (best first) against `relevant`, at cutoff `k`.
    /// Precondition: `ranked` holds no item twice; `k >= 1`.
    public static func scores<Ranked: Collection>(
        ranked: Ranked, relevant: Set<Ranked.Element>, k: Int
    ) -> ListScores where Ranked.Element: Hashable {
        precondition(k >= 1, "K must be at least 1, got \(k)")
        var hitRanks: [Int] = []
        for (offset, item) in ranked.prefix(k).enumerated() where relevant.contains(item) {
            hitRanks.append(offset + 1)
        }
        return scores(hitRanks: hitRanks, relevantCount: relevant.count, k: k)
    }

    /// Recall@K = hits / R.
    public static func recall<Ranked: Collection>(ranked: Ranked, relevant: Set<Ranked.Element>, k: Int) -> Double
    where Ranked.Element: Hashable {
        scores(ranked: ranked, relevant: relevant, k: k).recall
    }

    /// Precision@K = hits / K.
    public static func precision<Ranked: Collection>(ranked: Ranked, relevant: Set<Ranked.Element>, k: Int) -> Double
    where Ranked.Element: Hashable {
        scores(ranked: ranked, relevant: relevant, k: k).precision
    }

    /// Hit@K (also called HR@K) = 1 if hits > 0, else 0.
    public static func hit<Ranked: Collection>(ranked: Ranked, relevant: Set<Ranked.Element>, k: Int) -> Double
    where Ranked.Element: Hashable {
        scores(ranked: ranked, relevant: relevant, k: k).hit
    }

    /// NDCG@K with binary relevance = DCG / IDCG, where
    /// DCG = Σ over hit ranks r ≤ K of 1 / log2(r + 1) and
    /// IDCG = Σ_{r=1}^{min(R, K)} 1 / log2(r + 1) (RecBole's definition).
    /// With one relevant item this is 1 / log2(rank + 1).
    public static func ndcg<Ranked: Collection>(ranked: Ranked, relevant: Set<Ranked.Element>, k: Int) -> Double
    where Ranked.Element: Hashable {
        scores(ranked: ranked, relevant: relevant, k: k).ndcg
    }

    /// MRR@K = 1 / (rank of the first hit) if that rank is ≤ K, else 0.
    public static func mrr<Ranked: Collection>(ranked: Ranked, relevant: Set<Ranked.Element>, k: Int) -> Double
    where Ranked.Element: Hashable {
        scores(ranked: ranked, relevant: relevant, k: k).mrr
    }

    /// The ideal DCG: Σ_{r=1}^{min(relevantCount, k)} 1 / log2(r + 1).
    public static func idcg(relevantCount: Int, k: Int) -> Double {
        var total = 0.0
        let n = min(relevantCount, k)
        if n >= 1 {
            for rank in 1...n { total += 1 / log2(Double(rank) + 1) }
        }
        return total
    }
}

extension RankingMetrics {
    /// Running means of `ListScores` over users, in the order they are added.
    /// Value type; not shared between threads.
    public struct Average: Sendable, Hashable {
        public private(set) var users = 0
        private var sums = ListScores.zero

        public init() {}

        /// Adds one user's scores.
        public mutating func add(_ scores: ListScores) {
            users += 1
            sums.recall += scores.recall
            sums.precision += scores.precision
            sums.hit += scores.hit
            sums.ndcg += scores.ndcg
            sums.mrr += scores.mrr
        }

        /// The means (all 0 when no user was added).
        public var mean: ListScores {
            guard users > 0 else { return .zero }
            let n = Double(users)
            return ListScores(
                recall: sums.recall / n, precision: sums.precision / n, hit: sums.hit / n,
                ndcg: sums.ndcg / n, mrr: sums.mrr / n
            )
        }

        /// The means keyed `"recall@K"`, `"ndcg@K"`, `"hit@K"`, `"mrr@K"`, `"precision@K"`.
        public func metrics(k: Int) -> [String: Double] {
            let m = mean
            return [
                EvaluationResult.key(.recall, k: k): m.recall,
                EvaluationResult.key(.precision, k: k): m.precision,
                EvaluationResult.key(.hit, k: k): m.hit,
                EvaluationResult.key(.ndcg, k: k): m.ndcg,
                EvaluationResult.key(.mrr, k: k): m.mrr,
            ]
        }
    }
}
