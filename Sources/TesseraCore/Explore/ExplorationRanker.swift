import Foundation

/// Ranks candidates for one Recommend request under the settings' policy.
///
/// Pure logic: the server fetches `settings.modelCandidateCount(k:)` model
/// candidates and `settings.explorePoolCount(k:)` pool items with their
/// counters, calls `rank`, shows the result and counts the feedback. A
/// `Sendable` value; every random choice comes from the caller's
/// `SplitMix64`, so the same seed and inputs give the same list.
///
/// "Greedy order" is model score descending, unscored items last, ties by
/// candidate order. Each policy returns `min(k, distinct candidates)` items:
/// - greedy: the first k of the greedy order.
/// - ε-greedy: per slot, with probability ε a uniformly random unchosen pool
///   item (if none is left, a uniformly random unchosen candidate), otherwise
///   the next unchosen item of the greedy order. Slot order is kept.
/// - UCB: sorted by `μ + c·sqrt(μ(1−μ)·ln(1+N)/(α+β))`, μ = α/(α+β).
/// - Thompson: sorted by one draw θ ~ Beta(α, β) per candidate.
///
/// with the posterior α = α0 + clicks, β = β0 + impressions − clicks and the
/// prior α0, β0 of `ExplorationSettings`. The counters are the group's when
/// `groupImpressions ≥ groupMinImpressions` (and > 0), else the item's. N is
/// `totalImpressions`, raised to the sum of the counters used when smaller.
/// UCB and Thompson ties fall back to the greedy order.
public struct ExplorationRanker: Sendable {
    public private(set) var settings: ExplorationSettings

    /// - Throws: `ExplorationError` (`.invalidSetting`) when `settings` is out of range.
    public init(settings: ExplorationSettings = ExplorationSettings()) throws(ExplorationError) {
        try settings.validate()
        self.settings = settings
    }

    /// The same knobs under another policy (a request naming its own).
    public func with(policy: ExplorationPolicy) -> ExplorationRanker {
        var copy = self
        copy.settings.policy = policy
        return copy
    }

    /// The ranked list for one request.
    ///
    /// - Parameters:
    ///   - candidates: model candidates and pool items in any order, typically
    ///     a few hundred. A repeated item counts once (its first occurrence).
    ///   - k: list length wanted; `k <= 0` gives an empty list.
    ///   - totalImpressions: N of UCB's `ln(1+N)`: impressions served so far
    ///     (overall, or to the user's group). Ignored by the other policies.
    ///   - rng: source of every random choice (ε-greedy's coins and picks,
    ///     Thompson's draws; greedy and UCB draw nothing).
    /// - Returns: `min(k, distinct candidates)` items, best first, each marked
    ///   `explored` when it is not in the greedy top-k.
    /// - Complexity: O(n log n) for n candidates; a few arrays of n entries.
    public func rank(
        _ candidates: [ExplorationCandidate], k: Int, totalImpressions: Double = 0, using rng: inout SplitMix64
    ) -> [RankedRecommendation] {
        let unique = Self.uniqueIndices(candidates)
        let count = min(max(k, 0), unique.count)
        guard count > 0 else { return [] }
        let greedy = Self.greedyOrder(candidates, unique)
        var greedyRank = [Int](repeating: Int.max, count: candidates.count)
        for (rank, index) in greedy.enumerated() { greedyRank[index] = rank }

        let picks: [Pick]
        switch settings.policy {
        case .greedy:
            picks = greedy.prefix(count).map { Pick(index: $0, score: Double(candidates[$0].modelScore ?? 0)) }
        case .epsilonGreedy:
            picks = epsilonGreedy(candidates, unique: unique, greedy: greedy, count: count, rng: &rng)
        case .ucb, .thompson:
            picks = posteriorRanking(candidates, unique: unique, greedyRank: greedyRank, count: count,
                                     totalImpressions: totalImpressions, rng: &rng)
        }
        return picks.map { pick in
            let candidate = candidates[pick.index]
            return RankedRecommendation(item: candidate.item, score: Float(pick.score),
                                        modelScore: candidate.modelScore, explored: greedyRank[pick.index] >= count)
        }
    }

    /// A chosen candidate (index into the request) and its ranking value.
    struct Pick {
        var index: Int
        var score: Double
    }

    /// Indices of the first occurrence of every item, in candidate order.
    static func uniqueIndices(_ candidates: [ExplorationCandidate]) -> [Int] {
        var seen = Set<UInt64>(minimumCapacity: candidates.count)
        var unique: [Int] = []
        unique.reserveCapacity(candidates.count)
        for (index, candidate) in candidates.enumerated() where seen.insert(candidate.item).inserted {
            unique.append(index)
        }
        return unique
    }

    /// `unique` sorted by model score descending, unscored last, ties by index.
    static func greedyOrder(_ candidates: [ExplorationCandidate], _ unique: [Int]) -> [Int] {
        unique.sorted { a, b in
            switch (candidates[a].modelScore, candidates[b].modelScore) {
            case let (x?, y?): x > y || (x == y && a < b)
            case (.some, nil): true
            case (nil, .some): false
            case (nil, nil): a < b
            }
        }
    }

    private func epsilonGreedy(
        _ candidates: [ExplorationCandidate], unique: [Int], greedy: [Int], count: Int, rng: inout SplitMix64
    ) -> [Pick] {
        var chosen = [Bool](repeating: false, count: candidates.count)
        var pool = unique.filter { candidates[$0].source == .pool }
        var cursor = 0
        var picks: [Pick] = []
        picks.reserveCapacity(count)
        for _ in 0..<count {
            var pick: Int?
            if rng.nextUnitDouble() < settings.epsilon {
                pick = Self.drawUnchosen(from: &pool, chosen: chosen, rng: &rng)
                if pick == nil {
                    var rest = unique.filter { !chosen[$0] }
                    pick = Self.drawUnchosen(from: &rest, chosen: chosen, rng: &rng)
                }
            }
            if pick == nil {
                // Fewer than `count` items are chosen, so an unchosen one remains.
                while cursor < greedy.count && chosen[greedy[cursor]] { cursor += 1 }
                if cursor < greedy.count { pick = greedy[cursor] }
            }
            guard let index = pick else { break }
            chosen[index] = true
            picks.append(Pick(index: index, score: Double(candidates[index].modelScore ?? 0)))
        }
        return picks
    }

    /// Removes uniformly random entries of `pool` until one is unchosen and
    /// returns it (so uniform over the unchosen entries); nil when none is left.
    private static func drawUnchosen(from pool: inout [Int], chosen: [Bool], rng: inout SplitMix64) -> Int? {
        while !pool.isEmpty {
            let slot = rng.nextInt(below: pool.count)
            pool.swapAt(slot, pool.count - 1)
            let index = pool.removeLast()
            if !chosen[index] { return index }
        }
        return nil
    }
}
