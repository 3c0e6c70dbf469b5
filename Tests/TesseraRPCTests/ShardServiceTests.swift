import Foundation
import Testing
import TesseraCore
import TesseraRPC
import TesseraServer

/// Real shards over loopback: routing checks, errors, and the sharded client.
@Suite struct ShardServiceTests {
    static let tables = [
        TableSpec(name: "user", dim: 4, optimizer: .sgd(learningRate: 0.5), initializer: .normal(std: 0.1), seed: 1),
        TableSpec(name: "item", dim: 4, optimizer: .adagrad(learningRate: 0.1), initializer: .normal(std: 0.1), seed: 2),
    ]

    /// Starts `count` shards, publishes a map to them and runs `body` with the routing and shard services.
    static func withShards<R>(_ count: Int, _ body: (ShardRouting, [ShardService]) async throws -> R) async throws -> R {
        // Servers also shut down in deinit, should a test fail before the explicit shutdown below.
        var services: [ShardService] = []
        var servers: [GRPCServer] = []
        var addresses: [UInt32: String] = [:]
        for id in 0..<UInt32(count) {
            let service = try ShardService(shardID: id, tables: tables, served: ["item"])
            var router = RPCRouter()
            router.register(service)
            let server = try GRPCServer(host: "127.0.0.1", port: 0, router: router)
            services.append(service)
            servers.append(server)
            addresses[id] = server.address
        }
        let routing = ShardRouting(version: 3, addresses: addresses, virtualNodes: 64, seed: 7)
        for service in services { service.update(routing: routing) }
        do {
            let result = try await body(routing, services)
            for server in servers { await server.shutdown(grace: .milliseconds(100)) }
            return result
        } catch {
            for server in servers { await server.shutdown(grace: .zero) }
            throw error
        }
    }

    func request(table: String, version: UInt64, keys: [UInt64]) -> Tessera_V1_PullRequest {
        var request = Tessera_V1_PullRequest()
        request.table = table
        request.shardMapVersion = version
        request.keys = keys
        return request
    }

    @Test func pullThenPushThroughTheShardedClient() async throws {
        try await Self.withShards(2) { routing, services in
            let client = try ShardedParameterClient(routing: routing)
            let keys: [UInt64] = Array(1...200)
            let first = try await client.pull(table: "user", keys: keys, dim: 4)
            #expect(first.count == 800)
            // Rows are spread over both shards and come back in key order, deterministically.
            let owners = Set(keys.map { routing.ring.shard(for: $0) })
            #expect(owners == [0, 1])
            let again = try await client.pull(table: "user", keys: keys.reversed(), dim: 4)
            for (i, key) in keys.reversed().enumerated() {
                let original = Int(key - 1)
                #expect(Array(again[i * 4..<(i + 1) * 4]) == Array(first[original * 4..<(original + 1) * 4]))
            }
            // SGD with learning rate 0.5 and gradient 1 moves every value by -0.5.
            try await client.push(table: "user", keys: keys, gradients: [Float](repeating: 1, count: 800), dim: 4)
            let after = try await client.pull(table: "user", keys: keys, dim: 4)
            for i in after.indices { #expect(abs(after[i] - (first[i] - 0.5)) < 1e-6) }
            let rows = services.map { $0.table(named: "user")?.rowCount ?? 0 }
            #expect(rows.reduce(0, +) == 200)
            #expect(rows.allSatisfy { $0 > 50 })
        }
    }

    @Test func float16RowsTravelAtHalfPrecision() async throws {
        try await Self.withShards(1) { routing, _ in
            let exact = try ShardedParameterClient(routing: routing)
            let half = try ShardedParameterClient(routing: routing, encoding: .float16)
            let keys: [UInt64] = [5, 6, 7]
            let a = try await exact.pull(table: "item", keys: keys, dim: 4)
            let b = try await half.pull(table: "item", keys: keys, dim: 4)
            for i in a.indices { #expect(abs(a[i] - b[i]) <= abs(a[i]) * 1e-3 + 1e-6) }
        }
    }

    @Test func staleShardMapVersionIsRefused() async throws {
        try await Self.withShards(1) { routing, _ in
            let client = ParameterServerClient(channel: try GRPCChannel(target: routing.addresses[0]!))
            let error = await #expect(throws: RPCError.self) {
                _ = try await client.pull(request(table: "user", version: 2, keys: [1]))
            }
            #expect(error?.code == .failedPrecondition)
            #expect(error?.message.contains("version 2") == true && error?.message.contains("version 3") == true)
        }
    }

    @Test func keyOfAnotherShardIsRefused() async throws {
        try await Self.withShards(2) { routing, _ in
            let foreign = try #require((1...1000 as ClosedRange<UInt64>).first { routing.ring.shard(for: $0) == 1 })
            let client = ParameterServerClient(channel: try GRPCChannel(target: routing.addresses[0]!))
            let error = await #expect(throws: RPCError.self) {
                _ = try await client.pull(request(table: "user", version: 3, keys: [foreign]))
            }
            #expect(error?.code == .failedPrecondition)
            #expect(error?.message.contains("belongs to shard 1") == true)
        }
    }

