import Foundation

/// Cumulative reward and regret of an exploration run, round by round.
///
/// Each round the caller records the clicks it drew (realised reward), the
/// expected clicks of the list it showed (Σ true p) and the oracle's expected
/// clicks (`SimulatedPopulation.oracle`). Regret is the pseudo-regret
/// `Σ oracle − Σ expected`: it does not carry the noise of the click draws.
/// Checkpoints of the cumulative figures are kept every
/// `checkpointInterval` rounds. A value type; O(checkpoints) memory.
public struct RegretTracker: Sendable {
    /// Cumulative figures after `round` rounds.
    public struct Checkpoint: Sendable, Hashable, Codable {
        public var round: Int
        /// Clicks drawn.
        public var reward: Double
        /// Σ expected clicks of the shown lists.
        public var expectedReward: Double
        /// Σ expected clicks of the oracle lists.
        public var oracleReward: Double
        /// oracleReward − expectedReward.
        public var regret: Double { oracleReward - expectedReward }
    }

    /// Rounds between checkpoints (≥ 1).
    public let checkpointInterval: Int
    public private(set) var rounds = 0
    /// Items shown, over all rounds.
    public private(set) var impressions = 0
    public private(set) var reward = 0.0
    public private(set) var expectedReward = 0.0
    public private(set) var oracleReward = 0.0
    public private(set) var checkpoints: [Checkpoint] = []

    /// - Parameters:
    ///   - plannedRounds: rounds the run will take; with `checkpoints` it sets
    ///     the interval `max(1, plannedRounds / checkpoints)`.
    ///   - checkpoints: how many checkpoints to keep over the planned rounds.
    public init(plannedRounds: Int, checkpoints: Int = 10) {
        checkpointInterval = max(1, plannedRounds / max(1, checkpoints))
    }

    /// oracleReward − expectedReward so far.
    public var regret: Double { oracleReward - expectedReward }

    /// Records one round: `clicks` drawn on `impressions` shown items whose
    /// expected clicks were `expected`, against the oracle's `oracle`.
    public mutating func record(clicks: Double, expected: Double, oracle: Double, impressions: Int) {
        rounds += 1
        self.impressions += impressions
        reward += clicks
        expectedReward += expected
        oracleReward += oracle
        if rounds % checkpointInterval == 0 { checkpoints.append(current) }
    }

    private var current: Checkpoint {
        Checkpoint(round: rounds, reward: reward, expectedReward: expectedReward, oracleReward: oracleReward)
    }

    /// Final figures and the checkpoints (the final round included once).
    public var summary: RegretSummary {
        var points = checkpoints
        if points.last?.round != rounds && rounds > 0 { points.append(current) }
        return RegretSummary(rounds: rounds, impressions: impressions, reward: reward, expectedReward: expectedReward,
                             oracleReward: oracleReward, checkpoints: points)
    }
}

/// The outcome of an exploration run: final cumulative figures and checkpoints.
public struct RegretSummary: Sendable, Hashable, Codable, CustomStringConvertible {
    public var rounds: Int
    public var impressions: Int
    public var reward: Double
    public var expectedReward: Double
    public var oracleReward: Double
    public var checkpoints: [RegretTracker.Checkpoint]

    /// oracleReward − expectedReward.
    public var regret: Double { oracleReward - expectedReward }
    /// Regret per round (0 before any round).
    public var regretPerRound: Double { rounds > 0 ? regret / Double(rounds) : 0 }
    /// Realised clicks per impression (0 before any impression).
    public var clickRate: Double { impressions > 0 ? reward / Double(impressions) : 0 }

    /// A compact report: one line of totals, then `round reward expected oracle regret` per checkpoint.
    public var description: String {
        var lines = ["rounds \(rounds)  impressions \(impressions)  clicks \(Self.format(reward))  "
            + "expected \(Self.format(expectedReward))  oracle \(Self.format(oracleReward))  "
            + "regret \(Self.format(regret)) (\(Self.format(regretPerRound, digits: 4))/round)"]
        for point in checkpoints {
            lines.append("  round \(point.round): clicks \(Self.format(point.reward))  expected "
                + "\(Self.format(point.expectedReward))  oracle \(Self.format(point.oracleReward))  "
                + "regret \(Self.format(point.regret))")
        }
        return lines.joined(separator: "\n")
    }

    private static func format(_ value: Double, digits: Int = 1) -> String {
        String(format: "%.\(digits)f", value)
    }
}
