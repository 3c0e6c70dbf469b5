import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Whole clusters of real processes on loopback, driven through `tessera launch`.
@Suite(.serialized) struct LocalClusterTests {
    struct Summary: Decodable {
        struct Epoch: Decodable { var epoch: Int; var metrics: [String: Double] }
        var state: String
        var bestEpoch: Int
        var test: [String: Double]
        var popularity: [String: [String: Double]]
        var epochs: [Epoch]
        var examplesPerSecond: Double
    }

    @Test func twoShardsTwoWorkersBeatPopularity() async throws {
        let dir = try Harness.temporaryDirectory()
        let config = try Harness.writeConfig(in: dir)
        let launch = try Spawned(["launch", config, "--summary", "summary.json", "--export-recs", "recs.txt", "--run-dir", "run"],
                                 in: dir)
        let status = await launch.wait(timeout: .seconds(240))
        #expect(status == 0, "stdout:\n\(launch.stdout)\nstderr:\n\(launch.stderr)")
        #expect(Harness.children(of: launch.pid).isEmpty, "processes outlived the launcher")

        let summary = try JSONDecoder().decode(Summary.self, from: Data(contentsOf: dir.appendingPathComponent("summary.json")))
        #expect(summary.state == "finished")
        #expect(summary.epochs.count == 8)
        #expect(summary.examplesPerSecond > 0)
        let ndcg = try #require(summary.test["ndcg@10"])
        let popular = try #require(summary.popularity["test"]?["ndcg@10"])
        // A clear margin: at least 1.5x popularity and 0.03 absolute.
        #expect(ndcg > popular * 1.5 && ndcg > popular + 0.03, "BPR ndcg@10 \(ndcg) vs popularity \(popular)")

        // Progress and the final query reached the user.
        #expect(launch.stdout.contains("epoch 8/8"))
        #expect(launch.stdout.contains("query: Recommend(user"))

        // The exported lists, scored by `tessera eval` against the same split, give the summary's figures.
        let split = try Spawned(["split", config, "--out", "split"], in: dir)
        #expect(await split.wait(timeout: .seconds(60)) == 0)
        let eval = try Spawned(["eval", "--recs", "recs.txt", "--test", "split/test.csv", "--json"], in: dir)
        #expect(await eval.wait(timeout: .seconds(60)) == 0, "\(eval.stderr)")
        let metrics = try JSONDecoder().decode([String: Double].self, from: Data(eval.stdout.utf8))
        #expect(abs((metrics["ndcg@10"] ?? -1) - ndcg) < 1e-6)
        #expect(abs((metrics["recall@10"] ?? -1) - (summary.test["recall@10"] ?? -2)) < 1e-6)
        // Beyond accuracy: in the run's summary, and from a recommendations file with its training data.
        for key in ["coverage@10", "novelty@10", "diversity@10"] {
            #expect(summary.test[key] != nil, "the summary's test metrics lack \(key)")
        }
        let beyond = try Spawned(["eval", "--recs", "recs.txt", "--test", "split/test.csv", "--train", "split/train.csv", "--json"], in: dir)
        #expect(await beyond.wait(timeout: .seconds(60)) == 0, "\(beyond.stderr)")
        let extended = try JSONDecoder().decode([String: Double].self, from: Data(beyond.stdout.utf8))
        #expect((extended["coverage@10"] ?? 0) > 0 && (extended["coverage@10"] ?? 2) <= 1)
        #expect((extended["novelty@10"] ?? 0) > 0)
        #expect(extended["ndcg@10"] == metrics["ndcg@10"])
        let lines = try String(contentsOf: dir.appendingPathComponent("recs.txt"), encoding: .utf8).split(separator: "\n")
        #expect(lines.count == Int(metrics["users"] ?? 0) * 10)
    }

    @Test func asynchronousWorkersLearnToo() async throws {
        let dir = try Harness.temporaryDirectory()
        let config = try Harness.writeConfig(in: dir)
        let launch = try Spawned(["launch", config, "--set", "training.consistency=asp", "--summary", "summary.json",
                                  "--run-dir", "run"], in: dir)
        #expect(await launch.wait(timeout: .seconds(240)) == 0, "\(launch.stdout)\n\(launch.stderr)")
        #expect(launch.stdout.contains("ASP"))
        let summary = try JSONDecoder().decode(Summary.self, from: Data(contentsOf: dir.appendingPathComponent("summary.json")))
        let ndcg = try #require(summary.test["ndcg@10"])
        let popular = try #require(summary.popularity["test"]?["ndcg@10"])
        #expect(ndcg > popular * 1.5, "ASP ndcg@10 \(ndcg) vs popularity \(popular)")
        #expect(Harness.children(of: launch.pid).isEmpty)
    }

