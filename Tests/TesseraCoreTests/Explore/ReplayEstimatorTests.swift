import Foundation
import Testing
import TesseraCore

/// The replay estimator on uniformly logged events from a simulated population.
@Suite struct ReplayEstimatorTests {
    typealias S = ExploreSupport

    @Test func countsOnlyMatchedEvents() {
        let log = [LoggedEvent(user: 1, item: 5, reward: 1), LoggedEvent(user: 1, item: 6, reward: 1),
                   LoggedEvent(user: 2, item: 5, reward: 0)]
        var updates: [LoggedEvent] = []
        let estimate = ReplayEstimator.evaluate(log, choose: { _ in 5 },
                                                update: { updates.append(LoggedEvent(user: $0, item: $1, reward: $2)) })
        #expect(estimate.events == 3 && estimate.matched == 2 && estimate.totalReward == 1)
        #expect(estimate.value == 0.5)
        // Sample variance of {1, 0} is 0.5: SE = sqrt(0.5 / 2).
        #expect(S.close(estimate.standardError ?? 0, 0.5))
        #expect(updates == [log[0], log[2]])

        let none = ReplayEstimator.evaluate(log, choose: { _ in 7 })
        #expect(none.matched == 0 && none.value == nil && none.standardError == nil)
        var one = ReplayEstimator()
        #expect(one.record(log[0], chosen: 5) && !one.record(log[1], chosen: 5))
        #expect(one.estimate.value == 1 && one.estimate.standardError == nil)
    }

    @Test func logIsUniformSeededAndChecked() throws {
        let population = try S.population()
        let arms: [UInt64] = [1, 2, 3, 4]
        var a = SplitMix64(seed: 5), b = SplitMix64(seed: 5)
        let log = try population.uniformLog(events: 8000, arms: arms, using: &a)
        #expect(log == (try population.uniformLog(events: 8000, arms: arms, using: &b)))
        #expect(log.count == 8000)
        for arm in arms {
            // Binomial(8000, 1/4): sd ≈ 39.
            #expect(abs(log.filter { $0.item == arm }.count - 2000) < 200)
        }
        #expect(Set(log.map(\.user)).count > 190)
        #expect(log.allSatisfy { $0.reward == 0 || $0.reward == 1 })
        #expect(throws: ExplorationError.self) { try population.uniformLog(events: 1, arms: [], using: &a) }
        #expect(throws: ExplorationError.self) { try population.uniformLog(events: 1, arms: [1, 201], using: &a) }
    }

    @Test func replayConvergesToTheTrueClickRateAndRanksPolicies() throws {
        let population = try S.population()
        let arms = Array(population.itemsByMeanClickProbability().prefix(10))
        var rng = SplitMix64(seed: 2011)
        let log = try population.uniformLog(events: 40_000, arms: arms, using: &rng)

        // A good fixed policy (each user's best arm), a fixed popular arm, and uniform random choice.
        var bestArm: [UInt64: UInt64] = [:]
        for user in population.users { bestArm[user] = population.oracle(user: user, k: 1, among: arms).items.first }
        let good = { (user: UInt64) in bestArm[user] ?? arms[0] }
        let popular = { (_: UInt64) in arms[0] }
        let goodEstimate = ReplayEstimator.evaluate(log, choose: good)
        let popularEstimate = ReplayEstimator.evaluate(log, choose: popular)
        var choice = SplitMix64(seed: 77)
        let randomEstimate = ReplayEstimator.evaluate(log, choose: { _ in arms[choice.nextInt(below: arms.count)] })

        let truths = [population.clickRate(of: good), population.clickRate(of: popular),
                      population.users.reduce(0) { sum, user in
                          sum + arms.reduce(0) { $0 + (population.clickProbability(user: user, item: $1) ?? 0) }
                      } / Double(population.users.count * arms.count)]
        for (estimate, truth) in zip([goodEstimate, popularEstimate, randomEstimate], truths) {
            // About 4000 matches each (Binomial(40 000, 1/10): sd 60).
            #expect(abs(estimate.matched - 4000) < 400)
            let value = try #require(estimate.value), se = try #require(estimate.standardError)
            #expect(abs(value - truth) < 4 * se, "replay \(value) ± \(se), truth \(truth)")
        }
        let goodValue = try #require(goodEstimate.value), randomValue = try #require(randomEstimate.value)
        let gap = goodValue - randomValue
        let se = ((goodEstimate.standardError ?? 1) * (goodEstimate.standardError ?? 1)
                  + (randomEstimate.standardError ?? 1) * (randomEstimate.standardError ?? 1)).squareRoot()
        #expect(gap > 4 * se, "good \(goodValue) vs random \(randomValue)")
    }

    @Test func learningPolicySeesOnlyMatchedEventsInOrder() throws {
        let population = try S.population()
        let arms = Array(population.itemsByMeanClickProbability().prefix(5))
        var rng = SplitMix64(seed: 9)
        let log = try population.uniformLog(events: 10_000, arms: arms, using: &rng)
        // Greedy on observed click rates with optimistic starts: learns the best arm overall.
        var shows = [Double](repeating: 1, count: arms.count), wins = [Double](repeating: 1, count: arms.count)
        var updates = 0
        let estimate = ReplayEstimator.evaluate(
            log,
            choose: { _ in arms[(0..<arms.count).max { wins[$0] / shows[$0] < wins[$1] / shows[$1] } ?? 0] },
            update: { _, item, reward in
                guard let arm = arms.firstIndex(of: item) else { return }
                shows[arm] += 1
                wins[arm] += reward
                updates += 1
            })
        #expect(updates == estimate.matched && estimate.matched > 1000)
        let bestOverall = arms.map { arm in population.clickRate(of: { _ in arm }) }.max() ?? 0
        let value = try #require(estimate.value), se = try #require(estimate.standardError)
        #expect(value > bestOverall - 5 * se - 0.02, "learner \(value), best single arm \(bestOverall)")
    }
}
