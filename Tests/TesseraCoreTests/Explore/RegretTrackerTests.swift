import Foundation
import Testing
import TesseraCore

/// Cumulative reward, regret and checkpoints.
@Suite struct RegretTrackerTests {
    @Test func accumulatesAndCheckpoints() throws {
        var tracker = RegretTracker(plannedRounds: 100, checkpoints: 10)
        #expect(tracker.checkpointInterval == 10)
        for round in 1...95 {
            tracker.record(clicks: Double(round % 2), expected: 0.5, oracle: 0.75, impressions: 3)
        }
        #expect(tracker.rounds == 95 && tracker.impressions == 285)
        #expect(tracker.reward == 48 && tracker.expectedReward == 47.5 && tracker.oracleReward == 71.25)
        #expect(tracker.regret == 23.75)
        #expect(tracker.checkpoints.map(\.round) == [10, 20, 30, 40, 50, 60, 70, 80, 90])
        #expect(tracker.checkpoints[0].regret == 2.5)

        let summary = tracker.summary
        #expect(summary.checkpoints.map(\.round).last == 95, "the final round is added")
        #expect(summary.regret == 23.75 && summary.regretPerRound == 0.25)
        #expect(abs(summary.clickRate - 48.0 / 285) < 1e-12)
        #expect(summary.description.hasPrefix("rounds 95  impressions 285  clicks 48.0  expected 47.5  oracle 71.2"))
        #expect(summary.description.contains("  round 10: clicks 5.0  expected 5.0  oracle 7.5  regret 2.5"))
        let decoded = try JSONDecoder().decode(RegretSummary.self, from: JSONEncoder().encode(summary))
        #expect(decoded == summary)
    }

    @Test func emptyAndTinyRuns() {
        let empty = RegretTracker(plannedRounds: 0).summary
        #expect(empty.rounds == 0 && empty.checkpoints.isEmpty && empty.regretPerRound == 0 && empty.clickRate == 0)
        var tracker = RegretTracker(plannedRounds: 3, checkpoints: 10)
        #expect(tracker.checkpointInterval == 1)
        tracker.record(clicks: 1, expected: 0.2, oracle: 0.4, impressions: 1)
        #expect(tracker.summary.checkpoints.count == 1)
    }
}
