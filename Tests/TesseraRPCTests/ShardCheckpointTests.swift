import Foundation
import Testing
import TesseraCore
import TesseraRPC
import TesseraServer

/// The Checkpoint RPC on real shards over loopback, and shards restored from what it wrote.
@Suite struct ShardCheckpointTests {
    static let tables = [
        TableSpec(name: "user", dim: 4, optimizer: .sgd(learningRate: 0.5), initializer: .normal(std: 0.1), seed: 1),
        TableSpec(name: "item", dim: 6, optimizer: .adagrad(learningRate: 0.1), initializer: .normal(std: 0.1), seed: 2),
        TableSpec(name: "ctx", dim: 3, optimizer: .adam(learningRate: 0.05), initializer: .uniform(limit: 0.1), seed: 3),
        TableSpec(name: "ctr", dim: 2, optimizer: .ftrl(alpha: 0.1, l1: 0.01), initializer: .zeros, seed: 4),
    ]
    static let version: UInt64 = 3

    /// Serves `services` (ids 0..<n) on OS-picked loopback ports under one map; always shuts them down.
    static func serve<R>(_ services: [ShardService], _ body: (ShardRouting) async throws -> R) async throws -> R {
        var servers: [GRPCServer] = []
        var addresses: [UInt32: String] = [:]
        for service in services {
            var router = RPCRouter()
            router.register(service)
            let server = try GRPCServer(host: "127.0.0.1", port: 0, router: router)
            servers.append(server)
            addresses[service.shardID] = server.address
        }
        let routing = ShardRouting(version: version, addresses: addresses, virtualNodes: 64, seed: 7)
        for service in services { service.update(routing: routing) }
        do {
            let result = try await body(routing)
            for server in servers { await server.shutdown(grace: .milliseconds(100)) }
            return result
        } catch {
            for server in servers { await server.shutdown(grace: .zero) }
            throw error
        }
    }

    static func gradients(_ keys: [UInt64], dim: Int, round: Int) -> [Float] {
        keys.flatMap { key in (0..<dim).map { Float((Int(key) * 7 + $0 * 3 + round * 5) % 11) / 10 - 0.5 } }
    }

    static func pushAll(_ client: ShardedParameterClient, keys: [UInt64], round: Int, producer: String = "", sequence: UInt64 = 0) async throws {
        for spec in tables {
            try await client.push(table: spec.name, keys: keys, gradients: gradients(keys, dim: spec.dim, round: round),
                                  dim: spec.dim, producer: producer, sequence: sequence)
        }
    }

    static func pullAll(_ client: ShardedParameterClient, keys: [UInt64]) async throws -> [String: [Float]] {
        var rows: [String: [Float]] = [:]
        for spec in tables { rows[spec.name] = try await client.pull(table: spec.name, keys: keys, dim: spec.dim) }
        return rows
    }

    static func withRoot<T>(_ body: (String) async throws -> T) async throws -> T {
        let root = NSTemporaryDirectory() + "tessera-shard-checkpoint-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: root) }
        return try await body(root)
    }

