import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Members killed with SIGKILL in the middle of training, through `tessera launch`:
/// a shard and a worker are restarted and the run finishes; a dead scheduler is
/// reported and the job continues with `--resume`.
@Suite(.serialized) struct FailureClusterTests {
    struct Summary: Decodable {
        struct Recovery: Decodable {
            var lost: [String]
            var interruptedEpoch: Int
            var restartEpoch: Int
            var secondsToResume: Double
            var epochsRedone: Double
        }
        var state: String
        var test: [String: Double]
        var popularity: [String: [String: Double]]
        var recoveries: [Recovery]
        var redoneFraction: Double
    }

    static let epochs = 6

    /// Checkpoints every epoch, and a short heartbeat timeout so that losses are noticed quickly.
    /// `users` sets the size of the synthetic data (600: epochs of ~0.2 s here).
    static func writeConfig(in dir: URL, users: Int = 600) throws -> String {
        let path = try Harness.writeConfig(in: dir, epochs: epochs, extra: "checkpoint: {every_epochs: 1, full_every: 3}")
        let text = try String(contentsOfFile: path, encoding: .utf8)
            .replacingOccurrences(of: "heartbeat_timeout: 5", with: "heartbeat_timeout: 2")
            .replacingOccurrences(of: "users: 600", with: "users: \(users)")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static func summary(_ dir: URL, _ name: String) throws -> Summary {
        try JSONDecoder().decode(Summary.self, from: Data(contentsOf: dir.appendingPathComponent(name)))
    }

    /// Launches a run, kills the member whose command line holds `words` once epoch `after`
    /// is checkpointed, and waits for the launcher to exit.
    static func launchAndKill(_ words: [String], after epoch: Int, in dir: URL, config: String,
                              run: String) async throws -> (Spawned, Int32) {
        let launch = try Spawned(["launch", config, "--run-dir", run, "--summary", "\(run).json"], in: dir)
        defer { launch.killTree() }
        #expect(await launch.waitForOutput("checkpoint after epoch \(epoch)", timeout: .seconds(240)), "\(launch.stdout)\n\(launch.stderr)")
        // Into the next epoch, so that work is lost.
        try await Task.sleep(for: .milliseconds(300))
        let victim = try #require(Harness.child(of: launch.pid, matching: words), "no process with \(words)")
        kill(victim, SIGKILL)
        let code = await launch.wait(timeout: .seconds(300))
        #expect(Harness.children(of: launch.pid).isEmpty, "processes outlived the launcher")
        return (launch, code)
    }

    @Test func aKilledShardIsRestoredFromItsCheckpointAndTheRunMatchesAnUndisturbedOne() async throws {
        let dir = try Harness.temporaryDirectory()
        // Epochs long enough (~1 s) that the kill lands inside one.
        let config = try Self.writeConfig(in: dir, users: 2400)

        let calm = try Spawned(["launch", config, "--run-dir", "calm", "--summary", "calm.json"], in: dir)
        #expect(await calm.wait(timeout: .seconds(300)) == 0, "\(calm.stdout)\n\(calm.stderr)")

        let (launch, code) = try await Self.launchAndKill(["server", "--id", "1"], after: 2, in: dir, config: config, run: "killed")
        let out = launch.stdout
        #expect(code == 0, "\(out)\n\(launch.stderr)")
        #expect(out.contains("restarting it from the checkpoint"), "\(out)")
        #expect(out.contains("member lost: ") && out.contains("server 1"), "\(out)")
        #expect(out.contains("shards rolled back to the checkpoint of epoch"), "\(out)")
        #expect(out.contains("recovery: training resumed at epoch"), "\(out)")
        #expect(out.contains("epoch \(Self.epochs)/\(Self.epochs)"), "\(out)")

        let undisturbed = try Self.summary(dir, "calm.json"), recovered = try Self.summary(dir, "killed.json")
        let recovery = try #require(recovered.recoveries.first, "no recovery in the summary")
        #expect(recovery.lost.contains { $0.hasPrefix("server 1") }, "\(recovery.lost)")
        #expect(recovery.restartEpoch >= 3 && recovery.secondsToResume > 0 && recovery.secondsToResume < 60)
        #expect(recovered.redoneFraction >= 0 && recovered.redoneFraction <= 1.0 / Double(Self.epochs) + 1e-9, "redone \(recovered.redoneFraction)")
        let before = try #require(undisturbed.test["ndcg@10"]), after = try #require(recovered.test["ndcg@10"])
        #expect(abs(after - before) / before <= 0.02, "test ndcg@10 \(after) after a shard was killed, \(before) undisturbed")
        print("shard kill: recovered in \(recovery.secondsToResume) s, redone \(recovery.epochsRedone) epochs (fraction \(recovered.redoneFraction)); ndcg@10 \(after) vs \(before) undisturbed")
    }

    @Test func aKilledWorkerRejoinsOnItsDataShardAndTheRunFinishes() async throws {
        let dir = try Harness.temporaryDirectory()
        let config = try Self.writeConfig(in: dir)
        let (launch, code) = try await Self.launchAndKill(["worker", "--id", "1"], after: 2, in: dir, config: config, run: "run")
        let out = launch.stdout
        #expect(code == 0, "\(out)\n\(launch.stderr)")
        #expect(out.contains("worker 1") && out.contains("restarting it on the same data shard"), "\(out)")
        #expect(out.contains("recovery: training resumed at epoch"), "\(out)")
        let summary = try Self.summary(dir, "run.json")
        #expect(summary.state == "finished" && summary.recoveries.count == 1)
        let ndcg = try #require(summary.test["ndcg@10"]), popular = try #require(summary.popularity["test"]?["ndcg@10"])
        #expect(ndcg > popular * 1.2, "test ndcg@10 \(ndcg), popularity \(popular)")
    }

    @Test func aKilledSchedulerIsReportedAndTheJobResumesFromItsCheckpoint() async throws {
        let dir = try Harness.temporaryDirectory()
        let config = try Self.writeConfig(in: dir)
        let (launch, code) = try await Self.launchAndKill(["scheduler", "--ready-file"], after: 2, in: dir, config: config, run: "run1")
        #expect(code != 0)
        #expect(launch.stderr.contains("the scheduler") && launch.stderr.contains("SIGKILL"), "\(launch.stderr)")
        let record = try JSONDecoder().decode(CheckpointClusterTests.Record.self,
                                              from: Data(contentsOf: dir.appendingPathComponent("run1/checkpoints/job.json")))
        #expect(record.epoch >= 2 && record.epoch < Self.epochs)

        let resumed = try Spawned(["launch", config, "--resume", "run1/checkpoints", "--run-dir", "run2", "--summary", "run2.json"], in: dir)
        #expect(await resumed.wait(timeout: .seconds(240)) == 0, "\(resumed.stdout)\n\(resumed.stderr)")
        let out = resumed.stdout
        #expect(out.contains("resuming from the checkpoint of epoch \(record.epoch)"), "\(out)")
        #expect(out.contains("epoch \(record.epoch + 1)/\(Self.epochs)") && !out.contains("epoch 1/\(Self.epochs)"), "\(out)")
        #expect(out.contains("epoch \(Self.epochs)/\(Self.epochs)"), "\(out)")
        #expect(try Self.summary(dir, "run2.json").state == "finished")
        #expect(Harness.children(of: resumed.pid).isEmpty, "processes outlived the launcher")
    }
}
