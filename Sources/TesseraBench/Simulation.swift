import Foundation
import TesseraCore
import TesseraLauncher
import TesseraRPC

/// `tessera simulate`: a synthetic population with known preferences uses a
/// live cluster over gRPC — Recommend, then impressions and clicks as
/// Feedback — and the cumulative reward and regret of each exploration policy
/// are measured side by side, each policy on a fresh cluster trained the same
/// way. Optionally also the replay estimate of each policy's click rate on a
/// log written by a uniformly random policy (Li et al., WSDM 2011).
public struct Simulation: Sendable {
    public struct Settings: Sendable {
        /// The cluster config (must use synthetic data: the population is its generator).
        public var configPath: String
        public var overrides: [ConfigOverride] = []
        /// The `tessera` binary.
        public var executable: String
        /// Folder for every cluster's logs.
        public var runDirectory: String
        public var policies: [ExplorationPolicy] = ExplorationPolicy.allCases
        /// Recommend calls (rounds) per policy.
        public var rounds = 2000
        /// Items per Recommend.
        public var k = 5
        /// Preference units added to the new items' true preference: how much
        /// better fresh items are than their (absent) history suggests.
        public var newItemBoost: Float = 8
        /// Seed of users, clicks and the replay log.
        public var seed: UInt64 = 1
        /// Logged events for the replay estimator; 0 skips it.
        public var replayEvents = 0
        /// Arms of the uniform logging policy: the new items plus this many others.
        public var replayOtherArms = 15

        public init(configPath: String, executable: String, runDirectory: String) {
            self.configPath = configPath
            self.executable = executable
            self.runDirectory = runDirectory
        }
    }

    /// One policy's outcome.
    public struct PolicyResult: Codable, Sendable {
        public var policy: String
        public var regret: RegretSummary
        /// Share of shown items the policy marked explored.
        public var exploredShare: Double
        /// Share of impressions that went to new items, and their click rate.
        public var newItemShare: Double
        public var newItemClickRate: Double
        public var replay: ReplayEstimate?
        public var seconds: Double
    }

    public let settings: Settings

    public init(settings: Settings) {
        self.settings = settings
    }

    /// Runs every policy; `progress` gets a line at each step.
    public func run(progress: @Sendable (String) -> Void) async throws -> [PolicyResult] {
        let config = try ClusterConfig.load(path: settings.configPath, overrides: settings.overrides)
        guard config.data.mode == .synthetic else {
            throw LaunchError("simulate needs synthetic data (its generator is the simulated population); the config reads \(config.data.path ?? config.data.train ?? "files")")
        }
        let spec = config.data.synthetic
        guard spec.newItems > 0 else {
            throw LaunchError("simulate needs new items to explore: set data.synthetic.new_items (e.g. --set data.synthetic.new_items=5)")
        }
        progress("population: \(spec.users) users, \(spec.items) items, of which \(spec.newItems) new (no history, true preference +\(settings.newItemBoost))")
        let generator = try SyntheticGenerator(spec: spec)
        let population = try Self.population(generator: generator, boost: settings.newItemBoost)
        let data = try PreparedData.load(config.data, split: config.split, heldOut: false)
        var trainItems: [UInt64: Set<UInt64>] = [:]
        for interaction in data.train { trainItems[interaction.user, default: []].insert(interaction.item) }

        var results: [PolicyResult] = []
        for policy in settings.policies {
            let started = ContinuousClock.now
            progress("\(policy.rawValue): launching a fresh cluster")
            var result = try await withCluster(config: config, tag: "\(policy.rawValue)-regret") { address, security in
                try await regret(policy: policy, address: address, security: security, population: population, trainItems: trainItems,
                                 users: (1...UInt64(spec.users)).map { $0 }, isNew: spec.isNew(item:), progress: progress)
            }
            if settings.replayEvents > 0 {
                result.replay = try await withCluster(config: config, tag: "\(policy.rawValue)-replay") { address, security in
                    try await replay(policy: policy, address: address, security: security, population: population, spec: spec)
                }
            }
            result.seconds = (ContinuousClock.now - started).seconds
            progress("\(policy.rawValue): regret \(String(format: "%.1f", result.regret.regret)), clicks \(Int(result.regret.reward)), explored \(String(format: "%.1f%%", 100 * result.exploredShare)), new items \(String(format: "%.1f%% of impressions, CTR %.3f", 100 * result.newItemShare, result.newItemClickRate))" + (result.replay.flatMap { $0.value }.map { String(format: ", replay CTR %.4f", $0) } ?? ""))
            results.append(result)
        }
        return results
    }

    /// The generator's planted preferences, with the new items made `boost` better.
    static func population(generator: SyntheticGenerator, boost: Float) throws -> SimulatedPopulation {
        let spec = generator.spec
        let users = (1...UInt64(spec.users)).map { $0 }
        let items = (1...UInt64(spec.items)).map { $0 }
        var preferences: [Float] = []
        preferences.reserveCapacity(users.count * items.count)
        for user in users {
            guard var row = generator.preferenceScores(user: user) else { continue }
            for (index, item) in items.enumerated() where spec.isNew(item: item) { row[index] += boost }
            preferences += row
        }
        return try SimulatedPopulation(users: users, items: items, preferences: preferences)
    }

