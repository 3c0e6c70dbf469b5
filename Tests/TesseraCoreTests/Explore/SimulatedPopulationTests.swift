import Foundation
import Testing
import TesseraCore

/// True click probabilities, calibration, click draws and the oracle.
@Suite struct SimulatedPopulationTests {
    typealias S = ExploreSupport

    @Test func calibrationHitsTheTargets() throws {
        let population = try S.population()
        var best = 0.0, all: [Float] = []
        for user in population.users {
            let row = try #require(population.clickProbabilities(user: user))
            best += Double(row.max() ?? 0)
            all += row
        }
        best /= Double(population.users.count)
        all.sort()
        // Calibrated on preferences: the median pair is exact, the best-item mean close to its target.
        #expect(S.close(Double(all[all.count / 2]), 0.03, 1e-4))
        #expect(best > 0.35 && best < 0.55, "mean best-item click rate \(best)")
        let mean = all.reduce(0) { $0 + Double($1) } / Double(all.count)
        #expect(mean > 0.01 && mean < 0.1, "mean click rate \(mean)")
    }

    @Test func probabilitiesFollowThePlantedPreferences() throws {
        let generator = try S.generator()
        let population = try SimulatedPopulation(generator: generator, users: [3, 7, 11])
        #expect(population.users == [3, 7, 11] && population.items.count == 200)
        for (user, item) in [(UInt64(3), UInt64(1)), (7, 100), (11, 200)] {
            let preference = Double(try #require(generator.preferenceScore(user: user, item: item)))
            let expected = 1 / (1 + exp(-(population.scale * preference + population.bias)))
            #expect(S.close(try #require(population.clickProbability(user: user, item: item)), expected, 1e-6))
        }
        #expect(population.clickProbability(user: 4, item: 1) == nil)
        #expect(population.clickProbability(user: 3, item: 201) == nil)
        #expect(population.clickProbabilities(user: 4) == nil)
        #expect(throws: ExplorationError.self) { try SimulatedPopulation(generator: generator, users: [201]) }
    }

    @Test func explicitCalibrationAndVectors() throws {
        let population = try SimulatedPopulation(users: [1, 2], items: [10, 20, 30], preferences: [0, 1, -1, 2, 0, 0],
                                                 scale: 2, bias: -1)
        #expect(S.close(try #require(population.clickProbability(user: 1, item: 20)), 1 / (1 + exp(-1.0)), 1e-7))
        #expect(S.close(try #require(population.clickProbability(user: 2, item: 10)), 1 / (1 + exp(-3.0)), 1e-7))

        // u·v: user 1 likes item 10, user 2 likes item 20.
        let vectors = try SimulatedPopulation(users: [1, 2], userVectors: [1, 0, 0, 1], items: [10, 20, 30],
                                              itemVectors: [2, 0, 0, 2, 0.5, 0.5], dim: 2)
        #expect(vectors.oracle(user: 1, k: 1).items == [10])
        #expect(vectors.oracle(user: 2, k: 1).items == [20])
    }

    @Test func badInputsAreRefused() {
        func code(_ make: () throws -> SimulatedPopulation) -> ExplorationError.Code? {
            do {
                _ = try make()
                return nil
            } catch {
                return (error as? ExplorationError)?.code
            }
        }
        #expect(code { try SimulatedPopulation(users: [], items: [1], preferences: []) } == .invalidArgument)
        #expect(code { try SimulatedPopulation(users: [1], items: [1, 2], preferences: [0]) } == .invalidArgument)
        #expect(code { try SimulatedPopulation(users: [1, 1], items: [1], preferences: [0, 0]) } == .invalidArgument)
        #expect(code { try SimulatedPopulation(users: [1], items: [1], preferences: [.nan]) } == .invalidArgument)
        #expect(code { try SimulatedPopulation(users: [1], items: [1], preferences: [0], scale: .infinity, bias: 0) }
                == .invalidArgument)
        #expect(code { try SimulatedPopulation(users: [1], userVectors: [1], items: [1], itemVectors: [1, 2], dim: 1) }
                == .invalidArgument)
        let bad = SimulatedPopulation.Settings(topClickRate: 0.02, typicalClickRate: 0.03)
        #expect(code { try SimulatedPopulation(users: [1], items: [1, 2], preferences: [0, 1], settings: bad) }
                == .invalidSetting)
    }

    @Test func equalPreferencesClickAtTheTypicalRate() throws {
        let population = try SimulatedPopulation(users: [1, 2], items: [1, 2], preferences: [3, 3, 3, 3])
        #expect(population.scale == 0)
        #expect(S.close(try #require(population.clickProbability(user: 2, item: 1)), 0.03, 1e-7))
    }

    @Test func oracleIsTheBestEligibleList() throws {
        let population = try S.population()
        for user in [UInt64(1), 50, 200] {
            let row = Array(try #require(population.clickProbabilities(user: user)))
            let sorted = row.indices.sorted { row[$0] > row[$1] || (row[$0] == row[$1] && $0 < $1) }
            let oracle = population.oracle(user: user, k: 5)
            #expect(oracle.items == sorted.prefix(5).map { population.items[$0] })
            #expect(S.close(oracle.expectedClicks, population.expectedClicks(user: user, shown: oracle.items), 1e-6))

            let excluded = Set(oracle.items.prefix(2))
            let rest = population.oracle(user: user, k: 5, excluding: excluded)
            #expect(rest.items == sorted.filter { !excluded.contains(population.items[$0]) }.prefix(5)
                .map { population.items[$0] })

            let arms: [UInt64] = [7, 3, 9, 999, 3]
            let among = population.oracle(user: user, k: 2, among: arms)
            let p = { (item: UInt64) in population.clickProbability(user: user, item: item) ?? 0 }
            let ranked = [UInt64(7), 3, 9].sorted { p($0) > p($1) }
            #expect(among.items == Array(ranked.prefix(2)))
        }
        #expect(population.oracle(user: 999, k: 5).items.isEmpty)
        #expect(population.oracle(user: 1, k: 0).expectedClicks == 0)
    }

    @Test func clicksAreBernoulliDraws() throws {
        let population = try S.population()
        let user: UInt64 = 10
        let best = population.oracle(user: user, k: 1).items[0]
        let p = try #require(population.clickProbability(user: user, item: best))
        var rng = SplitMix64(seed: 2)
        var clicks = 0
        for _ in 0..<10_000 {
            let drawn = population.drawClicks(user: user, shown: [best, 9999], using: &rng)
            #expect(drawn.count == 2 && !drawn[1])
            if drawn[0] { clicks += 1 }
        }
        #expect(abs(Double(clicks) / 10_000 - p) < 5 * (p * (1 - p) / 10_000).squareRoot())
        #expect(population.expectedClicks(user: user, shown: [best, 9999]) == p)
    }

    @Test func itemsByMeanClickProbabilityIsSorted() throws {
        let population = try S.population()
        let order = population.itemsByMeanClickProbability()
        #expect(Set(order) == Set(population.items))
        func mean(_ item: UInt64) -> Double {
            population.users.reduce(0) { $0 + (population.clickProbability(user: $1, item: item) ?? 0) }
        }
        #expect(mean(order[0]) >= mean(order[1]) && mean(order[1]) >= mean(order[199]))
    }
}
