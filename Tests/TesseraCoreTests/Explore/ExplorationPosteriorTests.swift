import Foundation
import Testing
import TesseraCore

/// The Beta posterior of UCB and Thompson sampling, and their rankings.
@Suite struct ExplorationPosteriorTests {
    typealias S = ExploreSupport

    static func sigmoid(_ x: Double) -> Double { 1 / (1 + exp(-x)) }

    @Test func absolutePriorAndCounters() throws {
        let ranker = try S.ranker(.ucb) { $0.priorOffset = -2 }
        let posterior = ranker.posteriors(for: [S.candidate(1, 0.5, n: 20, c: 5)])[0]
        let p0 = Self.sigmoid(0.5 - 2)
        #expect(S.close(posterior.alpha, 10 * p0 + 5) && S.close(posterior.beta, 10 * (1 - p0) + 15))
        #expect(posterior.impressions == 20 && !posterior.usesGroupCounters)
        #expect(S.close(posterior.mean, (10 * p0 + 5) / 30))
    }

    @Test func centredPriorUsesThePooledRateAndWeightedMeanScore() throws {
        let ranker = try S.ranker(.thompson)
        let candidates = [S.candidate(1, 1, n: 100, c: 10), S.candidate(2, -1, n: 100, c: 2),
                          S.candidate(3, 0.5), S.candidate(4, nil, n: 1000, c: 900)]
        let posteriors = ranker.posteriors(for: candidates)
        // r̄ = (12 + 1)/(200 + 2); the unscored item does not count. Centre: (101·1 + 101·(−1) + 1·0.5)/203.
        let rate = 13.0 / 202
        let centre = 0.5 / 203
        func p0(_ s: Double) -> Double { Self.sigmoid(log(rate / (1 - rate)) + s - centre) }
        #expect(S.close(posteriors[0].alpha, 10 * p0(1) + 10, 1e-9))
        #expect(S.close(posteriors[1].beta, 10 * (1 - p0(-1)) + 98, 1e-9))
        #expect(S.close(posteriors[2].mean, p0(0.5), 1e-12))
        // Unknown item: flat prior.
        #expect(posteriors[3].alpha == 901 && posteriors[3].beta == 101)
    }

    @Test func priorSlopeZeroGivesEveryScoredItemThePooledRate() throws {
        let ranker = try S.ranker(.ucb) { $0.priorSlope = 0 }
        let posteriors = ranker.posteriors(for: [S.candidate(1, 5), S.candidate(2, -5)])
        #expect(posteriors.allSatisfy { S.close($0.mean, 0.5) })
    }

    @Test func groupCountersOnceTheGroupHasEnoughImpressions() throws {
        let ranker = try S.ranker(.ucb) { $0.priorOffset = 0 }
        let few = ranker.posteriors(for: [S.candidate(1, 0, n: 500, c: 50, gn: 29, gc: 20)])[0]
        #expect(!few.usesGroupCounters && few.impressions == 500 && few.alpha == 55)
        let enough = ranker.posteriors(for: [S.candidate(1, 0, n: 500, c: 50, gn: 30, gc: 20)])[0]
        #expect(enough.usesGroupCounters && enough.impressions == 30 && enough.alpha == 25 && enough.beta == 15)
        let zero = try S.ranker(.ucb) { $0.groupMinImpressions = 0 }
        #expect(!zero.posteriors(for: [S.candidate(1, 0, n: 5, c: 1)])[0].usesGroupCounters)
    }