    private func withCluster<R: Sendable>(config: ClusterConfig, tag: String,
                                          _ body: (String, ClientSecurity) async throws -> R) async throws -> R {
        let plan = Launcher.Plan(executable: settings.executable, configPath: settings.configPath,
                                 overrides: settings.overrides + [ConfigOverride(path: "scheduler.port", value: "0")],
                                 config: config, runDirectory: "\(settings.runDirectory)/\(tag)")
        let cluster = try await LocalCluster.start(plan)
        do {
            let result = try await body(cluster.address, cluster.security)
            await cluster.stop()
            return result
        } catch {
            await cluster.stop()
            throw error
        }
    }

    /// Rounds of Recommend → clicks → Feedback; regret against the best k eligible items.
    private func regret(policy: ExplorationPolicy, address: String, security: ClientSecurity, population: SimulatedPopulation,
                        trainItems: [UInt64: Set<UInt64>], users: [UInt64], isNew: (UInt64) -> Bool,
                        progress: @Sendable (String) -> Void) async throws -> PolicyResult {
        let client = InferenceClient(channel: try GRPCChannel(target: address, security: security))
        var tracker = RegretTracker(plannedRounds: settings.rounds)
        var userRNG = SplitMix64(seed: Hashing.combine(settings.seed, 1))
        var clickRNG = SplitMix64(seed: Hashing.combine(settings.seed, 2))
        var clicked: [UInt64: Set<UInt64>] = [:]
        var explored = 0, shown = 0, newShown = 0, newClicks = 0
        for round in 1...settings.rounds {
            let user = users[userRNG.nextInt(below: users.count)]
            var request = Tessera_V1_RecommendRequest()
            request.userID = String(user)
            request.k = UInt32(settings.k)
            request.policy = policy.rawValue
            request.seed = Hashing.combine(settings.seed, UInt64(round))
            let response = try await client.recommend(request, options: CallOptions(timeout: .seconds(10)))
            let items = response.items.compactMap { UInt64($0.itemID) }
            explored += response.items.filter(\.explored).count
            shown += items.count
            let seen = (trainItems[user] ?? []).union(clicked[user] ?? [])
            let oracle = population.oracle(user: user, k: settings.k, excluding: seen)
            let clicks = population.drawClicks(user: user, shown: items, using: &clickRNG)
            tracker.record(clicks: Double(clicks.filter { $0 }.count), expected: population.expectedClicks(user: user, shown: items),
                           oracle: oracle.expectedClicks, impressions: items.count)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (item, click) in zip(items, clicks) {
                    group.addTask { try await Self.feedback(client, user: user, item: item, event: .impression) }
                    if click { group.addTask { try await Self.feedback(client, user: user, item: item, event: .click) } }
                }
                try await group.waitForAll()
            }
            for (item, click) in zip(items, clicks) where click { clicked[user, default: []].insert(item) }
            for (item, click) in zip(items, clicks) where isNew(item) {
                newShown += 1
                if click { newClicks += 1 }
            }
            if round % max(1, settings.rounds / 5) == 0 {
                progress("  \(policy.rawValue): round \(round)/\(settings.rounds), regret \(String(format: "%.1f", tracker.regret))")
            }
        }
        return PolicyResult(policy: policy.rawValue, regret: tracker.summary,
                            exploredShare: shown > 0 ? Double(explored) / Double(shown) : 0,
                            newItemShare: shown > 0 ? Double(newShown) / Double(shown) : 0,
                            newItemClickRate: newShown > 0 ? Double(newClicks) / Double(newShown) : 0, replay: nil, seconds: 0)
    }

    /// The replay estimate of `policy`'s click rate on a uniformly logged stream over a fixed arm set.
    private func replay(policy: ExplorationPolicy, address: String, security: ClientSecurity, population: SimulatedPopulation,
                        spec: SyntheticSpec) async throws -> ReplayEstimate {
        var rng = SplitMix64(seed: Hashing.combine(settings.seed, 3))
        let newItems = (1...UInt64(spec.items)).filter { spec.isNew(item: $0) }
        var others = (1...UInt64(spec.items)).filter { !spec.isNew(item: $0) }
        for i in stride(from: others.count - 1, to: 0, by: -1) { others.swapAt(i, rng.nextInt(below: i + 1)) }
        let arms = newItems + others.prefix(settings.replayOtherArms)
        let armSet = Set(arms)
        let outside = (1...UInt64(spec.items)).filter { !armSet.contains($0) }.map { String($0) }
        let log = try population.uniformLog(events: settings.replayEvents, arms: arms, using: &rng)
        let client = InferenceClient(channel: try GRPCChannel(target: address, security: security))
        var estimator = ReplayEstimator()
        for (index, event) in log.enumerated() {
            var request = Tessera_V1_RecommendRequest()
            request.userID = String(event.user)
            request.k = 1
            request.policy = policy.rawValue
            request.excludeItemIds = outside
            request.includeSeen = true  // the log may show a user an item again
            request.seed = Hashing.combine(settings.seed, UInt64(1_000_000 + index))
            let response = try await client.recommend(request, options: CallOptions(timeout: .seconds(10)))
            guard let chosen = response.items.first.flatMap({ UInt64($0.itemID) }) else { continue }
            if estimator.record(event, chosen: chosen) {
                try await Self.feedback(client, user: event.user, item: event.item, event: .impression)
                if event.reward > 0 { try await Self.feedback(client, user: event.user, item: event.item, event: .click) }
            }
        }
        return estimator.estimate
    }

    private static func feedback(_ client: InferenceClient, user: UInt64, item: UInt64, event: Tessera_V1_FeedbackType) async throws {
        var request = Tessera_V1_FeedbackRequest()
        request.userID = String(user)
        request.itemID = String(item)
        request.event = event
        _ = try await client.feedback(request, options: CallOptions(timeout: .seconds(10)))
    }
}