    /// Killed shards and workers are restarted (FailureClusterTests); a shard with no checkpoint to restore cannot be.
    @Test func aKilledShardWithoutACheckpointStopsTheClusterAndIsNamed() async throws {
        let dir = try Harness.temporaryDirectory()
        let config = try Harness.writeConfig(in: dir, epochs: 10_000, extra: "checkpoint: {every_epochs: 0}")
        let launch = try Spawned(["launch", config, "--run-dir", "run"], in: dir)
        #expect(await launch.waitForOutput("epoch 1/", timeout: .seconds(120)), "\(launch.stdout)\n\(launch.stderr)")
        let server = try #require(Harness.child(of: launch.pid, matching: ["server", "--id", "1"]))
        kill(server, SIGKILL)
        let status = await launch.wait(timeout: .seconds(60))
        #expect(status != 0)
        #expect(launch.stderr.contains("server 1 (pid \(server)) was killed by signal 9 (SIGKILL) (no checkpoint yet to restart it from)"),
                "\(launch.stderr)")
        #expect(Harness.children(of: launch.pid).isEmpty, "processes outlived the launcher")
    }

    @Test func servesQueriesUntilInterrupted() async throws {
        let dir = try Harness.temporaryDirectory()
        let config = try Harness.writeConfig(in: dir, epochs: 3)
        let launch = try Spawned(["launch", config, "--serve", "--run-dir", "run"], in: dir)
        #expect(await launch.waitForOutput("serving at", timeout: .seconds(180)), "\(launch.stdout)\n\(launch.stderr)")
        let address = try String(contentsOf: dir.appendingPathComponent("run/scheduler.address"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)

        let query = try Spawned(["query", "--scheduler", address, "--user", "7", "-k", "5"], in: dir)
        #expect(await query.wait(timeout: .seconds(30)) == 0, "\(query.stderr)")
        let rows = query.stdout.split(separator: "\n").filter { $0.trimmingCharacters(in: .whitespaces).first?.isNumber == true }
        #expect(rows.count == 5, "\(query.stdout)")
        #expect(query.stdout.contains("model version"))

        let unknown = try Spawned(["query", "--scheduler", address, "--user", "no-such-user", "-k", "3"], in: dir)
        #expect(await unknown.wait(timeout: .seconds(30)) == 0)
        #expect(unknown.stdout.contains("most popular"))

        let badK = try Spawned(["query", "--scheduler", address, "--user", "7", "-k", "0"], in: dir)
        #expect(await badK.wait(timeout: .seconds(30)) != 0)
        #expect(badK.stderr.contains("INVALID_ARGUMENT") && badK.stderr.contains("k:"), "\(badK.stderr)")

        if let python = PythonClient.interpreter {
            let output = try PythonClient.run(python: python, address: address, user: "7", k: 5, in: dir)
            let pythonItems = output.split(separator: "\n").filter { !$0.hasPrefix("#") }.map { String($0.split(separator: " ")[1]) }
            let swiftItems = rows.map { String($0.split(separator: " ", omittingEmptySubsequences: true)[1]) }
            #expect(pythonItems == swiftItems, "python:\n\(output)\nswift:\n\(query.stdout)")
        } else {
            Issue.record("no Python with grpcio (make test creates .venv); the Python client was not exercised")
        }

        launch.signal(SIGINT)
        let status = await launch.wait(timeout: .seconds(30))
        #expect(status == 130)
        #expect(Harness.children(of: launch.pid).isEmpty, "processes outlived the launcher")
    }

    @Test func aMalformedDataLineNamesFileAndLine() async throws {
        let dir = try Harness.temporaryDirectory()
        let config = try Harness.writeConfig(in: dir, epochs: 2)
        try "userId,movieId,rating,timestamp\n1,10,4.0,1\n1,11,four,2\n2,10,3.0,3\n"
            .write(to: dir.appendingPathComponent("ratings.csv"), atomically: true, encoding: .utf8)
        let launch = try Spawned(["launch", config, "--data", "ratings.csv", "--run-dir", "run"], in: dir)
        let status = await launch.wait(timeout: .seconds(60))
        #expect(status != 0)
        #expect((launch.stdout + launch.stderr).contains("ratings.csv:3:"), "\(launch.stdout)\n\(launch.stderr)")
        #expect(Harness.children(of: launch.pid).isEmpty)
    }

    @Test func aConfigErrorNamesTheKeyAndStartsNothing() async throws {
        let dir = try Harness.temporaryDirectory()
        let config = try Harness.writeConfig(in: dir, extra: "serving: {max_kk: 5}")
        let launch = try Spawned(["launch", config], in: dir)
        #expect(await launch.wait(timeout: .seconds(30)) != 0)
        #expect(launch.stderr.contains("serving.max_kk") && launch.stderr.contains("did you mean 'max_k'"), "\(launch.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("runs").path))
    }
}

/// The Python example client (examples/python), run with the venv `make test` prepares.
enum PythonClient {
    static var interpreter: String? {
        let candidates: [String?] = [ProcessInfo.processInfo.environment["TESSERA_PYTHON"],
                                     Harness.root.appendingPathComponent(".venv/bin/python").path]
        return candidates.compactMap { $0 }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static func run(python: String, address: String, user: String, k: Int, in directory: URL) throws -> String {
        try run(script: "examples/python/recommend.py", python: python,
                arguments: ["--scheduler", address, "--user", user, "-k", "\(k)"])
    }

    /// Runs a script of the repository with `python`; records a failure if it exits non-zero.
    static func run(script: String, python: String, arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [Harness.root.appendingPathComponent(script).path] + arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        #expect(process.terminationStatus == 0, "\(script) failed: \(String(decoding: errorData, as: UTF8.self))")
        return text
    }
}