    @Test func unknownTableIsInvalidArgument() async throws {
        try await Self.withShards(1) { routing, _ in
            let client = ParameterServerClient(channel: try GRPCChannel(target: routing.addresses[0]!))
            let error = await #expect(throws: RPCError.self) {
                _ = try await client.pull(request(table: "users", version: 3, keys: [1]))
            }
            #expect(error?.code == .invalidArgument)
            #expect(error?.message.contains("'users'") == true)
            #expect(error?.message.contains("'item', 'user'") == true)
        }
    }

    @Test func malformedPushesAreRefusedWithoutChangingRows() async throws {
        try await Self.withShards(1) { routing, services in
            let client = ParameterServerClient(channel: try GRPCChannel(target: routing.addresses[0]!))
            let before = try await client.pull(request(table: "user", version: 3, keys: [1, 2])).values
            var push = Tessera_V1_PushRequest()
            push.table = "user"
            push.shardMapVersion = 3
            push.keys = [1, 2]
            push.dim = 4
            push.gradients = Data(count: 4 * 7)  // 7 values where 8 are needed
            let short = await #expect(throws: RPCError.self) { _ = try await client.push(push) }
            #expect(short?.code == .invalidArgument)
            #expect(short?.message.contains("gradients") == true)

            push.dim = 8
            let wrongDim = await #expect(throws: RPCError.self) { _ = try await client.push(push) }
            #expect(wrongDim?.message.contains("dimension 4") == true)

            push.dim = 4
            var values = [Float](repeating: 0, count: 8)
            values[3] = .nan
            push.gradients = values.withUnsafeBytes { Data($0) }
            let nan = await #expect(throws: RPCError.self) { _ = try await client.push(push) }
            #expect(nan?.code == .invalidArgument)

            let after = try await client.pull(request(table: "user", version: 3, keys: [1, 2])).values
            #expect(after == before)
            let stats = try await client.stats()
            #expect(stats.pushRequests == 0)
            #expect(stats.tables.first { $0.name == "user" }?.rows == 2)
            #expect(services[0].routingVersion == 3)
        }
    }

    @Test func shardWithoutAMapAsksToRetry() async throws {
        let service = try ShardService(shardID: 0, tables: Self.tables)
        var router = RPCRouter()
        router.register(service)
        let server = try GRPCServer(host: "127.0.0.1", port: 0, router: router)
        let client = ParameterServerClient(channel: try GRPCChannel(target: server.address))
        let error = await #expect(throws: RPCError.self) {
            _ = try await client.pull(request(table: "user", version: 1, keys: [1]))
        }
        #expect(error?.code == .unavailable)
        await server.shutdown(grace: .zero)
    }
}

extension ShardServiceTests {
    @Test func oversizedPullIsRefusedBeforeAllocating() async throws {
        let service = try ShardService(shardID: 0, tables: Self.tables, maxPayloadBytes: 1 << 16)
        var router = RPCRouter()
        router.register(service)
        let server = try GRPCServer(host: "127.0.0.1", port: 0, router: router)
        service.update(routing: ShardRouting(version: 1, addresses: [0: server.address], virtualNodes: 8, seed: 1))
        let client = ParameterServerClient(channel: try GRPCChannel(target: server.address))
        // 5,000 rows of dim 4 are 80,000 bytes: over the 64 KiB limit of this shard.
        let error = await #expect(throws: RPCError.self) {
            _ = try await client.pull(request(table: "user", version: 1, keys: Array(0..<5_000)))
        }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains("split the request") == true)
        #expect(service.table(named: "user")?.rowCount == 0)
        await server.shutdown(grace: .zero)
    }
}

