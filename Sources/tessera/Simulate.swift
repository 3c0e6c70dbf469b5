import ArgumentParser
import Foundation
import TesseraBench
import TesseraCore

struct Simulate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure exploration policies on a live cluster with a simulated population of known preferences.",
        discussion: """
            For each policy a fresh cluster (from the config, synthetic data with new items) trains, \
            then a population whose true click probabilities are known asks Recommend over gRPC, \
            clicks, and sends impressions and clicks back as Feedback, for --rounds rounds. Reports \
            cumulative reward and regret against the best possible lists. With --replay-events, also \
            the replay (rejection-sampling) estimate of each policy's click rate on a uniformly logged stream.
            """)

    @OptionGroup var config: ConfigOptions

    @Option(help: "Policies, comma-separated.")
    var policies = "greedy,epsilon_greedy,ucb,thompson"

    @Option(help: "Recommend calls per policy.")
    var rounds = 2000

    @Option(name: .short, help: "Items per Recommend.")
    var k = 5

    @Option(help: "How much better (preference units) new items truly are than their empty history says.")
    var newItemBoost: Float = 8

    @Option(help: "Logged events for the replay estimator (0 skips it).")
    var replayEvents = 0

    @Option(help: "Seed of users, clicks and logs.")
    var seed: UInt64 = 1

    @Option(help: "Write the results as JSON.")
    var json: String?

    @Option(help: "Folder for the clusters' logs (default runs/simulate-TIME).")
    var runDir: String?

    func run() async throws {
        var settings = Simulation.Settings(
            configPath: absolute(config.config),
            executable: URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path,
            runDirectory: absolute(runDir ?? "runs/simulate-\(Int(Date().timeIntervalSince1970))"))
        settings.overrides = try config.overrides()
        settings.policies = try policies.split(separator: ",").map { name in
            do {
                return try ExplorationPolicy(parsing: String(name).trimmingCharacters(in: .whitespaces))
            } catch let error as ExplorationError {
                throw ValidationError("--policies: \(error.message)")
            }
        }
        settings.rounds = max(1, rounds)
        settings.k = max(1, k)
        settings.newItemBoost = newItemBoost
        settings.replayEvents = max(0, replayEvents)
        settings.seed = seed
        let results = try await Simulation(settings: settings).run { print($0) }
        print("")
        print("policy           rounds   clicks  expected    oracle    regret  regret/round  explored  replay CTR")
        for result in results {
            let r = result.regret
            var replay = "-"
            if let estimate = result.replay, let value = estimate.value {
                replay = String(format: "%.4f ± %.4f (%d matched)", value, estimate.standardError ?? 0, estimate.matched)
            }
            print(result.policy.padding(toLength: 15, withPad: " ", startingAt: 0)
                  + String(format: " %7d %8.0f %9.1f %9.1f %9.1f %13.3f %8.1f%%  ", r.rounds, r.reward, r.expectedReward,
                           r.oracleReward, r.regret, r.regretPerRound, 100 * result.exploredShare) + replay)
        }
        if let json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(results).write(to: URL(fileURLWithPath: json))
        }
    }
}
