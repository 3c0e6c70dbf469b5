import Foundation
import Testing
import TesseraCore

/// Greedy and ε-greedy ranking, the `explored` flag, and input hygiene.
@Suite struct ExplorationRankerTests {
    typealias S = ExploreSupport

    @Test func greedyTakesTheTopKByModelScore() throws {
        let ranker = try S.ranker(.greedy)
        var rng = SplitMix64(seed: 1)
        let list = ranker.rank(S.candidates(model: 5, pool: 2), k: 3, using: &rng)
        #expect(list.map(\.item) == [1, 2, 3])
        #expect(list.map(\.score) == [0, -0.1, -0.2])
        #expect(list.map(\.modelScore) == [0, -0.1, -0.2])
        #expect(list.allSatisfy { !$0.explored })
        var untouched = SplitMix64(seed: 1)
        _ = ranker.rank(S.candidates(model: 5), k: 3, using: &untouched)
        var fresh = SplitMix64(seed: 1)
        #expect(untouched.next() == fresh.next(), "greedy draws nothing")
    }

    @Test func greedyOrdersTiesByCandidateOrderAndUnknownItemsLast() throws {
        let ranker = try S.ranker(.greedy)
        var rng = SplitMix64(seed: 1)
        let candidates = [S.candidate(7, nil, .pool), S.candidate(5, 1), S.candidate(3, 2), S.candidate(9, 1),
                          S.candidate(4, nil)]
        let list = ranker.rank(candidates, k: 10, using: &rng)
        #expect(list.map(\.item) == [3, 5, 9, 7, 4])
        #expect(list[3].score == 0 && list[3].modelScore == nil)
        #expect(list.allSatisfy { !$0.explored })
    }

    @Test func sizeLimitsAndDuplicates() throws {
        var rng = SplitMix64(seed: 3)
        for policy in ExplorationPolicy.allCases {
            let ranker = try S.ranker(policy)
            #expect(ranker.rank(S.candidates(model: 4), k: 0, using: &rng).isEmpty)
            #expect(ranker.rank(S.candidates(model: 4), k: -2, using: &rng).isEmpty)
            #expect(ranker.rank([], k: 5, using: &rng).isEmpty)
            #expect(ranker.rank(S.candidates(model: 4, pool: 2), k: 10, using: &rng).count == 6)
            let repeated = S.candidates(model: 3) + S.candidates(model: 3) + [S.candidate(2, 9)]
            let list = ranker.rank(repeated, k: 10, using: &rng)
            #expect(list.count == 3 && Set(list.map(\.item)) == [1, 2, 3], "\(policy)")
            // Every item is in greedy's top 10 of 3 distinct items: nothing is explored.
            #expect(list.allSatisfy { !$0.explored })
        }
    }

    @Test func epsilonZeroIsGreedy() throws {
        let ranker = try S.ranker(.epsilonGreedy) { $0.epsilon = 0 }
        let greedy = try S.ranker(.greedy)
        for seed: UInt64 in 1...20 {
            var a = SplitMix64(seed: seed), b = SplitMix64(seed: seed)
            #expect(ranker.rank(S.candidates(model: 20, pool: 10), k: 5, using: &a)
                    == greedy.rank(S.candidates(model: 20, pool: 10), k: 5, using: &b))
        }
    }

    @Test func epsilonOneFillsEverySlotFromThePoolThenAnyCandidate() throws {
        let ranker = try S.ranker(.epsilonGreedy) { $0.epsilon = 1 }
        for seed: UInt64 in 1...20 {
            var rng = SplitMix64(seed: seed)
            let list = ranker.rank(S.candidates(model: 10, pool: 3), k: 3, using: &rng)
            #expect(Set(list.map(\.item)) == [1000, 1001, 1002])
            #expect(list.allSatisfy { $0.explored })
            #expect(list.allSatisfy { $0.score == -5 && $0.modelScore == -5 })

            // Two pool items for five slots: the other three come uniformly from the rest.
            let short = ranker.rank(S.candidates(model: 10, pool: 2), k: 5, using: &rng)
            #expect(Set(short.map(\.item)).count == 5)
            #expect(short.prefix(2).allSatisfy { $0.item >= 1000 })
        }
    }

    @Test func epsilonGreedyExploresAboutEpsilonOfTheSlots() throws {
        let ranker = try S.ranker(.epsilonGreedy) { $0.epsilon = 0.3 }
        var rng = SplitMix64(seed: 11)
        var explored = 0, slots = 0
        for _ in 0..<1000 {
            let list = ranker.rank(S.candidates(model: 40, pool: 20), k: 10, using: &rng)
            explored += list.filter(\.explored).count
            slots += list.count
            // Exploited slots keep the greedy order among themselves.
            let exploited = list.filter { !$0.explored }.map(\.item)
            #expect(exploited == exploited.sorted())
        }
        // Binomial(10 000, 0.3): sd 0.0046.
        #expect(abs(Double(explored) / Double(slots) - 0.3) < 0.02)
    }

    @Test func exploredMeansNotInGreedyTopK() throws {
        // A pool item with a high score is in greedy's top-k: not explored even when drawn from the pool.
        let ranker = try S.ranker(.epsilonGreedy) { $0.epsilon = 1 }
        var rng = SplitMix64(seed: 5)
        let candidates = S.candidates(model: 5) + [S.candidate(1000, 10, .pool)]
        let list = ranker.rank(candidates, k: 2, using: &rng)
        #expect(list.first?.item == 1000 && list.first?.explored == false)
        #expect(list.last?.explored == (list.last?.item != 1))
    }

    @Test func sameSeedSameListForEveryPolicy() throws {
        let candidates = (0..<200).map { (i: Int) -> ExplorationCandidate in
            let score: Float? = i % 7 == 0 ? nil : Float(i % 13) / 5
            let source: ExplorationCandidate.Source = i < 160 ? .model : .pool
            return S.candidate(UInt64(i + 1), score, source, n: Double(i * 3), c: Double(i % 5), gn: Double(i),
                               gc: Double(i % 3))
        }
        for policy in ExplorationPolicy.allCases {
            let ranker = try S.ranker(policy) { $0.epsilon = 0.5 }
            var a = SplitMix64(seed: 42), b = SplitMix64(seed: 42)
            let first = ranker.rank(candidates, k: 20, totalImpressions: 5000, using: &a)
            #expect(first == ranker.rank(candidates, k: 20, totalImpressions: 5000, using: &b), "\(policy)")
            #expect(a.next() == b.next(), "\(policy): same draws consumed")
            if policy == .epsilonGreedy || policy == .thompson {
                let others = (UInt64(43)...52).map { seed -> [RankedRecommendation] in
                    var rng = SplitMix64(seed: seed)
                    return ranker.rank(candidates, k: 20, totalImpressions: 5000, using: &rng)
                }
                #expect(others.contains { $0 != first }, "\(policy) depends on the seed")
            }
        }
    }

    @Test func withPolicyKeepsTheKnobs() throws {
        let ranker = try S.ranker(.greedy) { $0.epsilon = 0.25 }
        let other = ranker.with(policy: .epsilonGreedy)
        #expect(other.settings.policy == .epsilonGreedy && other.settings.epsilon == 0.25)
    }
}
