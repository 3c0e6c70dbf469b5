import Foundation
import Logging
import Synchronization
import Testing
import TesseraCore
import TesseraRPC
import TesseraServer

/// A leader shard and its follower over loopback: every acknowledged change is on the
/// follower, a follower that is down is given up (and reported), and promotion.
@Suite struct ReplicationTests {
    static let tables = [
        TableSpec(name: "user", dim: 4, optimizer: .adam(learningRate: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-8),
                  initializer: .normal(std: 0.1), seed: 1),
        TableSpec(name: "item", dim: 4, optimizer: .adagrad(learningRate: 0.1), initializer: .normal(std: 0.1), seed: 2),
        TableSpec(name: "bias", dim: 2, optimizer: .ftrl(alpha: 0.05, beta: 1, l1: 0.01, l2: 0), initializer: .zeros, seed: 3),
    ]

    /// Reasons the leader gave when it reported its follower lost.
    final class Reports: Sendable {
        let reasons = Mutex<[String]>([])
        let fail: Bool
        init(fail: Bool = false) { self.fail = fail }
    }

    struct Pair {
        var leader: ShardService
        var follower: ShardService
        var leaderServer: GRPCServer
        var followerServer: GRPCServer
        var routing: ShardRouting
    }

    /// A one-shard cluster: a leader, its follower, and a map that names both.
    static func withPair<R>(reports: Reports = Reports(), _ body: (Pair) async throws -> R) async throws -> R {
        let leader = try ShardService(shardID: 0, tables: tables, served: ["item"])
        let follower = try ShardService(shardID: 0, tables: tables, served: ["item"])
        follower.startFollowing()
        var leaderRouter = RPCRouter(), followerRouter = RPCRouter()
        leaderRouter.register(leader)
        followerRouter.register(follower)
        let leaderServer = try GRPCServer(host: "127.0.0.1", port: 0, router: leaderRouter)
        let followerServer = try GRPCServer(host: "127.0.0.1", port: 0, router: followerRouter)
        let routing = ShardRouting(version: 1, addresses: [0: leaderServer.address], followers: [0: followerServer.address],
                                   virtualNodes: 16, seed: 7)
        // A generous deadline: on a loaded machine a slow answer would count as a lost follower.
        leader.attach(Replicator(deadline: .seconds(20), logger: Logger(label: "test")) { reason in
            reports.reasons.withLock { $0.append(reason) }
            if reports.fail { throw RPCError(.unavailable, "no scheduler in this test") }
        })
        leader.update(routing: routing)
        follower.update(routing: routing)
        let pair = Pair(leader: leader, follower: follower, leaderServer: leaderServer, followerServer: followerServer, routing: routing)
        do {
            let result = try await body(pair)
            await leaderServer.shutdown(grace: .milliseconds(100))
            await followerServer.shutdown(grace: .milliseconds(100))
            return result
        } catch {
            await leaderServer.shutdown(grace: .zero)
            await followerServer.shutdown(grace: .zero)
            throw error
        }
    }

    /// Every row of every table (value then optimizer state), by table and key.
    static func rows(_ shard: ShardService) -> [String: [UInt64: [Float]]] {
        var all: [String: [UInt64: [Float]]] = [:]
        for spec in tables {
            var rows: [UInt64: [Float]] = [:]
            shard.table(named: spec.name)?.forEachRow { key, value, state in rows[key] = Array(value) + Array(state) }
            all[spec.name] = rows
        }
        return all
    }

