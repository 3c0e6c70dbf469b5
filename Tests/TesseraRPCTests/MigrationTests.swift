import Foundation
import Synchronization
import Testing
import TesseraCore
import TesseraRPC
import TesseraServer

/// Live resharding between real shards over loopback: old owners copy and forward
/// while pushes go on, then every shard commits the target map; no acknowledged
/// update, row or optimizer state is lost, and shrinking back works the same way.
@Suite struct MigrationTests {
    static let tables = ReplicationTests.tables

    final class Counter: Sendable {
        let value = Atomic<Int>(0)
    }

    final class Cluster: Sendable {
        let shards: [ShardService]
        let servers: [GRPCServer]
        init(shards: [ShardService], servers: [GRPCServer]) {
            self.shards = shards
            self.servers = servers
        }
        var addresses: [UInt32: String] {
            var all: [UInt32: String] = [:]
            for (id, server) in servers.enumerated() { all[UInt32(id)] = server.address }
            return all
        }
        func client(_ id: Int) throws -> ParameterServerClient {
            ParameterServerClient(channel: try GRPCChannel(target: servers[id].address))
        }
    }

    /// `count` shards on loopback, all serving the map of the first `serving` of them.
    static func withCluster<R>(count: Int, serving: Int, _ body: (Cluster, ShardRouting) async throws -> R) async throws -> R {
        var shards: [ShardService] = [], servers: [GRPCServer] = []
        for id in 0..<count {
            let shard = try ShardService(shardID: UInt32(id), tables: tables, served: ["item"])
            var router = RPCRouter()
            router.register(shard)
            shards.append(shard)
            servers.append(try GRPCServer(host: "127.0.0.1", port: 0, router: router))
        }
        let cluster = Cluster(shards: shards, servers: servers)
        var addresses: [UInt32: String] = [:]
        for id in 0..<serving { addresses[UInt32(id)] = servers[id].address }
        let routing = ShardRouting(version: 1, addresses: addresses, virtualNodes: 32, seed: 5)
        for shard in shards { shard.update(routing: routing) }
        do {
            let result = try await body(cluster, routing)
            for server in servers { await server.shutdown(grace: .milliseconds(100)) }
            return result
        } catch {
            for server in servers { await server.shutdown(grace: .zero) }
            throw error
        }
    }

    static func migrate(_ cluster: Cluster, _ phase: Tessera_V1_MigratePhase, target: ShardRouting,
                        on ids: [UInt32]) async throws -> [Tessera_V1_MigrateResponse] {
        var request = Tessera_V1_MigrateRequest()
        request.phase = phase
        request.setTarget(target)
        let sent = request
        return try await withThrowingTaskGroup(of: Tessera_V1_MigrateResponse.self) { group in
            for id in ids {
                let client = try cluster.client(Int(id))
                group.addTask { try await client.migrate(sent) }
            }
            var answers: [Tessera_V1_MigrateResponse] = []
            for try await answer in group { answers.append(answer) }
            return answers
        }
    }

    /// Every (table, key) → value and optimizer state held by the owners `routing` names.
    static func rows(_ cluster: Cluster, ownedUnder routing: ShardRouting) -> [String: [UInt64: [Float]]] {
        var all: [String: [UInt64: [Float]]] = [:]
        for id in routing.shardIDs {
            let shard = cluster.shards[Int(id)]
            for spec in tables {
                shard.table(named: spec.name)?.forEachRow { key, value, state in
                    if routing.ring.shard(for: key) == id { all[spec.name, default: [:]][key] = Array(value) + Array(state) }
                }
            }
        }
        return all
    }

    /// How many (table, key) rows differ between `a` and `b`, counting rows only one of them has.
    static func differing(_ a: [String: [UInt64: [Float]]], _ b: [String: [UInt64: [Float]]]) -> Int {
        var count = 0
        for table in Set(a.keys).union(b.keys) {
            let left = a[table] ?? [:], right = b[table] ?? [:]
            for key in Set(left.keys).union(right.keys) where left[key] != right[key] { count += 1 }
        }
        return count
    }

