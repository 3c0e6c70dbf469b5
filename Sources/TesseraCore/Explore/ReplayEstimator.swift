import Foundation

/// One event of a log written by a uniformly random logging policy: the
/// user, the item shown (drawn uniformly from a fixed arm set) and the reward.
public struct LoggedEvent: Sendable, Hashable, Codable {
    public var user: UInt64
    public var item: UInt64
    /// 1 for a click, 0 for none (any real reward works).
    public var reward: Double

    public init(user: UInt64, item: UInt64, reward: Double) {
        self.user = user
        self.item = item
        self.reward = reward
    }
}

/// What replay found: the policy's estimated reward per event and how much evidence backs it.
public struct ReplayEstimate: Sendable, Hashable, Codable {
    /// Logged events offered.
    public var events: Int
    /// Events where the policy chose the logged item (about events / arms).
    public var matched: Int
    /// Σ reward over matched events.
    public var totalReward: Double
    /// totalReward / matched; nil before any match.
    public var value: Double?
    /// Standard error of `value`: sample standard deviation of the matched
    /// rewards / sqrt(matched); nil with fewer than 2 matches. For a learning
    /// policy the matched rewards are not independent, so read it as approximate.
    public var standardError: Double?
}

/// The replay (rejection-sampling) estimator of a policy's click rate on a
/// log from a uniformly random logging policy (Li, Chu, Langford, Wang, WSDM 2011).
///
/// Walk the log in order; for each event ask the evaluated policy for its
/// choice given the user. When it equals the logged item, count the reward
/// and let the policy learn from the event; otherwise skip the event as if it
/// never happened. The mean reward over matched events is an unbiased
/// estimate of the policy's per-event reward when the logged items were
/// uniform over the arm set and independent of everything else; about
/// `events / arms` events match. The policy must choose among the same arms.
public struct ReplayEstimator: Sendable {
    public private(set) var events = 0
    public private(set) var matched = 0
    public private(set) var totalReward = 0.0
    private var sumOfSquares = 0.0

    public init() {}

    /// Offers one logged event with the policy's `chosen` item; true when
    /// they match and the event counts (the caller then updates its policy).
    public mutating func record(_ event: LoggedEvent, chosen: UInt64) -> Bool {
        events += 1
        guard chosen == event.item else { return false }
        matched += 1
        totalReward += event.reward
        sumOfSquares += event.reward * event.reward
        return true
    }

    /// The estimate so far.
    public var estimate: ReplayEstimate {
        var result = ReplayEstimate(events: events, matched: matched, totalReward: totalReward, value: nil,
                                    standardError: nil)
        guard matched > 0 else { return result }
        let m = Double(matched)
        let mean = totalReward / m
        result.value = mean
        if matched > 1 {
            let variance = max(0, (sumOfSquares - m * mean * mean) / (m - 1))
            result.standardError = (variance / m).squareRoot()
        }
        return result
    }

    /// Replays `log` against a policy.
    ///
    /// - Parameters:
    ///   - choose: the policy's item for a user, given what it learned so far.
    ///   - update: called with (user, item, reward) after each matched event,
    ///     in log order; a non-learning policy ignores it.
    public static func evaluate(
        _ log: [LoggedEvent], choose: (_ user: UInt64) -> UInt64,
        update: (_ user: UInt64, _ item: UInt64, _ reward: Double) -> Void = { _, _, _ in }
    ) -> ReplayEstimate {
        var estimator = ReplayEstimator()
        for event in log where estimator.record(event, chosen: choose(event.user)) {
            update(event.user, event.item, event.reward)
        }
        return estimator.estimate
    }
}

extension SimulatedPopulation {
    /// A log of `events` events from the uniform logging policy: each event
    /// draws a user uniformly from `users`, an item uniformly from `arms`, and
    /// a click with the true probability (reward 1 or 0).
    /// - Throws: `ExplorationError` (`.invalidArgument`) when `arms` is empty
    ///   or names an item outside the population.
    public func uniformLog(events: Int, arms: [UInt64], using rng: inout SplitMix64) throws(ExplorationError)
        -> [LoggedEvent] {
        guard !arms.isEmpty else { throw ExplorationError(.invalidArgument, "the arm set is empty") }
        if let unknown = arms.first(where: { itemColumns[$0] == nil }) {
            throw ExplorationError(.invalidArgument, "arm \(unknown) is not an item of the population")
        }
        var log: [LoggedEvent] = []
        log.reserveCapacity(max(0, events))
        for _ in 0..<max(0, events) {
            let user = users[rng.nextInt(below: users.count)]
            let item = arms[rng.nextInt(below: arms.count)]
            let click = rng.nextUnitDouble() < (clickProbability(user: user, item: item) ?? 0)
            log.append(LoggedEvent(user: user, item: item, reward: click ? 1 : 0))
        }
        return log
    }

    /// The true per-event click rate of a fixed policy when users come
    /// uniformly from `users`: the mean over users of p(user, choose(user)).
    /// This is what replay estimates for a non-learning policy.
    public func clickRate(of choose: (_ user: UInt64) -> UInt64) -> Double {
        users.reduce(0) { $0 + (clickProbability(user: $1, item: choose($1)) ?? 0) } / Double(users.count)
    }
}