    @Test func theFollowerHoldsTheLeadersRowsAndOptimizerStateAfterConcurrentPushes() async throws {
        try await Self.withPair { pair in
            let client = try ShardedParameterClient(routing: pair.routing)
            // Concurrent pushes from several "workers" touch overlapping keys, so batches race to the follower.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<4 {
                    group.addTask {
                        for step in 0..<15 {
                            let keys = (0..<40).map { UInt64(($0 * 7 + step * 3 + worker) % 97) }
                            let unique = Array(Set(keys)).sorted()
                            for (table, dim) in [("user", 4), ("item", 4), ("bias", 2)] {
                                let gradients = (0..<unique.count * dim).map { Float(($0 + step + worker) % 11) / 10 - 0.5 }
                                try await client.push(table: table, keys: unique, gradients: gradients, dim: dim)
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            try await client.assign(table: "item", keys: [500, 501], values: [Float](repeating: 0.25, count: 8), dim: 4)
            try await client.push(table: "user", keys: [1, 2], gradients: [Float](repeating: 1, count: 8), dim: 4,
                                  producer: "online-0", sequence: 7)
            var counters = Tessera_V1_CounterDelta()
            counters.key = 500
            counters.impressions = 3
            counters.clicks = 1
            try await client.updateCounters(table: "item", deltas: [counters], producer: "online-0", sequence: 8)

            let leaderRows = Self.rows(pair.leader), followerRows = Self.rows(pair.follower)
            #expect(leaderRows["user"]?.count == 97 && leaderRows["item"]?.count == 99 && leaderRows["bias"]?.count == 97)
            // Whole rows are copied: the follower's values and optimizer state are bit for bit the leader's.
            #expect(followerRows == leaderRows)
            let stats = try await ParameterServerClient(channel: try GRPCChannel(target: pair.leaderServer.address)).stats()
            #expect(stats.followerState == "in_sync" && !stats.following && stats.replicatedBatches >= 4 * 15 * 3 + 3)
            #expect(pair.follower.servingIndex(named: "item")?.totals.impressions == 3)

            // A follower serves no data calls until promoted.
            let direct = ParameterServerClient(channel: try GRPCChannel(target: pair.followerServer.address))
            var pull = Tessera_V1_PullRequest()
            pull.table = "user"
            pull.shardMapVersion = 1
            pull.keys = [1]
            let refused = await #expect(throws: RPCError.self) { _ = try await direct.pull(pull) }
            #expect(refused?.code == .unavailable)

            // Promoted, it answers with exactly the rows the leader acknowledged, and skips a resent push.
            let promoted = ShardRouting(version: 2, addresses: [0: pair.followerServer.address], virtualNodes: 16, seed: 7)
            var promote = Tessera_V1_PromoteRequest()
            promote.shardID = 0
            promote.shardMapVersion = promoted.version
            let answer = try await direct.promote(promote)
            #expect(answer.rows == UInt64(97 + 99 + 97))
            #expect(!pair.follower.isFollowing && pair.follower.routingVersion == 2)
            let next = try ShardedParameterClient(routing: promoted)
            let keys: [UInt64] = Array(0..<97)
            let fromLeader = try await client.pull(table: "user", keys: keys, dim: 4)
            #expect(try await next.pull(table: "user", keys: keys, dim: 4) == fromLeader)
            try await next.push(table: "user", keys: [1, 2], gradients: [Float](repeating: 1, count: 8), dim: 4,
                                producer: "online-0", sequence: 7)
            #expect(Self.rows(pair.follower)["user"]?[1] == leaderRows["user"]?[1], "a resent (producer, sequence) applied twice")
        }
    }

    @Test func aFollowerThatIsDownIsReportedOnceAndTheLeaderKeepsServing() async throws {
        let reports = Reports()
        try await Self.withPair(reports: reports) { pair in
            await pair.followerServer.shutdown(grace: .zero)
            let client = try ShardedParameterClient(routing: pair.routing)
            for step in 0..<3 {
                try await client.push(table: "item", keys: [1, 2, 3], gradients: [Float](repeating: Float(step), count: 12), dim: 4)
            }
            #expect(pair.leader.followerState == .lost)
            #expect(reports.reasons.withLock { $0.count } == 1)
            #expect(reports.reasons.withLock { $0.first?.contains(pair.followerServer.address) } == true)
            let stats = try await ParameterServerClient(channel: try GRPCChannel(target: pair.leaderServer.address)).stats()
            #expect(stats.followerState == "lost" && stats.pushRequests == 3)
            #expect(try await client.pull(table: "item", keys: [1, 2, 3], dim: 4).count == 12)
        }
    }

    @Test func aLossTheSchedulerDidNotHearIsNotAcknowledged() async throws {
        let reports = Reports(fail: true)
        try await Self.withPair(reports: reports) { pair in
            await pair.followerServer.shutdown(grace: .zero)
            let client = try ShardedParameterClient(routing: pair.routing, attempts: 1)
            let error = await #expect(throws: RPCError.self) {
                try await client.push(table: "item", keys: [1], gradients: [1, 1, 1, 1], dim: 4)
            }
            #expect(error?.code == .unavailable && error?.message.contains("not acknowledged") == true)
            #expect(pair.leader.followerState == .inSync, "the follower stays the one to report until the scheduler hears it")
        }
    }
}
