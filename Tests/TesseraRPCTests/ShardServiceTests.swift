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
            let service = try ShardService(shardID: id, tables: tables)
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
