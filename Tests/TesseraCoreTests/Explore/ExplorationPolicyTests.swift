import Foundation
import Testing
import TesseraCore

/// Policy names, settings defaults, decoding and validation.
@Suite struct ExplorationPolicyTests {
    @Test func parsesTheFourNames() throws {
        #expect(try ExplorationPolicy(parsing: "greedy") == .greedy)
        #expect(try ExplorationPolicy(parsing: "epsilon_greedy") == .epsilonGreedy)
        #expect(try ExplorationPolicy(parsing: "ucb") == .ucb)
        #expect(try ExplorationPolicy(parsing: "thompson") == .thompson)
        #expect(ExplorationPolicy.validNames == "greedy, epsilon_greedy, ucb, thompson")
    }

    @Test func unknownNameListsTheValidOnes() {
        for name in ["", "UCB", "epsilon-greedy", "ucb1", " greedy"] {
            do {
                _ = try ExplorationPolicy(parsing: name)
                Issue.record("'\(name)' parsed")
            } catch {
                #expect(error.code == .unknownPolicy)
                #expect(error.message == "unknown exploration policy '\(name)' "
                        + "(expected one of: greedy, epsilon_greedy, ucb, thompson)")
                #expect("\(error)" == error.message)
            }
        }
    }

    @Test func defaults() throws {
        let settings = ExplorationSettings()
        #expect(settings.policy == .greedy)
        #expect(settings.epsilon == 0.1 && settings.ucbC == 1 && settings.priorStrength == 10)
        #expect(settings.priorSlope == 1 && settings.priorOffset == nil && settings.groupMinImpressions == 30)
        #expect(settings.candidateMultiplier == 4 && settings.explorePool == 2)
        try settings.validate()
    }

    @Test func candidateAndPoolCountsDependOnThePolicy() {
        var settings = ExplorationSettings()
        #expect(settings.modelCandidateCount(k: 10) == 10 && settings.explorePoolCount(k: 10) == 0)
        settings.policy = .thompson
        #expect(settings.modelCandidateCount(k: 10) == 40 && settings.explorePoolCount(k: 10) == 20)
        #expect(settings.modelCandidateCount(k: -1) == 0 && settings.explorePoolCount(k: 0) == 0)
    }

    @Test func decodingFillsDefaultsAndRoundTrips() throws {
        let partial = try JSONDecoder().decode(ExplorationSettings.self,
                                               from: Data(#"{"policy": "ucb", "ucbC": 0.5}"#.utf8))
        var expected = ExplorationSettings(policy: .ucb)
        expected.ucbC = 0.5
        #expect(partial == expected)
        #expect(try JSONDecoder().decode(ExplorationSettings.self, from: Data("{}".utf8)) == ExplorationSettings())

        let full = ExplorationSettings(policy: .epsilonGreedy, epsilon: 0.2, ucbC: 2, priorStrength: 5, priorSlope: 0.5,
                                       priorOffset: -3, groupMinImpressions: 7, candidateMultiplier: 3, explorePool: 1)
        let again = try JSONDecoder().decode(ExplorationSettings.self, from: JSONEncoder().encode(full))
        #expect(again == full)
        let encoded = try JSONEncoder().encode(ExplorationSettings(policy: .epsilonGreedy))
        let json = String(decoding: encoded, as: UTF8.self)
        #expect(json.contains(#""policy":"epsilon_greedy""#))
    }

    @Test func decodingABadPolicyNamesTheValidOnes() {
        do {
            _ = try JSONDecoder().decode(ExplorationSettings.self, from: Data(#"{"policy": "softmax"}"#.utf8))
            Issue.record("decoded")
        } catch {
            #expect("\(error)".contains("expected one of: greedy, epsilon_greedy, ucb, thompson"))
        }
    }

    @Test func validationNamesTheBadSetting() {
        func message(_ adjust: (inout ExplorationSettings) -> Void) -> String? {
            var settings = ExplorationSettings()
            adjust(&settings)
            do {
                try settings.validate()
                _ = try ExplorationRanker(settings: settings)
                return nil
            } catch {
                #expect(error.code == .invalidSetting)
                return error.message
            }
        }
        #expect(message { $0.epsilon = 1.5 }?.hasPrefix("epsilon must be in [0, 1]") == true)
        #expect(message { $0.epsilon = .nan }?.hasPrefix("epsilon") == true)
        #expect(message { $0.ucbC = -1 }?.hasPrefix("ucbC") == true)
        #expect(message { $0.priorStrength = 0 }?.hasPrefix("priorStrength") == true)
        #expect(message { $0.priorSlope = .infinity }?.hasPrefix("priorSlope") == true)
        #expect(message { $0.priorOffset = .nan }?.hasPrefix("priorOffset") == true)
        #expect(message { $0.groupMinImpressions = -1 }?.hasPrefix("groupMinImpressions") == true)
        #expect(message { $0.candidateMultiplier = 0 }?.hasPrefix("candidateMultiplier") == true)
        #expect(message { $0.explorePool = -1 }?.hasPrefix("explorePool") == true)
        #expect(message { $0.epsilon = 1 } == nil)
    }

    @Test func candidateTurnsNonFiniteScoresIntoUnknown() {
        #expect(ExplorationCandidate(item: 1, modelScore: .nan).modelScore == nil)
        #expect(ExplorationCandidate(item: 1, modelScore: -.infinity).modelScore == nil)
        #expect(ExplorationCandidate(item: 1, modelScore: 2).modelScore == 2)
    }
}
