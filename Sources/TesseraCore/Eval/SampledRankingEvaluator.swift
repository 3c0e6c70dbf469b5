import CBLAS

/// The leave-one-out protocol with sampled negatives of EVALUATION.md (the SASRec paper's):
/// each evaluated user's held-out item is ranked against `negatives` items drawn uniformly
/// from the items the user never interacted with; HR@K and NDCG@K are averaged over users.
///
/// With one relevant item at 1-based rank `r` among the `1 + negatives` candidates:
/// `HR@K = [r ≤ K]`, `NDCG@K = [r ≤ K] / log2(r + 1)`. `r = 1 + #{negatives scoring ≥ the
/// target}`: ties count against the model, so constant scores give rank `1 + negatives`.
///
/// Everything random is a pure function of `seed` and the user key, so results do not
/// depend on how users are ordered, batched or split between processes:
/// - `selectUsers`: with more than `maxUsers` users, the `maxUsers` whose
///   `Hashing.combine(seed, user)` is smallest (a uniform random subset);
/// - `candidates`: negatives from `SplitMix64(seed: Hashing.combine(seed ^ 0x5A4D, user))`,
///   distinct, rejection-sampled from `items` minus the user's items.
///
/// Typical flow: `selectUsers` → `candidates` per user → pull the rows of `candidateKeys`
/// and encode the users → `evaluate` (or `ranks` per worker, then `result(ranks:)`).
public struct SampledRankingEvaluator: Sendable, Hashable {
    /// The cutoff K.
    public let k: Int
    /// Sampled negatives per user.
    public let negatives: Int
    /// Most users evaluated.
    public let maxUsers: Int
    /// Seeds user selection and negatives.
    public let seed: UInt64

    /// Throws `invalidArgument` unless `k >= 1`, `negatives >= 1` and `maxUsers >= 1`.
    public init(k: Int = 10, negatives: Int = 100, maxUsers: Int = 10_000, seed: UInt64 = 42) throws(EvaluationError) {
        guard k >= 1 else { throw EvaluationError(.invalidArgument, "K must be at least 1, got \(k)") }
        guard negatives >= 1 else { throw EvaluationError(.invalidArgument, "negatives must be at least 1, got \(negatives)") }
        guard maxUsers >= 1 else { throw EvaluationError(.invalidArgument, "maxUsers must be at least 1, got \(maxUsers)") }
        self.k = k
        self.negatives = negatives
        self.maxUsers = maxUsers
        self.seed = seed
    }

    /// The users to evaluate, in their input order: all of them, or the `maxUsers` with the
    /// smallest `Hashing.combine(seed, user)`. Precondition: no key twice.
    public func selectUsers(_ users: [UInt64]) -> [UInt64] {
        guard users.count > maxUsers else { return users }
        let ranked = users.map { Hashing.combine(seed, $0) }.sorted()
        let threshold = ranked[maxUsers - 1]
        return users.filter { Hashing.combine(seed, $0) <= threshold }
    }

    /// `[target] + negatives` distinct items drawn uniformly from `items` minus `interacted`.
    /// Fewer negatives when fewer items are left. Preconditions: `items` unique;
    /// `interacted` ⊆ `items` and contains `target`.
    public func candidates(user: UInt64, target: UInt64, items: [UInt64], interacted: Set<UInt64>) -> [UInt64] {
        var rng = SplitMix64(seed: Hashing.combine(seed ^ 0x5A4D, user))
        var chosen: [UInt64] = [target]
        var drawn = Set<UInt64>()
        let available = max(0, items.count - interacted.count)
        let wanted = min(negatives, available)
        if wanted * 4 < available {
            while drawn.count < wanted {
                let item = items[rng.nextInt(below: items.count)]
                if !interacted.contains(item), drawn.insert(item).inserted { chosen.append(item) }
            }
        } else {
            // Few items left: a seeded partial shuffle of what remains.
            var rest = items.filter { !interacted.contains($0) }
            for i in 0..<min(wanted, rest.count) {
                rest.swapAt(i, i + rng.nextInt(below: rest.count - i))
                chosen.append(rest[i])
            }
        }
        return chosen
    }