    static func checksum(_ cluster: Cluster, ownedUnder routing: ShardRouting) -> RowChecksum {
        var sum = RowChecksum()
        for id in routing.shardIDs { sum.add(cluster.shards[Int(id)].checksum(ownedUnder: routing)) }
        return sum
    }

    /// Pushes to keys `0..<keys` of every table with `client`, `steps` times; counts acknowledged pushes.
    static func push(_ client: ShardedParameterClient, keys: Int, steps: Int, worker: Int, acknowledged: Counter) async throws {
        for step in 0..<steps {
            let unique = Array(Set((0..<200).map { UInt64(($0 * 13 + step * 7 + worker * 3) % keys) })).sorted()
            for (table, dim) in [("user", 4), ("item", 4), ("bias", 2)] {
                let gradients = (0..<unique.count * dim).map { Float(($0 + step + worker) % 9) / 10 - 0.4 }
                try await client.push(table: table, keys: unique, gradients: gradients, dim: dim)
                acknowledged.value.add(1, ordering: .relaxed)
            }
        }
    }

    @Test func growingFromTwoToFourShardsWhilePushingLosesNoUpdate() async throws {
        try await Self.withCluster(count: 4, serving: 2) { cluster, source in
            let client = try ShardedParameterClient(routing: source)
            let acknowledged = Counter()
            for (table, dim) in [("user", 4), ("item", 4), ("bias", 2)] {
                _ = try await client.pull(table: table, keys: Array(0..<3000), dim: dim)
            }
            try await Self.push(client, keys: 3000, steps: 20, worker: 9, acknowledged: acknowledged)
            let plan = try ReshardPlan(from: source, toShards: 4, addresses: cluster.addresses)
            _ = try await Self.migrate(cluster, .prepare, target: plan.target, on: plan.participants)
            // Copy while four "workers" push under the old map; they keep pushing after the copy (forwarding only).
            let copied = try await withThrowingTaskGroup(of: [Tessera_V1_MigrateResponse].self) { group in
                for worker in 0..<4 {
                    group.addTask {
                        try await Self.push(client, keys: 3000, steps: 15, worker: worker, acknowledged: acknowledged)
                        return []
                    }
                }
                group.addTask { try await Self.migrate(cluster, .copy, target: plan.target, on: plan.source.shardIDs) }
                var all: [Tessera_V1_MigrateResponse] = []
                for try await answers in group { all += answers }
                return all
            }
            #expect(acknowledged.value.load(ordering: .relaxed) == (20 + 4 * 15) * 3)
            let held = copied.reduce(0) { $0 + $1.heldRows }, moved = copied.reduce(0) { $0 + $1.rows }
            #expect(held == 3 * 3000 && moved > 0)
            #expect(abs(Double(moved) / Double(held) - 0.5) < 0.1, "moved \(moved) of \(held), ideal half")

            // The switch: no push in flight (as at a step boundary).
            let before = Self.rows(cluster, ownedUnder: source), checksumBefore = Self.checksum(cluster, ownedUnder: source)
            let clock = ContinuousClock(), held0 = clock.now
            let committed = try await Self.migrate(cluster, .commit, target: plan.target, on: plan.participants)
            let pause = clock.now - held0
            #expect(pause < .seconds(1), "the switch took \(pause)")
            let after = Self.rows(cluster, ownedUnder: plan.target)
            #expect(Self.differing(after, before) == 0, "rows or optimizer state differ at the new owners")
            #expect(Self.checksum(cluster, ownedUnder: plan.target) == checksumBefore)
            #expect(committed.reduce(UInt64(0)) { $0 &+ $1.checksumBefore } == checksumBefore.value)
            #expect(committed.reduce(UInt64(0)) { $0 &+ $1.checksumAfter } == checksumBefore.value)
            // Old owners dropped what moved: every shard holds only its own rows now.
            for (id, shard) in cluster.shards.enumerated() {
                for spec in Self.tables {
                    shard.table(named: spec.name)?.forEachRow { key, _, _ in
                        #expect(plan.target.ring.shard(for: key) == UInt32(id), "shard \(id) still holds key \(key)")
                    }
                }
            }
            #expect(committed.reduce(0) { $0 + $1.heldRows } == 3 * 3000)
            // The old map is refused now; the new one reads exactly the rows acknowledged before the switch.
            let stale = await #expect(throws: RPCError.self) {
                try await client.push(table: "user", keys: [1], gradients: [1, 1, 1, 1], dim: 4)
            }
            #expect(stale?.code == .failedPrecondition)
            let next = try ShardedParameterClient(routing: plan.target)
            let keys = Array(UInt64(0)..<3000)
            let values = try await next.pull(table: "user", keys: keys, dim: 4)
            for (i, key) in keys.enumerated() {
                #expect(Array(values[i * 4..<(i + 1) * 4]) == Array(before["user"]?[key]?.prefix(4) ?? []))
            }

            // And back to 2: the leaving shards' rows return to the remaining ones.
            let shrink = try ReshardPlan(from: plan.target, toShards: 2, addresses: [:])
            #expect(shrink.leaving == [2, 3])
            _ = try await Self.migrate(cluster, .prepare, target: shrink.target, on: shrink.participants)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<2 {
                    group.addTask { try await Self.push(next, keys: 3000, steps: 10, worker: worker, acknowledged: acknowledged) }
                }
                group.addTask { _ = try await Self.migrate(cluster, .copy, target: shrink.target, on: shrink.source.shardIDs) }
                try await group.waitForAll()
            }
            let grown = Self.rows(cluster, ownedUnder: plan.target)
            _ = try await Self.migrate(cluster, .commit, target: shrink.target, on: shrink.participants)
            #expect(Self.differing(Self.rows(cluster, ownedUnder: shrink.target), grown) == 0)
            #expect(cluster.shards[2].table(named: "user")?.rowCount == 0 && cluster.shards[3].table(named: "item")?.rowCount == 0)
        }
    }

    @Test func aChangeTheNewOwnerCannotTakeIsNotAcknowledged() async throws {
        try await Self.withCluster(count: 2, serving: 1) { cluster, source in
            let client = try ShardedParameterClient(routing: source, attempts: 1)
            let plan = try ReshardPlan(from: source, toShards: 2, addresses: cluster.addresses)
            _ = try await Self.migrate(cluster, .prepare, target: plan.target, on: plan.participants)
            _ = try await Self.migrate(cluster, .copy, target: plan.target, on: [0])
            // A Replicate for a map the receiver was not prepared for is refused, naming the version.
            var stray = Tessera_V1_ReplicateRequest()
            stray.table = "user"
            stray.targetMapVersion = 99
            let refused = await #expect(throws: RPCError.self) { _ = try await cluster.client(1).replicate(stray) }
            #expect(refused?.code == .failedPrecondition && refused?.message.contains("99") == true)

            await cluster.servers[1].shutdown(grace: .zero)
            let moving = try #require((UInt64(0)..<1000).first { plan.destination(of: $0) == 1 })
            let failed = await #expect(throws: RPCError.self) {
                try await client.push(table: "user", keys: [moving], gradients: [1, 1, 1, 1], dim: 4)
            }
            #expect(failed?.message.contains("not acknowledged") == true, "\(String(describing: failed))")
            // Keys that stay are unaffected.
            let staying = try #require((UInt64(0)..<1000).first { plan.destination(of: $0) == nil })
            try await client.push(table: "user", keys: [staying], gradients: [1, 1, 1, 1], dim: 4)
            // Abort: forwarding stops, the old map goes on.
            _ = try await Self.migrate(cluster, .abort, target: plan.target, on: [0])
            #expect(cluster.shards[0].migrationTarget == nil)
            try await client.push(table: "user", keys: [moving], gradients: [1, 1, 1, 1], dim: 4)
        }
    }
}