    @Test func badCountersAreCleaned() throws {
        let ranker = try S.ranker(.ucb)
        let posteriors = ranker.posteriors(for: [
            S.candidate(1, nil, n: 10, c: 15), S.candidate(2, nil, n: -3, c: 2), S.candidate(3, nil, n: .nan, c: .nan),
            S.candidate(4, nil, n: .infinity, c: 1), S.candidate(5, nil, n: 4, c: -1),
        ])
        #expect(posteriors[0].alpha == 11 && posteriors[0].beta == 1)
        for posterior in posteriors[1...3] { #expect(posterior.alpha == 1 && posterior.beta == 1) }
        #expect(posteriors[4].alpha == 1 && posteriors[4].beta == 5)
    }

    @Test func ucbScoreIsTheUpperBound() throws {
        let ranker = try S.ranker(.ucb) { $0.priorOffset = -3; $0.ucbC = 0.7 }
        let candidates = [S.candidate(1, 1, n: 50, c: 10), S.candidate(2, 0, n: 5, c: 0), S.candidate(3, nil)]
        var rng = SplitMix64(seed: 1)
        let list = ranker.rank(candidates, k: 3, totalImpressions: 999, using: &rng)
        let posteriors = ranker.posteriors(for: candidates)
        let logTerm = log(1000.0)
        for entry in list {
            let posterior = posteriors[Int(entry.item) - 1]
            let mu = posterior.mean
            let expected = mu + 0.7 * (mu * (1 - mu) * logTerm / (posterior.alpha + posterior.beta)).squareRoot()
            #expect(S.close(Double(entry.score), expected, 1e-6))
            #expect(S.close(posterior.upperBound(c: 0.7, logTerm: logTerm), expected, 1e-12))
        }
        #expect(list.map(\.score) == list.map(\.score).sorted(by: >))
        // The unknown item, with a flat prior and no impressions, has the widest bound.
        #expect(list.first?.item == 3)
        // N below the candidates' own impressions is raised to their sum (55).
        let low = ranker.rank(candidates, k: 3, totalImpressions: 0, using: &rng)
        let mu = posteriors[0].mean
        let bound = mu + 0.7 * (mu * (1 - mu) * log(56.0) / (posteriors[0].alpha + posteriors[0].beta)).squareRoot()
        #expect(S.close(Double(low.first { $0.item == 1 }?.score ?? 0), bound, 1e-6))
    }

    @Test func ucbExploresAnUnknownItemThenDropsItWhenItNeverClicks() throws {
        let ranker = try S.ranker(.ucb)
        var rng = SplitMix64(seed: 1)
        let known = (1...5).map { S.candidate(UInt64($0), Float(5 - $0), n: 2000, c: 200) }
        let fresh = ranker.rank(known + [S.candidate(99, nil, .pool)], k: 5, totalImpressions: 10_000, using: &rng)
        #expect(fresh.first?.item == 99 && fresh.first?.explored == true)
        let dud = ranker.rank(known + [S.candidate(99, nil, .pool, n: 300, c: 0)], k: 5, totalImpressions: 10_000,
                              using: &rng)
        #expect(!dud.map(\.item).contains(99))
        #expect(dud.allSatisfy { !$0.explored })
    }

    @Test func ucbWithoutBonusFollowsTheEvidence() throws {
        let ranker = try S.ranker(.ucb) { $0.ucbC = 0 }
        var rng = SplitMix64(seed: 1)
        // The model's favourite never clicks; a pool item clicks half the time.
        let candidates = [S.candidate(1, 3, n: 5000, c: 5), S.candidate(2, 2, n: 5000, c: 250),
                          S.candidate(3, -4, .pool, n: 5000, c: 2500)]
        let list = ranker.rank(candidates, k: 2, using: &rng)
        #expect(list.map(\.item) == [3, 2])
        #expect(list.map(\.explored) == [true, false])
    }

    @Test func thompsonExploresUnknownItemsAndFollowsStrongEvidence() throws {
        let ranker = try S.ranker(.thompson)
        var rng = SplitMix64(seed: 9)
        let known = (1...5).map { S.candidate(UInt64($0), Float(5 - $0), n: 5000, c: 100) }
        var firsts = 0
        for _ in 0..<200 {
            let list = ranker.rank(known + [S.candidate(99, nil, .pool)], k: 5, using: &rng)
            if list.first?.item == 99 { firsts += 1 }
            #expect(list.first { $0.item == 99 }?.explored ?? true)
        }
        // Uniform(0, 1) beats five draws near 0.02 about 97% of the time.
        #expect(firsts > 180)
        let strong = [S.candidate(1, 3, n: 10_000, c: 10), S.candidate(2, -3, .pool, n: 10_000, c: 3000)]
        for _ in 0..<50 {
            #expect(ranker.rank(strong, k: 1, using: &rng).map(\.item) == [2])
        }
    }

    @Test func thompsonScoresAreSortedDrawsInZeroOne() throws {
        let ranker = try S.ranker(.thompson)
        var rng = SplitMix64(seed: 4)
        let candidates = (1...50).map { (i: Int) -> ExplorationCandidate in
            S.candidate(UInt64(i), Float(i % 7), n: Double(i), c: Double(i % 3))
        }
        let list = ranker.rank(candidates, k: 50, using: &rng)
        let scores = list.map { $0.score }
        #expect(scores == scores.sorted(by: >))
        #expect(list.allSatisfy { $0.score >= 0 && $0.score <= 1 })
    }
}
