import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The larger models (SASRec, two-tower, multi-scenario) trained by real clusters through
/// `tessera launch`, evaluated, and served.
@Suite(.serialized) struct ModelClusterTests {
    struct Summary: Decodable {
        struct Epoch: Decodable { var epoch: Int; var metrics: [String: Double] }
        var state: String
        var test: [String: Double]
        var popularity: [String: [String: Double]]
        var testByPart: [String: [String: Double]]
        var popularityByPart: [String: [String: Double]]
        var testTwoStage: [String: Double]?
        var epochs: [Epoch]
    }

    /// Users walking a cycle of `items` items (next = current + 1 with probability 0.9): a
    /// sequential signal popularity cannot see. One `user item` line per step, in time order.
    static func writeCycles(to path: URL, users: Int = 400, items: Int = 60) throws {
        var rng = Seeded(state: 20_261_123)
        var text = ""
        for user in 1...users {
            var item = Int.random(in: 0..<items, using: &rng)
            for _ in 0..<Int.random(in: 8...16, using: &rng) {
                text += "u\(user) i\(item)\n"
                item = Double.random(in: 0..<1, using: &rng) < 0.1 ? Int.random(in: 0..<items, using: &rng) : (item + 1) % items
            }
        }
        try text.write(to: path, atomically: true, encoding: .utf8)
    }

    /// SplitMix64, so the data (and what the model learns from it) is the same every run.
    struct Seeded: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static func config(in dir: URL, _ body: String) throws -> String {
        let path = dir.appendingPathComponent("cluster.yaml").path
        try """
            name: test
            scheduler: {host: 127.0.0.1, port: 0, heartbeat_interval: 0.2, heartbeat_timeout: 5}
            shards: 2
            workers: 2
            \(body)
            """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static func summary(_ dir: URL) throws -> Summary {
        try JSONDecoder().decode(Summary.self, from: Data(contentsOf: dir.appendingPathComponent("summary.json")))
    }