    /// Ascending unique keys of every candidate list: the item rows to pull.
    public static func candidateKeys(_ candidates: [[UInt64]]) -> [UInt64] {
        var keys = Set<UInt64>()
        for list in candidates { keys.formUnion(list) }
        return keys.sorted()
    }

    /// Per user, the 1-based rank of `candidates[u][0]` among `candidates[u]` by the score
    /// `userVectors[u] · e_item`.
    ///
    /// - Parameters:
    ///   - userVectors: `candidates.count x dim`, row-major.
    ///   - itemKeys: keys of `itemRows` (row-major, `dim` wide); must cover every candidate.
    public func ranks(userVectors: [Float], candidates: [[UInt64]], itemKeys: [UInt64], itemRows: [Float], dim: Int) -> [Int] {
        precondition(dim >= 1 && userVectors.count == candidates.count * dim, "\(userVectors.count) user floats for \(candidates.count) users of dim \(dim)")
        precondition(itemRows.count == itemKeys.count * dim, "\(itemRows.count) item floats for \(itemKeys.count) keys of dim \(dim)")
        var row: [UInt64: Int] = [:]
        row.reserveCapacity(itemKeys.count)
        for (i, key) in itemKeys.enumerated() { row[key] = i }
        var gathered: [Float] = []
        var scores: [Float] = []
        return candidates.indices.map { u in
            let list = candidates[u]
            precondition(!list.isEmpty, "user \(u) has no candidates")
            gathered.removeAll(keepingCapacity: true)
            for key in list {
                guard let r = row[key] else { preconditionFailure("no item row for candidate \(key)") }
                gathered.append(contentsOf: itemRows[(r * dim)..<((r + 1) * dim)])
            }
            scores = [Float](repeating: 0, count: list.count)
            gathered.withUnsafeBufferPointer { g in
                userVectors.withUnsafeBufferPointer { v in
                    scores.withUnsafeMutableBufferPointer { s in
                        cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(list.count), Int32(dim), 1, g.baseAddress, Int32(dim),
                                    v.baseAddress! + u * dim, 1, 0, s.baseAddress, 1)
                    }
                }
            }
            return Self.rank(scores)
        }
    }

    /// `1 + #{j ≥ 1 : scores[j] ≥ scores[0]}`. A non-finite target score ranks last.
    public static func rank(_ scores: [Float]) -> Int {
        let target = scores[0]
        guard target.isFinite else { return scores.count }
        var rank = 1
        for j in 1..<scores.count where !(scores[j] < target) { rank += 1 }
        return rank
    }

    /// HR@K and NDCG@K averaged over `ranks` (one per user, from any number of `ranks` calls):
    /// metrics `"hr@K"`, `"ndcg@K"` and, for the generic summaries, `"hit@K"` (= `hr@K`).
    public func result(ranks: [Int]) -> EvaluationResult {
        var average = RankingMetrics.Average()
        for r in ranks { average.add(RankingMetrics.scores(hitRanks: [r], relevantCount: 1, k: k)) }
        let mean = average.mean
        return EvaluationResult(users: average.users, k: k, metrics: [
            "hr@\(k)": mean.hit, "ndcg@\(k)": mean.ndcg, EvaluationResult.key(.hit, k: k): mean.hit,
        ])
    }

    /// `result(ranks: ranks(…))`.
    public func evaluate(userVectors: [Float], candidates: [[UInt64]], itemKeys: [UInt64], itemRows: [Float], dim: Int) -> EvaluationResult {
        result(ranks: ranks(userVectors: userVectors, candidates: candidates, itemKeys: itemKeys, itemRows: itemRows, dim: dim))
    }
}
