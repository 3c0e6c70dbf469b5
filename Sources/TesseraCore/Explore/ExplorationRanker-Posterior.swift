import Foundation

/// The Beta posterior on one candidate's click rate that UCB and Thompson rank by.
public struct ClickPosterior: Sendable, Hashable {
    /// α = α0 + clicks.
    public var alpha: Double
    /// β = β0 + impressions − clicks.
    public var beta: Double
    /// The impressions counted (the group's or the item's, after cleaning).
    public var impressions: Double
    /// True when the group counters were used, false for the item counters.
    public var usesGroupCounters: Bool

    public init(alpha: Double, beta: Double, impressions: Double, usesGroupCounters: Bool) {
        self.alpha = alpha
        self.beta = beta
        self.impressions = impressions
        self.usesGroupCounters = usesGroupCounters
    }

    /// Posterior mean α/(α+β).
    public var mean: Double { alpha / (alpha + beta) }

    /// The UCB ranking value `μ + c·sqrt(μ(1−μ)·logTerm/(α+β))` with
    /// `logTerm = ln(1+N)`. May exceed 1; only the order matters.
    public func upperBound(c: Double, logTerm: Double) -> Double {
        let mu = mean
        return mu + c * (mu * (1 - mu) * logTerm / (alpha + beta)).squareRoot()
    }
}

extension ExplorationRanker {
    /// The posterior of every candidate (aligned with `candidates`, repeats
    /// included), exactly as `rank` computes it for UCB and Thompson.
    public func posteriors(for candidates: [ExplorationCandidate]) -> [ClickPosterior] {
        let context = priorContext(candidates, unique: Self.uniqueIndices(candidates))
        return candidates.map { posterior($0, context) }
    }

    /// The prior's logit offset and score centre: p0 = sigmoid(base + slope·(s − centre)).
    struct PriorContext {
        var base: Double
        var centre: Double
    }

    /// With `priorOffset`: base = offset, centre 0. Otherwise base = logit(r̄),
    /// r̄ = (Σc + 1)/(Σn + 2), and centre = Σ(n+1)·s / Σ(n+1), both over the
    /// item counters of the scored distinct candidates.
    func priorContext(_ candidates: [ExplorationCandidate], unique: [Int]) -> PriorContext {
        if let offset = settings.priorOffset { return PriorContext(base: offset, centre: 0) }
        var clicks = 0.0, impressions = 0.0, weightedScore = 0.0, weight = 0.0
        for index in unique {
            let candidate = candidates[index]
            guard let score = candidate.modelScore else { continue }
            let (n, c) = Self.cleanCounts(impressions: candidate.impressions, clicks: candidate.clicks)
            clicks += c
            impressions += n
            weightedScore += (n + 1) * Double(score)
            weight += n + 1
        }
        let rate = (clicks + 1) / (impressions + 2)
        return PriorContext(base: log(rate / (1 - rate)), centre: weight > 0 ? weightedScore / weight : 0)
    }

    func posterior(_ candidate: ExplorationCandidate, _ context: PriorContext) -> ClickPosterior {
        let group = Self.cleanCounts(impressions: candidate.groupImpressions, clicks: candidate.groupClicks)
        let useGroup = group.n > 0 && group.n >= settings.groupMinImpressions
        let (n, c) = useGroup ? group : Self.cleanCounts(impressions: candidate.impressions, clicks: candidate.clicks)
        var alpha0 = 1.0, beta0 = 1.0
        if let score = candidate.modelScore {
            let logit = context.base + settings.priorSlope * (Double(score) - context.centre)
            let p0 = min(max(1 / (1 + exp(-logit)), Self.priorFloor), 1 - Self.priorFloor)
            alpha0 = settings.priorStrength * p0
            beta0 = settings.priorStrength * (1 - p0)
        }
        return ClickPosterior(alpha: alpha0 + c, beta: beta0 + n - c, impressions: n, usesGroupCounters: useGroup)
    }

    /// Smallest prior mean (and 1 − the largest), so α0 and β0 stay positive.
    static let priorFloor = 1e-4

    /// Counters made safe: NaN, negative or infinite → 0; clicks ≤ impressions.
    static func cleanCounts(impressions: Double, clicks: Double) -> (n: Double, c: Double) {
        let n = impressions.isFinite && impressions > 0 ? impressions : 0
        let c = clicks.isFinite && clicks > 0 ? min(clicks, n) : 0
        return (n, c)
    }

    func posteriorRanking(
        _ candidates: [ExplorationCandidate], unique: [Int], greedyRank: [Int], count: Int,
        totalImpressions: Double, rng: inout SplitMix64
    ) -> [Pick] {
        let context = priorContext(candidates, unique: unique)
        var picks: [Pick] = []
        picks.reserveCapacity(unique.count)
        if settings.policy == .ucb {
            var posteriors: [ClickPosterior] = []
            posteriors.reserveCapacity(unique.count)
            var used = 0.0
            for index in unique {
                let posterior = posterior(candidates[index], context)
                used += posterior.impressions
                posteriors.append(posterior)
            }
            let total = totalImpressions.isFinite && totalImpressions > 0 ? totalImpressions : 0
            let logTerm = log(1 + max(total, used))
            for (j, index) in unique.enumerated() {
                picks.append(Pick(index: index, score: posteriors[j].upperBound(c: settings.ucbC, logTerm: logTerm)))
            }
        } else {
            for index in unique {
                let posterior = posterior(candidates[index], context)
                picks.append(Pick(index: index, score: rng.nextBeta(alpha: posterior.alpha, beta: posterior.beta)))
            }
        }
        picks.sort { a, b in a.score > b.score || (a.score == b.score && greedyRank[a.index] < greedyRank[b.index]) }
        return Array(picks.prefix(count))
    }
}
