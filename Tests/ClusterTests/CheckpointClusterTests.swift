import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Checkpoints taken by a running cluster, and jobs resumed from them with the same or
/// another number of shards, through `tessera launch`.
@Suite(.serialized) struct CheckpointClusterTests {
    struct Record: Decodable {
        var epoch: Int
        var shards: Int
        var rows: Int
    }

    /// The config path and the run's standard output.
    static func firstRun(in dir: URL, epochs: Int = 4) async throws -> (config: String, stdout: String) {
        let config = try Harness.writeConfig(in: dir, epochs: epochs, extra: "checkpoint: {every_epochs: 2, full_every: 2}")
        let launch = try Spawned(["launch", config, "--run-dir", "run1"], in: dir)
        #expect(await launch.wait(timeout: .seconds(240)) == 0, "\(launch.stdout)\n\(launch.stderr)")
        #expect(launch.stdout.contains("checkpoint after epoch 2") && launch.stdout.contains("(full)"), "\(launch.stdout)")
        #expect(launch.stdout.contains("checkpoint after epoch 4"), "\(launch.stdout)")
        let record = try JSONDecoder().decode(Record.self, from: Data(contentsOf: dir.appendingPathComponent("run1/checkpoints/job.json")))
        #expect(record.epoch == epochs && record.shards == 2 && record.rows > 0)
        return (config, launch.stdout)
    }

    static func epochLosses(_ stdout: String) -> [Int: Double] {
        var losses: [Int: Double] = [:]
        for line in stdout.split(separator: "\n") where line.hasPrefix("epoch ") {
            let words = line.split(separator: " ", omittingEmptySubsequences: true)
            guard words.count > 3, let epoch = Int(words[1].split(separator: "/")[0]), let loss = Double(words[3]) else { continue }
            losses[epoch] = loss
        }
        return losses
    }

    @Test(arguments: [4, 1])
    func resumeWithAnotherShardCountMovesRowsAndContinues(shards: Int) async throws {
        let dir = try Harness.temporaryDirectory()
        let (config, first) = try await Self.firstRun(in: dir)
        let resumed = try Spawned(["launch", config, "--resume", "run1/checkpoints", "--set", "shards=\(shards)",
                                   "--set", "training.epochs=6", "--run-dir", "run2"], in: dir)
        #expect(await resumed.wait(timeout: .seconds(240)) == 0, "\(resumed.stdout)\n\(resumed.stderr)")
        let out = resumed.stdout
        #expect(out.contains("resharding") && out.contains("from 2 to \(shards) shards"), "\(out)")
        // Every row arrives bit for bit: the launcher refuses to go on otherwise.
        #expect(out.contains("before and after"), "\(out)")
        // Moved fraction near the ideal |M - N| / max(M, N).
        let ideal = Double(abs(shards - 2)) / Double(max(shards, 2))
        let moved = out.split(separator: "\n").first { $0.contains("moved") }.flatMap { line in
            line.split(separator: " ").firstIndex(of: "moved").map { Double(line.split(separator: " ")[$0 + 1]) ?? -1 }
        }
        #expect(moved.map { abs($0 - ideal) < 0.1 } == true, "moved \(String(describing: moved)), ideal \(ideal): \(out)")
        // Training continues at epoch 5, from the trained rows and optimizer state, not from scratch.
        #expect(out.contains("resuming from the checkpoint of epoch 4") && out.contains("epoch 5/6") && !out.contains("epoch 1/6"), "\(out)")
        let before = Self.epochLosses(first), after = Self.epochLosses(out)
        let resumedLoss = try #require(after[5]), lastLoss = try #require(before[4]), firstLoss = try #require(before[1])
        #expect(resumedLoss < lastLoss * 1.1 && resumedLoss < firstLoss * 0.6, "losses before \(before), after \(after)")
        for shard in 0..<shards {
            let log = try String(contentsOf: dir.appendingPathComponent("run2/server-\(shard).log"), encoding: .utf8)
            #expect(log.contains("restored"), "server \(shard) did not restore: \(log)")
        }
        #expect(Harness.children(of: resumed.pid).isEmpty, "processes outlived the launcher")
    }

    @Test func aDamagedCheckpointIsRefusedNamingTheFile() async throws {
        let dir = try Harness.temporaryDirectory()
        let (config, _) = try await Self.firstRun(in: dir)
        let file = dir.appendingPathComponent("run1/checkpoints/shard-1/000001.full")
        var bytes = try Data(contentsOf: file)
        bytes[bytes.count / 2] ^= 0xFF
        try bytes.write(to: file)
        let resumed = try Spawned(["launch", config, "--resume", "run1/checkpoints", "--run-dir", "run2"], in: dir)
        #expect(await resumed.wait(timeout: .seconds(120)) != 0)
        #expect(resumed.stderr.contains("shard-1/000001.full"), "\(resumed.stderr)")
        #expect(Harness.children(of: resumed.pid).isEmpty, "processes outlived the launcher")

        let missing = try Spawned(["launch", config, "--resume", "nowhere", "--run-dir", "run3"], in: dir)
        #expect(await missing.wait(timeout: .seconds(60)) != 0)
        #expect(missing.stderr.contains("no job checkpoint at") && missing.stderr.contains("nowhere/job.json"), "\(missing.stderr)")
    }

    @Test func checkpointOnDemandWhileServing() async throws {
        let dir = try Harness.temporaryDirectory()
        let config = try Harness.writeConfig(in: dir, epochs: 3, extra: "checkpoint: {every_epochs: 0}")
        let launch = try Spawned(["launch", config, "--serve", "--run-dir", "run"], in: dir)
        defer { launch.killTree() }
        #expect(await launch.waitForOutput("serving at", timeout: .seconds(180)), "\(launch.stdout)\n\(launch.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("run/checkpoints/job.json").path))
        let address = try String(contentsOf: dir.appendingPathComponent("run/scheduler.address"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let checkpoint = try Spawned(["checkpoint", "--scheduler", address], in: dir)
        #expect(await checkpoint.wait(timeout: .seconds(60)) == 0, "\(checkpoint.stderr)")
        #expect(checkpoint.stdout.contains("checkpoint of epoch 3") && checkpoint.stdout.contains("(full)"), "\(checkpoint.stdout)")
        let record = try JSONDecoder().decode(Record.self, from: Data(contentsOf: dir.appendingPathComponent("run/checkpoints/job.json")))
        #expect(record.epoch == 3 && record.rows > 0)

        // Offline resharding of that checkpoint, as a command.
        let reshard = try Spawned(["reshard", "--from", "run/checkpoints", "--to", "four", "--shards", "4"], in: dir)
        #expect(await reshard.wait(timeout: .seconds(60)) == 0, "\(reshard.stderr)")
        #expect(reshard.stdout.contains("from 2 to 4 shards") && reshard.stdout.contains("before and after"), "\(reshard.stdout)")
        let again = try Spawned(["reshard", "--from", "run/checkpoints", "--to", "four", "--shards", "4"], in: dir)
        #expect(await again.wait(timeout: .seconds(60)) != 0, "resharding into a folder that holds a checkpoint must fail")

        launch.signal(SIGINT)
        #expect(await launch.wait(timeout: .seconds(30)) == 130)
    }
}