    @Test func sasrecLearnsSequencesAndAnswersFromRecentItems() async throws {
        let dir = try Harness.temporaryDirectory()
        try Self.writeCycles(to: dir.appendingPathComponent("cycles.txt"))
        let config = try Self.config(in: dir, """
            data: {path: cycles.txt, format: pairs}
            split: {method: leave_one_out}
            model: {kind: sasrec, sequence: {max_length: 16, blocks: 1, heads: 2, dropout: 0.1}}
            tables:
              - {name: item, dim: 16, optimizer: {kind: adam, learning_rate: 0.01}, init: {kind: normal, std: 0.05}}
              - {name: dense, dim: 256, optimizer: {kind: adam, learning_rate: 0.01}, init: {kind: zeros}}
            training: {epochs: 12, batch_size: 64, patience: 0, progress_interval: 1}
            evaluation: {protocol: sampled, negatives: 50}
            """)
        let launch = try Spawned(["launch", config, "--serve", "--summary", "summary.json", "--run-dir", "run"], in: dir)
        defer { launch.killTree() }
        #expect(await launch.waitForOutput("serving at", timeout: .seconds(240)), "\(launch.stdout)\n\(launch.stderr)")
        let summary = try Self.summary(dir)
        let hit = try #require(summary.test["hit@10"]), popular = try #require(summary.popularity["test"]?["hit@10"])
        // Popularity is flat on a cycle (HR@10 near 10/51); the encoder learns the successor.
        #expect(hit > 0.8 && hit > popular + 0.4, "SASRec hit@10 \(hit) vs popularity \(popular)")
        #expect(launch.stdout.contains("valid hit@10"))

        // Recommend from recent items alone: after i20 i21 i22 comes i23 (near the top; the
        // cycle is noisy and training short, so not necessarily first).
        let address = try String(contentsOf: dir.appendingPathComponent("run/scheduler.address"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let query = try Spawned(["query", "--scheduler", address, "--recent", "i20", "--recent", "i21", "--recent", "i22",
                                 "-k", "3", "--json"], in: dir)
        #expect(await query.wait(timeout: .seconds(30)) == 0, "\(query.stderr)")
        let response = try JSONSerialization.jsonObject(with: Data(query.stdout.utf8)) as? [String: Any]
        let items = (response?["items"] as? [[String: Any]] ?? []).compactMap { $0["itemId"] as? String }
        #expect(items.count == 3 && items.contains("i23"), "\(query.stdout)")
        #expect(!items.contains("i22") && !items.contains("i21"), "recent items are excluded: \(items)")

        // Unknown recent items only: no query vector, popular items instead.
        let unknown = try Spawned(["query", "--scheduler", address, "--recent", "nope", "-k", "3"], in: dir)
        #expect(await unknown.wait(timeout: .seconds(30)) == 0, "\(unknown.stderr)")
        #expect(unknown.stdout.contains("most popular"), "\(unknown.stdout)")

        launch.signal(SIGINT)
        #expect(await launch.wait(timeout: .seconds(30)) == 130)
        #expect(Harness.children(of: launch.pid).isEmpty, "processes outlived the launcher")
    }

    @Test func twoTowerWithItemFeaturesTrainsAndServesPublishedVectors() async throws {
        let dir = try Harness.temporaryDirectory()
        // Features: each synthetic item's id modulo 5 as its genre.
        let features = "movieId,genres\n" + (1...300).map { "\($0),g\($0 % 5)|h\($0 % 3)" }.joined(separator: "\n") + "\n"
        try features.write(to: dir.appendingPathComponent("items.csv"), atomically: true, encoding: .utf8)
        let config = try Self.config(in: dir, """
            data:
              synthetic: {users: 600, items: 300, interactions_per_user: 25, seed: 3}
              item_features: {path: items.csv}
            model:
              kind: two_tower
              negatives: 0
              towers: {user_hidden: [32], item_hidden: [32], output_dim: 16}
            tables:
              - {name: user, dim: 16, optimizer: {kind: adam, learning_rate: 0.01}}
              - {name: item, dim: 16, optimizer: {kind: adam, learning_rate: 0.01}}
              - {name: feature, dim: 16, optimizer: {kind: adam, learning_rate: 0.01}}
              - {name: dense, dim: 512, optimizer: {kind: adam, learning_rate: 0.01}, init: {kind: zeros}}
              - {name: item_vectors, dim: 16, init: {kind: zeros}}
            training: {epochs: 8, batch_size: 256, patience: 0, progress_interval: 1}
            """)
        let launch = try Spawned(["launch", config, "--serve", "--summary", "summary.json", "--run-dir", "run"], in: dir)
        defer { launch.killTree() }
        #expect(await launch.waitForOutput("serving at", timeout: .seconds(240)), "\(launch.stdout)\n\(launch.stderr)")
        let summary = try Self.summary(dir)
        let ndcg = try #require(summary.test["ndcg@10"]), popular = try #require(summary.popularity["test"]?["ndcg@10"])
        #expect(ndcg > popular * 1.5, "two-tower ndcg@10 \(ndcg) vs popularity \(popular)")

        // Serving scores the published item-tower outputs: a known user gets model scores.
        let address = try String(contentsOf: dir.appendingPathComponent("run/scheduler.address"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let query = try Spawned(["query", "--scheduler", address, "--user", "7", "-k", "5", "--json"], in: dir)
        #expect(await query.wait(timeout: .seconds(30)) == 0, "\(query.stderr)")
        let response = try JSONSerialization.jsonObject(with: Data(query.stdout.utf8)) as? [String: Any]
        let items = response?["items"] as? [[String: Any]] ?? []
        #expect(items.count == 5, "\(query.stdout)")
        #expect(response?["popularityFallback"] == nil, "user 7 is known: \(query.stdout)")
        #expect(items.allSatisfy { ($0["modelScore"] as? Double ?? 0) != 0 }, "\(query.stdout)")

        launch.signal(SIGINT)
        #expect(await launch.wait(timeout: .seconds(30)) == 130)
        #expect(Harness.children(of: launch.pid).isEmpty, "processes outlived the launcher")
    }

    @Test func multiScenarioModelReportsEveryScenario() async throws {
        let dir = try Harness.temporaryDirectory()
        let config = try Self.config(in: dir, """
            data:
              synthetic: {users: 600, items: 200, interactions_per_user: 24, scenarios: 3, scenario_strength: 3, seed: 42}
            model:
              kind: multi_scenario
              l2: 0.3
              negatives: 0
              scenarios: {topology: star}
              towers: {normalize: false, temperature: 1}
            tables:
              - {name: user, dim: 16, optimizer: {kind: adam, learning_rate: 0.01}}
              - {name: item, dim: 20, optimizer: {kind: adam, learning_rate: 0.01}}
              - {name: dense, dim: 512, optimizer: {kind: adam, learning_rate: 0.01}, init: {kind: zeros}}
            training: {epochs: 5, batch_size: 128, patience: 0, progress_interval: 1}
            """)
        let launch = try Spawned(["launch", config, "--serve", "--summary", "summary.json", "--run-dir", "run"], in: dir)
        defer { launch.killTree() }
        #expect(await launch.waitForOutput("serving at", timeout: .seconds(240)), "\(launch.stdout)\n\(launch.stderr)")
        // One model serves every scenario: the same user gets a scenario's own list.
        let address = try String(contentsOf: dir.appendingPathComponent("run/scheduler.address"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        var lists: [[String]] = []
        for scenario in ["scenario-0", "scenario-2"] {
            let query = try Spawned(["query", "--scheduler", address, "--user", "7", "--scenario", scenario, "-k", "10", "--json"], in: dir)
            #expect(await query.wait(timeout: .seconds(30)) == 0, "\(query.stderr)")
            let response = try JSONSerialization.jsonObject(with: Data(query.stdout.utf8)) as? [String: Any]
            lists.append((response?["items"] as? [[String: Any]] ?? []).compactMap { $0["itemId"] as? String })
        }
        #expect(lists.allSatisfy { $0.count == 10 } && lists[0] != lists[1], "scenario lists: \(lists)")
        let unknown = try Spawned(["query", "--scheduler", address, "--user", "7", "--scenario", "nowhere"], in: dir)
        #expect(await unknown.wait(timeout: .seconds(30)) != 0)
        #expect(unknown.stderr.contains("INVALID_ARGUMENT") && unknown.stderr.contains("scenario"), "\(unknown.stderr)")
        launch.signal(SIGINT)
        #expect(await launch.wait(timeout: .seconds(30)) == 130)

        let summary = try Self.summary(dir)
        #expect(Set(summary.testByPart.keys) == ["test/scenario-0", "test/scenario-1", "test/scenario-2"], "\(summary.testByPart.keys)")
        let parts = summary.testByPart.values.compactMap { $0["ndcg@10"] }
        let mean = parts.reduce(0, +) / Double(parts.count)
        #expect(abs(mean - (summary.test["ndcg@10"] ?? -1)) < 1e-9, "the test metric is the mean over scenarios")
        for (part, metrics) in summary.testByPart {
            let popular = try #require(summary.popularityByPart[part]?["ndcg@10"])
            #expect((metrics["ndcg@10"] ?? 0) > popular * 1.5, "\(part): \(metrics) vs popularity \(popular)")
        }
        #expect(launch.stdout.contains("test scenario-1 (epoch"))
    }

    @Test func rankingStageIsFittedOnValidationCandidatesAndJudgedOnTest() async throws {
        let dir = try Harness.temporaryDirectory()
        let config = try Self.config(in: dir, """
            data:
              synthetic: {users: 600, items: 300, interactions_per_user: 25, seed: 3}
            model: {kind: bpr_mf, negatives: 4}
            tables:
              - {name: user, dim: 16, optimizer: {kind: adagrad, learning_rate: 0.1}}
              - {name: item, dim: 16, optimizer: {kind: adagrad, learning_rate: 0.1}}
              - {name: dense, dim: 256, optimizer: {kind: adam, learning_rate: 0.003}, init: {kind: zeros}}
            ranking: {enabled: true, candidates: 50, epochs: 3, hidden: [16]}
            training: {epochs: 4, batch_size: 512, patience: 0}
            """)
        let launch = try Spawned(["launch", config, "--summary", "summary.json", "--run-dir", "run"], in: dir)
        #expect(await launch.wait(timeout: .seconds(240)) == 0, "\(launch.stdout)\n\(launch.stderr)")
        let fitted = launch.stdout.split(separator: "\n").first { $0.hasPrefix("ranking stage: fitted on") }
        #expect(fitted?.contains("validation users' top 50") == true && fitted?.contains("kept epoch") == true, "\(launch.stdout)")
        let summary = try Self.summary(dir)
        let twoStage = try #require(summary.testTwoStage?["ndcg@10"], "no two-stage metrics: \(launch.stdout)")
        let popular = try #require(summary.popularity["test"]?["ndcg@10"])
        #expect(twoStage > popular * 1.2, "two-stage ndcg@10 \(twoStage) vs popularity \(popular)")
        #expect(launch.stdout.contains("test, retrieval + ranking of the top 50"))
    }

    @Test func evaluationEveryNEpochsSkipsTheOthersButAlwaysTheLast() async throws {
        let dir = try Harness.temporaryDirectory()
        let config = try Harness.writeConfig(in: dir, epochs: 5, extra: "evaluation: {every: 2}")
        let launch = try Spawned(["launch", config, "--summary", "summary.json", "--run-dir", "run"], in: dir)
        #expect(await launch.wait(timeout: .seconds(240)) == 0, "\(launch.stdout)\n\(launch.stderr)")
        let summary = try Self.summary(dir)
        #expect(summary.epochs.map(\.epoch) == [1, 2, 3, 4, 5])
        #expect(summary.epochs.map { !$0.metrics.isEmpty } == [false, true, false, true, true], "\(summary.epochs.map(\.metrics))")
        #expect(launch.stdout.contains("(evaluated every 2 epochs)"))
    }

    @Test func misconfiguredModelsAreRefusedWithTheKey() async throws {
        let dir = try Harness.temporaryDirectory()
        let config = try Self.config(in: dir, """
            data: {synthetic: {users: 100, items: 50, scenarios: 3}}
            model: {kind: multi_scenario}
            tables:
              - {name: user, dim: 16}
              - {name: item, dim: 16}
              - {name: dense, dim: 256}
            """)
        let launch = try Spawned(["launch", config, "--run-dir", "run"], in: dir)
        #expect(await launch.wait(timeout: .seconds(60)) != 0)
        #expect(launch.stderr.contains("'item' needs dim 20"), "\(launch.stderr)")
    }
}