extension ShardServiceTests {
    @Test func readOnlyLookupsCreateNothing() async throws {
        try await Self.withShards(2) { routing, services in
            let client = try ShardedParameterClient(routing: routing)
            _ = try await client.pull(table: "user", keys: [1, 2], dim: 4)
            let (rows, missing) = try await client.lookup(table: "user", keys: [1, 99, 2, 100], dim: 4)
            #expect(missing == [1, 3])
            #expect(Array(rows[4..<8]) == [0, 0, 0, 0])
            #expect(rows[0..<4].contains { $0 != 0 })
            #expect(services.map { $0.table(named: "user")?.rowCount ?? 0 }.reduce(0, +) == 2)
        }
    }

    @Test func idempotentPushesApplyEachSequenceOnce() async throws {
        try await Self.withShards(2) { routing, services in
            let client = try ShardedParameterClient(routing: routing)
            let keys: [UInt64] = Array(1...40)
            let before = try await client.pull(table: "user", keys: keys, dim: 4)
            let ones = [Float](repeating: 1, count: keys.count * 4)
            try await client.push(table: "user", keys: keys, gradients: ones, dim: 4, producer: "online-0", sequence: 1)
            // A resend of sequence 1 (a restarted producer) and an older one change nothing.
            try await client.push(table: "user", keys: keys, gradients: ones, dim: 4, producer: "online-0", sequence: 1)
            try await client.push(table: "user", keys: keys, gradients: ones, dim: 4, producer: "online-0", sequence: 0)
            let after = try await client.pull(table: "user", keys: keys, dim: 4)
            for i in after.indices { #expect(abs(after[i] - (before[i] - 0.5)) < 1e-6) }
            // Another producer, or the same producer on another table, has its own sequence.
            try await client.push(table: "user", keys: keys, gradients: ones, dim: 4, producer: "online-1", sequence: 1)
            let third = try await client.pull(table: "user", keys: keys, dim: 4)
            for i in third.indices { #expect(abs(third[i] - (before[i] - 1.0)) < 1e-6) }
            let stats = try await client.stats()
            #expect(stats.values.map(\.duplicatePushes).reduce(0, +) >= 2)
            _ = services
        }
    }

    @Test func scoreItemsMergesShardsAndCountsFeedbackOnce() async throws {
        try await Self.withShards(2) { routing, services in
            let client = try ShardedParameterClient(routing: routing)
            let items: [UInt64] = Array(1...60)
            let vectors = try await client.pull(table: "item", keys: items, dim: 4)
            // Every created item row reached the serving indexes as a delta.
            #expect(services.compactMap { $0.servingIndex(named: "item")?.count }.reduce(0, +) == 60)
            let query: [Float] = [1, 0.5, -0.25, 2]
            let answers = try await client.scoreItems(table: "item", query: query, k: 5, exclude: [], explorePool: 0,
                                                      seed: 1, userGroup: 0)
            let merged = answers.flatMap(\.items).sorted { $0.score > $1.score }.prefix(5).map(\.key)
            var scored: [(key: UInt64, score: Float)] = []
            for (i, key) in items.enumerated() {
                var score: Float = 0
                for d in 0..<4 { score += vectors[i * 4 + d] * query[d] }
                scored.append((key, score))
            }
            let expected = scored.sorted { $0.score > $1.score }.prefix(5).map(\.key)
            #expect(Array(merged) == Array(expected))

            // A push moves an item; the serving index follows with a new version.
            let best = expected[0]
            let owner = services[Int(routing.ring.shard(for: best))]
            let version = owner.servingIndex(named: "item")?.version ?? 0
            try await client.push(table: "item", keys: [best], gradients: [100, 100, 100, 100], dim: 4)
            let trained = try #require(owner.table(named: "item")?.row(for: best)?.value)
            #expect(owner.servingIndex(named: "item")?.vector(for: best) == trained)
            #expect((owner.servingIndex(named: "item")?.version ?? 0) > version)
            #expect(trained != Array(vectors[Int(best - 1) * 4..<Int(best) * 4]))

            var delta = Tessera_V1_CounterDelta()
            delta.key = 7
            delta.userGroup = 2
            delta.impressions = 3
            delta.clicks = 1
            try await client.updateCounters(table: "item", deltas: [delta], producer: "p", sequence: 1)
            try await client.updateCounters(table: "item", deltas: [delta], producer: "p", sequence: 1)
            let stats = try await client.stats()
            #expect(stats.values.map(\.impressions).reduce(0, +) == 3)
            #expect(stats.values.map(\.clicks).reduce(0, +) == 1)

            let wrong = await #expect(throws: RPCError.self) {
                _ = try await client.scoreItems(table: "user", query: query, k: 1, exclude: [], explorePool: 0, seed: 1, userGroup: 0)
            }
            #expect(wrong?.code == .invalidArgument)
        }
    }
}
