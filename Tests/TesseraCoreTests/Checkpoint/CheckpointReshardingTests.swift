import Foundation
import Testing
import TesseraCore

/// Offline resharding moves rows to their new owners and changes none of them.
@Suite struct CheckpointReshardingTests {
    typealias Support = CheckpointTestSupport

    static let virtualNodes = 128
    static let seed: UInt64 = 0x7E55_E7A0

    static func ring(_ count: Int) -> ConsistentHashRing {
        ConsistentHashRing(shardIDs: (0..<UInt32(count)).map { $0 }, virtualNodes: virtualNodes, seed: seed)
    }

    /// Trains `count` shards on the keys each owns and checkpoints them under `root`
    /// (full, then an incremental, so resharding reads whole chains). Returns the tables per shard.
    private static func checkpointShards(_ count: Int, root: String, keys: Int) throws -> [[EmbeddingTable]] {
        let ring = Self.ring(count)
        var shards: [[EmbeddingTable]] = []
        let allKeys = (0..<keys).map { UInt64($0) &* 0x2545_F491_4F6C_DD1D }
        for id in 0..<UInt32(count) {
            let owned = allKeys.filter { ring.shard(for: $0) == id }
            let tables = try Support.makeTables()
            try Support.train(tables, keys: owned, round: 0)
            let writer = try CheckpointWriter(directory: CheckpointFormat.shardDirectory(root: root, shardID: id), shardID: id)
            _ = try writer.checkpoint(tables: tables, kind: .full, shardCount: count, ring: CheckpointRing(ring),
                                      producerSequences: ["p/user": UInt64(10 + id)])
            try Support.train(tables, keys: owned.filter { $0 % 7 == 0 }, round: 1)
            #expect(tables[0].remove(keys: owned.filter { $0 % 11 == 0 }) > 0)
            _ = try writer.checkpoint(tables: tables, kind: .incremental, shardCount: count, ring: CheckpointRing(ring),
                                      producerSequences: ["p/user": UInt64(20 + id)])
            shards.append(tables)
        }
        return shards
    }

    private static func reshard(from oldCount: Int, to newCount: Int) async throws {
        try await Support.withDirectory { base in
            let oldRoot = base + "/old", newRoot = base + "/new"
            let shards = try checkpointShards(oldCount, root: oldRoot, keys: 4_000)
            let before = CheckpointChecksum.of(shards.flatMap { $0 })

            // The plan over restored shards agrees with what the writer will do.
            let restored = try (0..<UInt32(oldCount)).map {
                try RestoredShard.load(directory: CheckpointFormat.shardDirectory(root: oldRoot, shardID: $0))
            }
            let newRing = Self.ring(newCount)
            let plan = CheckpointResharding.plan(restored, to: newRing)
            #expect(plan.report.checksumBefore == before)

            let report = try CheckpointResharding.reshard(from: oldRoot, to: newRoot, ring: newRing)
            #expect(report.checksumBefore == before)
            #expect(report.checksumAfter == before)
            #expect(report.rows == before.rows && report.movedRows == plan.report.movedRows)
            #expect(report.rowsPerNewShard == plan.report.rowsPerNewShard)
            #expect(report.sequence == 3)

            // Moved fraction: close to the ideal |M - N| / max(M, N), and to what the rings predict.
            let ideal = Double(abs(newCount - oldCount)) / Double(max(oldCount, newCount))
            #expect(report.idealMovedFraction == ideal)
            let expected = try #require(report.expectedMovedFraction)
            #expect(abs(report.movedFraction - ideal) < 0.08, "moved \(report.movedFraction), ideal \(ideal)")
            #expect(abs(report.movedFraction - expected) < 0.03, "moved \(report.movedFraction), rings predict \(expected)")
            print("resharding \(oldCount) -> \(newCount): moved \(report.movedRows) of \(report.rows) rows (\(report.movedFraction)); ideal \(ideal), rings predict \(expected)")

            // Every new shard's checkpoint restores, holds only rows it owns, and together they hold every row.
            var after = CheckpointChecksum()
            var union: [String: [UInt64: [UInt32]]] = [:]
            for id in 0..<UInt32(newCount) {
                let shard = try RestoredShard.load(directory: CheckpointFormat.shardDirectory(root: newRoot, shardID: id))
                #expect(shard.manifest.shardID == id && shard.manifest.shardCount == newCount)
                #expect(shard.manifest.ring == CheckpointRing(newRing))
                #expect(shard.manifest.producerSequences == ["p/user": UInt64(20 + oldCount - 1)])
                after.add(CheckpointChecksum.of(shard.tables))
                for table in shard.tables {
                    let rows = Support.rows(of: table)
                    #expect(rows.keys.allSatisfy { newRing.shard(for: $0) == id })
                    union[table.spec.name, default: [:]].merge(rows) { a, _ in a }
                }
            }
            #expect(after == before)
            for table in shards.flatMap({ $0 }) {
                let original = Support.rows(of: table)
                let moved = union[table.spec.name] ?? [:]
                #expect(original.allSatisfy { moved[$0.key] == $0.value })
            }
            #expect(union.values.reduce(0) { $0 + $1.count } == before.rows)
        }
    }

    @Test func twoShardsBecomeFour() async throws {
        try await Self.reshard(from: 2, to: 4)
    }

    @Test func fourShardsBecomeTwo() async throws {
        try await Self.reshard(from: 4, to: 2)
    }

    @Test func aMissingOldShardIsRefused() async throws {
        try await Support.withDirectory { base in
            _ = try Self.checkpointShards(3, root: base + "/old", keys: 300)
            try FileManager.default.removeItem(atPath: base + "/old/shard-1")
            let error = Support.failure {
                _ = try CheckpointResharding.reshard(from: base + "/old", to: base + "/new", ring: Self.ring(2))
            }
            #expect(error?.code == .mismatch)
            #expect(error?.message.contains("was taken with 3 shards") == true, "\(error?.message ?? "")")
        }
    }

    @Test func theChecksumSeesAnyChange() throws {
        let tables = try Support.makeTables()
        try Support.train(tables, keys: Array(UInt64(0)..<100), round: 0)
        let before = CheckpointChecksum.of(tables)
        // Reordering does not matter; one bit of optimizer state does.
        #expect(CheckpointChecksum.of(tables.reversed()) == before)
        let row = try #require(tables[0].row(for: 5))
        var state = row.state
        state[0] = state[0].nextUp
        try tables[0].insert(key: 5, value: row.value, state: state)
        #expect(CheckpointChecksum.of(tables) != before)
    }
}
