/// The exploration policy of online serving and its knobs.
///
/// Every field has a default (the policy is greedy); a config states only
/// what differs, and decoding fills every absent key with its default. Check
/// a decoded or hand-built value with `validate()` (`ExplorationRanker.init`
/// does). A request may override `policy` and keep the knobs.
///
/// The prior and posterior used by UCB and Thompson sampling, per candidate
/// with model score s, counters n impressions and c clicks (see
/// `ExplorationRanker`):
///
///     p0 = sigmoid(logit(r̄) + priorSlope·(s − s̄))   (priorOffset nil: centred on the candidates)
///     p0 = sigmoid(priorSlope·s + priorOffset)        (priorOffset set: absolute calibration)
///     α0 = priorStrength·p0, β0 = priorStrength·(1 − p0); unknown item (no score): α0 = β0 = 1
///     posterior Beta(α0 + c, β0 + n − c)
public struct ExplorationSettings: Sendable, Codable, Hashable {
    /// The policy that ranks candidates.
    public var policy: ExplorationPolicy
    /// ε-greedy: probability that a slot is explored, in [0, 1].
    public var epsilon: Double
    /// UCB: weight c of the bonus `c·sqrt(μ(1−μ)·ln(1+N)/(n+α0+β0))`, ≥ 0.
    /// 1 matches UCB1-Tuned (Auer et al. 2002), whose bonus is
    /// `sqrt(ln t / n · min(1/4, variance))`; for a Bernoulli arm the variance is μ(1−μ).
    public var ucbC: Double
    /// UCB and Thompson: how many impressions the model's prior is worth (α0 + β0), > 0.
    /// Counters are pooled over users (or a group), the model is personal:
    /// a larger value keeps the model's per-user order longer; a smaller one
    /// lets click counts correct the model (and explore) sooner. Unscored
    /// items always get the flat prior, whatever this is.
    public var priorStrength: Double
    /// Logits of click rate per unit of model score, ≥ 0. 1 suits logistic
    /// MF scores and BPR score differences (BPR models P(i ≻ j) = sigmoid(s_i − s_j)).
    public var priorSlope: Double
    /// When set, the prior is `sigmoid(priorSlope·s + priorOffset)` (scores
    /// already calibrated to click logits). When nil (the default), the prior
    /// is centred on the candidates themselves: an item scoring the
    /// impression-weighted mean score s̄ gets the candidates' pooled click
    /// rate r̄ = (Σc + 1)/(Σn + 2) (item counters of scored candidates).
    public var priorOffset: Double?
    /// UCB and Thompson: a candidate's per-group counters are used once the
    /// group has shown it at least this often; before that, its item counters.
    public var groupMinImpressions: Double
    /// Model candidates the server fetches per requested slot (k·this), ≥ 1.
    public var candidateMultiplier: Int
    /// Extra exploration-pool items (cold or random) the server adds per
    /// requested slot (k·this), ≥ 0.
    public var explorePool: Int

    public init(
        policy: ExplorationPolicy = .greedy,
        epsilon: Double = 0.1,
        ucbC: Double = 1.0,
        priorStrength: Double = 10,
        priorSlope: Double = 1,
        priorOffset: Double? = nil,
        groupMinImpressions: Double = 30,
        candidateMultiplier: Int = 4,
        explorePool: Int = 2
    ) {
        self.policy = policy
        self.epsilon = epsilon
        self.ucbC = ucbC
        self.priorStrength = priorStrength
        self.priorSlope = priorSlope
        self.priorOffset = priorOffset
        self.groupMinImpressions = groupMinImpressions
        self.candidateMultiplier = candidateMultiplier
        self.explorePool = explorePool
    }

    /// How many model candidates to fetch for a request of `k` items: `k`
    /// for greedy (more would be ignored), else `k·candidateMultiplier`.
    public func modelCandidateCount(k: Int) -> Int {
        policy == .greedy ? max(0, k) : max(0, k) * candidateMultiplier
    }

    /// How many exploration-pool items to add for a request of `k` items: 0
    /// for greedy, else `k·explorePool`.
    public func explorePoolCount(k: Int) -> Int {
        policy == .greedy ? 0 : max(0, k) * explorePool
    }

    /// Throws an `ExplorationError` (`.invalidSetting`) naming the first setting out of range.
    public func validate() throws(ExplorationError) {
        func check(_ ok: Bool, _ message: @autoclosure () -> String) throws(ExplorationError) {
            if !ok { throw ExplorationError(.invalidSetting, message()) }
        }
        try check(epsilon >= 0 && epsilon <= 1, "epsilon must be in [0, 1], got \(epsilon)")
        try check(ucbC >= 0 && ucbC.isFinite, "ucbC must be a finite number >= 0, got \(ucbC)")
        try check(priorStrength > 0 && priorStrength.isFinite,
                  "priorStrength must be a finite number > 0, got \(priorStrength)")
        try check(priorSlope >= 0 && priorSlope.isFinite, "priorSlope must be a finite number >= 0, got \(priorSlope)")
        if let priorOffset {
            try check(priorOffset.isFinite, "priorOffset must be a finite number, got \(priorOffset)")
        }
        try check(groupMinImpressions >= 0 && groupMinImpressions.isFinite,
                  "groupMinImpressions must be a finite number >= 0, got \(groupMinImpressions)")
        try check(candidateMultiplier >= 1, "candidateMultiplier must be at least 1, got \(candidateMultiplier)")
        try check(explorePool >= 0, "explorePool must be at least 0, got \(explorePool)")
    }

    private enum CodingKeys: String, CodingKey {
        case policy, epsilon, ucbC, priorStrength, priorSlope, priorOffset, groupMinImpressions
        case candidateMultiplier, explorePool
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = ExplorationSettings()
        self.init(
            policy: try c.decodeIfPresent(ExplorationPolicy.self, forKey: .policy) ?? d.policy,
            epsilon: try c.decodeIfPresent(Double.self, forKey: .epsilon) ?? d.epsilon,
            ucbC: try c.decodeIfPresent(Double.self, forKey: .ucbC) ?? d.ucbC,
            priorStrength: try c.decodeIfPresent(Double.self, forKey: .priorStrength) ?? d.priorStrength,
            priorSlope: try c.decodeIfPresent(Double.self, forKey: .priorSlope) ?? d.priorSlope,
            priorOffset: try c.decodeIfPresent(Double.self, forKey: .priorOffset) ?? d.priorOffset,
            groupMinImpressions: try c.decodeIfPresent(Double.self, forKey: .groupMinImpressions)
                ?? d.groupMinImpressions,
            candidateMultiplier: try c.decodeIfPresent(Int.self, forKey: .candidateMultiplier) ?? d.candidateMultiplier,
            explorePool: try c.decodeIfPresent(Int.self, forKey: .explorePool) ?? d.explorePool
        )
    }
}