    @Test func fullThenIncrementalRestoreIntoNewShardsThatTrainIdentically() async throws {
        try await Self.withRoot { (root: String) async throws -> Void in
            let originals = try (0..<UInt32(2)).map { try ShardService(shardID: $0, tables: Self.tables, served: ["item"]) }
            let keys = Array(UInt64(1)...400)
            let changed = Array(UInt64(1)...40) + Array(UInt64(1_000)...1_010)

            let (beforeRestore, changedPerShard): ([String: [Float]], [UInt32: Int]) = try await Self.serve(originals) {
                (routing: ShardRouting) async throws -> ([String: [Float]], [UInt32: Int]) in
                let client = try ShardedParameterClient(routing: routing)
                _ = try await Self.pullAll(client, keys: keys)
                try await Self.pushAll(client, keys: keys, round: 0, producer: "online-0", sequence: 1)

                let full = try await client.checkpoint(directory: root, incremental: false, sequence: 1)
                #expect(full.keys.sorted() == [0, 1])
                for (id, response) in full {
                    #expect(response.shardID == id && response.sequence == 1 && !response.incremental && response.chainLength == 1)
                    let rows = Self.tables.reduce(0) { $0 + (originals[Int(id)].table(named: $1.name)?.rowCount ?? 0) }
                    #expect(response.rows == UInt64(rows))
                    #expect(response.files == ["\(root)/shard-\(id)/000001.full", "\(root)/shard-\(id)/manifest.json"])
                    #expect(response.bytes > 0 && response.seconds >= 0)
                }
                #expect(full.values.reduce(0) { $0 + $1.rows } == UInt64(keys.count * Self.tables.count))

                // More training on a few keys (old and new), then an incremental.
                try await Self.pushAll(client, keys: changed, round: 1, producer: "online-0", sequence: 2)
                let incremental = try await client.checkpoint(directory: root, incremental: true, sequence: 2)
                var perShard: [UInt32: Int] = [:]
                for key in changed { perShard[routing.ring.shard(for: key), default: 0] += 1 }
                for (id, response) in incremental {
                    #expect(response.incremental && response.sequence == 2 && response.chainLength == 2)
                    #expect(response.rows == UInt64((perShard[id] ?? 0) * Self.tables.count))
                    #expect(response.bytes < full[id]!.bytes / 4)
                }

                // A sequence that is not new is refused, and the chain stays as it was.
                let error = await #expect(throws: RPCError.self) {
                    _ = try await client.checkpoint(directory: root, incremental: true, sequence: 2)
                }
                #expect(error?.code == .invalidArgument)
                #expect(error?.message.contains("sequence 2 is not above 2") == true, "\(error?.message ?? "")")
                return (try await Self.pullAll(client, keys: keys + changed), perShard)
            }
            #expect(changedPerShard.count == 2)

            // New shard processes restore from the chain (what `tessera server --restore` does).
            let restored = try (0..<UInt32(2)).map { id in
                try ShardService(shardID: id, restoring: RestoredShard.load(directory: CheckpointFormat.shardDirectory(root: root, shardID: id)),
                                 root: root, shardCount: 2, tables: Self.tables, served: ["item"])
            }
            for (original, copy) in zip(originals, restored) {
                for spec in Self.tables {
                    let a = try #require(original.table(named: spec.name)), b = try #require(copy.table(named: spec.name))
                    #expect(a.rowCount == b.rowCount)
                    var same = true
                    a.forEachRow { key, value, state in
                        guard let row = b.row(for: key) else { same = false; return }
                        same = same && row.value.map(\.bitPattern) == value.map(\.bitPattern)
                            && row.state.map(\.bitPattern) == state.map(\.bitPattern)
                    }
                    #expect(same, "table \(spec.name) of shard \(original.shardID): rows or optimizer state differ")
                }
                // The serving index is rebuilt from the restored item rows.
                let index = try #require(copy.servingIndex(named: "item"))
                let item = try #require(copy.table(named: "item"))
                var indexed = true
                item.forEachRow { key, value, _ in indexed = indexed && index.vector(for: key) == Array(value) }
                #expect(indexed)
            }

            try await Self.serve(restored) { (routing: ShardRouting) async throws -> Void in
                let client = try ShardedParameterClient(routing: routing)
                let pulled = try await Self.pullAll(client, keys: keys + changed)
                #expect(pulled == beforeRestore)
                // A push the shards already applied before the checkpoint is skipped as a duplicate.
                var replay = Tessera_V1_PushRequest()
                replay.table = "user"
                replay.shardMapVersion = Self.version
                replay.keys = [1]
                replay.dim = 4
                replay.gradients = try [Float](repeating: 1, count: 4).withUnsafeBufferPointer { try RowPayload.encode($0, as: .float32) }
                replay.producer = "online-0"
                replay.sequence = 2
                let owner = ParameterServerClient(channel: try GRPCChannel(target: routing.addresses[routing.ring.shard(for: 1)]!))
                #expect(try await owner.push(replay).duplicate)

                // Training continues identically: the same pushes on the originals and the restored shards.
                try await Self.pushAll(client, keys: keys, round: 2)
                try await Self.pushAll(client, keys: changed, round: 3)
                let afterRestored = try await Self.pullAll(client, keys: keys + changed)

                // The restored shards extend the chain they came from.
                let next = try await client.checkpoint(directory: root, incremental: true)
                for response in next.values {
                    #expect(response.incremental && response.sequence == 3 && response.chainLength == 3)
                }
                // Another root starts a new chain there, with a full checkpoint.
                let elsewhere = try await client.checkpoint(directory: root + "/elsewhere", incremental: true)
                for response in elsewhere.values {
                    #expect(!response.incremental && response.sequence == 1 && response.chainLength == 1)
                }

                let afterOriginal: [String: [Float]] = try await Self.serve(originals) {
                    (routing: ShardRouting) async throws -> [String: [Float]] in
                    let client = try ShardedParameterClient(routing: routing)
                    try await Self.pushAll(client, keys: keys, round: 2)
                    try await Self.pushAll(client, keys: changed, round: 3)
                    return try await Self.pullAll(client, keys: keys + changed)
                }
                for spec in Self.tables {
                    let a = afterOriginal[spec.name]!, b = afterRestored[spec.name]!
                    #expect(a.map(\.bitPattern) == b.map(\.bitPattern), "table \(spec.name) trained differently after restore")
                }
                #expect(afterRestored != beforeRestore)
            }
        }
    }

    @Test func aCheckpointOfAnotherShardOrShapeIsRefused() async throws {
        try await Self.withRoot { (root: String) async throws -> Void in
            let original = try ShardService(shardID: 1, tables: Self.tables)
            try await Self.serve([try ShardService(shardID: 0, tables: Self.tables), original]) { (routing: ShardRouting) async throws -> Void in
                let client = try ShardedParameterClient(routing: routing)
                try await Self.pushAll(client, keys: Array(UInt64(1)...50), round: 0)
                _ = try await client.checkpoint(directory: root, incremental: false)
            }
            let restored = try RestoredShard.load(directory: CheckpointFormat.shardDirectory(root: root, shardID: 1))
            func refusal(_ make: () throws -> ShardService) -> String? {
                do {
                    _ = try make()
                    return nil
                } catch {
                    return (error as? CheckpointError)?.message
                }
            }
            #expect(refusal { try ShardService(shardID: 0, restoring: restored, root: root, shardCount: 2, tables: Self.tables) }
                == "checkpoint shard-1/manifest.json: belongs to shard 1, but this is shard 0")
            #expect(refusal { try ShardService(shardID: 1, restoring: restored, root: root, shardCount: 4, tables: Self.tables) }?
                .hasPrefix("checkpoint shard-1/manifest.json: was taken with 2 shards, but the cluster has 4") == true)
            var wider = Self.tables
            wider[0].dim = 8
            #expect(refusal { try ShardService(shardID: 1, restoring: restored, root: root, shardCount: 2, tables: wider) }?
                .contains("table 'user' has dimension 4 with sgd state; the config says dimension 8 with sgd") == true)
            // A new learning rate is fine: rows and state carry over.
            var retuned = Self.tables
            retuned[1].optimizer = .adagrad(learningRate: 0.01)
            let shard = try ShardService(shardID: 1, restoring: restored, root: root, shardCount: 2, tables: retuned)
            #expect(shard.table(named: "item")?.spec.optimizer == .adagrad(learningRate: 0.01))
            #expect(shard.table(named: "item")?.rowCount == original.table(named: "item")?.rowCount)
        }
    }
}
