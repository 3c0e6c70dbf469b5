import Foundation
import Testing
import TesseraCore
import TesseraRPC
#if canImport(Glibc)
import Glibc
#endif

/// Replication through `tessera launch`: a shard's leader is killed with SIGKILL in the
/// middle of training, its follower takes over, and no acknowledged update is lost.
@Suite(.serialized) struct ReplicationClusterTests {
    struct Summary: Decodable {
        struct Promotion: Decodable {
            var shard: Int
            var secondsToServing: Double
            var detectionSeconds: Double
            var attempt: Int
        }
        var state: String
        var test: [String: Double]
        var popularity: [String: [String: Double]]
        var recoveries: [FailureClusterTests.Summary.Recovery]
        var promotions: [Promotion]
        var attempts: Int
    }

    @Test func aKilledLeaderIsReplacedByItsFollowerWithNoRollbackAndNoAcknowledgedUpdateLost() async throws {
        let dir = try Harness.temporaryDirectory()
        let config = try FailureClusterTests.writeConfig(in: dir, users: 2400)
        try (try String(contentsOfFile: config, encoding: .utf8) + "\nreplication: {followers: 1}\n")
            .write(toFile: config, atomically: true, encoding: .utf8)
        let spec = try #require(try ClusterConfig.load(path: config).table(named: "user"))

        let launch = try Spawned(["launch", config, "--run-dir", "run", "--summary", "run.json"], in: dir)
        defer { launch.killTree() }
        #expect(await launch.waitForOutput("checkpoint after epoch 1", timeout: .seconds(240)), "\(launch.stdout)\n\(launch.stderr)")
        #expect(launch.stdout.contains("2 shards (each with a follower)"), "\(launch.stdout)")

        let address = try String(contentsOfFile: dir.appendingPathComponent("run/scheduler.address").path, encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let scheduler = SchedulerClient(channel: try GRPCChannel(target: address))
        let status = try await scheduler.getJobStatus()
        let routing = try ShardRouting(status.shardMap)
        #expect(routing.followers.count == 2, "\(routing)")
        #expect(status.members.filter { $0.role == .follower && $0.inSync }.count == 2)
        let attemptBefore = status.attempt

        // Keys no worker trains (far outside the data's ids), all on shard 1.
        let keys = (0..<20_000).map { 0xFEED_0000_0000 + UInt64($0) }.filter { routing.ring.shard(for: $0) == 1 }.prefix(256).map { $0 }
        let dim = spec.dim
        let client = try ShardedParameterClient(routing: routing)
        client.enableFailover(.init(patience: .seconds(60), newerMap: { version, wait in try await scheduler.shardMap(newerThan: version, wait: wait) }))
        // The same pushes on a local table give the rows (and optimizer state) every acknowledged push must leave.
        let local = try EmbeddingTable(spec: spec)
        for step in 0..<3 {
            let gradients = (0..<keys.count * dim).map { Float(($0 * 31 + step * 7) % 13) / 13 - 0.5 }
            try await client.push(table: "user", keys: keys, gradients: gradients, dim: dim)
            try local.push(keys: keys, gradients: gradients)
        }
        let acknowledged = try await client.pull(table: "user", keys: keys, dim: dim)
        #expect(acknowledged == (try local.pull(keys: keys)), "the leader's rows differ from the same pushes made locally")

        let leader = try #require(Harness.child(of: launch.pid, matching: ["server", "--id", "1"]), "no leader of shard 1")
        let killed = ContinuousClock.now
        kill(leader, SIGKILL)
        // Blocks through the failover: the promoted follower answers.
        let promoted = try await client.pull(table: "user", keys: keys, dim: dim)
        let serving = (ContinuousClock.now - killed)
        #expect(promoted == acknowledged, "an acknowledged update was lost: the promoted follower's rows differ")
        #expect(client.routing.addresses[1] == routing.followers[1])
        // The optimizer state came along too: one more step lands exactly where it does locally.
        let gradients = (0..<keys.count * dim).map { Float($0 % 5) / 5 - 0.4 }
        try await client.push(table: "user", keys: keys, gradients: gradients, dim: dim)
        try local.push(keys: keys, gradients: gradients)
        let stepped = try await client.pull(table: "user", keys: keys, dim: dim)
        let expected = try local.pull(keys: keys)
        #expect(zip(stepped, expected).allSatisfy { abs($0 - $1) <= 1e-6 * max(1, abs($1)) }, "optimizer state was not replicated")

        let code = await launch.wait(timeout: .seconds(300))
        let out = launch.stdout
        #expect(code == 0, "\(out)\n\(launch.stderr)")
        #expect(out.contains("its follower takes over"), "\(out)")
        #expect(out.contains("promoting the follower of shard 1"), "\(out)")
        #expect(!out.contains("rolled back") && !out.contains("recovery: training resumed"), "\(out)")
        #expect(out.contains("epoch \(FailureClusterTests.epochs)/\(FailureClusterTests.epochs)"), "\(out)")
        #expect(Harness.children(of: launch.pid).isEmpty, "processes outlived the launcher")

        let summary = try JSONDecoder().decode(Summary.self, from: Data(contentsOf: dir.appendingPathComponent("run.json")))
        #expect(summary.state == "finished")
        #expect(summary.recoveries.isEmpty && summary.attempts == Int(attemptBefore) && summary.attempts == 1)
        let promotion = try #require(summary.promotions.first, "no promotion in the summary")
        #expect(summary.promotions.count == 1 && promotion.shard == 1 && promotion.attempt == 1)
        let ndcg = try #require(summary.test["ndcg@10"]), popular = try #require(summary.popularity["test"]?["ndcg@10"])
        #expect(ndcg > popular * 1.2, "test ndcg@10 \(ndcg), popularity \(popular)")
        print(String(format: "leader kill: follower promoted %.2f s after the leader's last heartbeat (noticed after %.2f s); a client's pull blocked %.2f s from the kill",
                     promotion.secondsToServing, promotion.detectionSeconds, serving.seconds))
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
