import Foundation
import Testing
import TesseraCore

/// Full and incremental checkpoints restore every row and optimizer state bit for bit.
@Suite struct CheckpointRoundTripTests {
    typealias Support = CheckpointTestSupport

    @Test func fullCheckpointRestoresRowsAndStateAndTrainingContinuesIdentically() async throws {
        try await Support.withDirectory { root in
            let directory = CheckpointFormat.shardDirectory(root: root, shardID: 1)
            let tables = try Support.makeTables()
            let keys = (0..<3_000).map { UInt64($0) &* 0x9E37_79B9_7F4A_7C15 }
            for round in 0..<3 { try Support.train(tables, keys: Array(keys.prefix(1_000 * (round + 1))), round: round) }
            try tables[0].insert(key: 42, value: [Float](repeating: 0.25, count: 8))

            let writer = try CheckpointWriter(directory: directory, shardID: 1)
            let ring = CheckpointRing(shardIDs: [0, 1], virtualNodes: 64, seed: 9)
            let summary = try writer.checkpoint(tables: tables, kind: .full, shardCount: 2, ring: ring,
                                                producerSequences: ["online-0/item": 17])
            #expect(summary.kind == .full && summary.sequence == 1 && summary.chainLength == 1)
            #expect(summary.rows == tables.reduce(0) { $0 + $1.rowCount })
            #expect(summary.files == [directory + "/000001.full", directory + "/manifest.json"])

            let restored = try RestoredShard.load(directory: directory)
            Support.expectIdentical(tables, restored.tables)
            #expect(restored.manifest.shardID == 1 && restored.manifest.shardCount == 2 && restored.manifest.ring == ring)
            #expect(restored.manifest.producerSequences == ["online-0/item": 17])
            #expect(CheckpointChecksum.of(tables) == CheckpointChecksum.of(restored.tables))

            // The same pushes on both give the same rows: Adam's t, Adagrad's and FTRL's accumulators came back.
            for round in 3..<6 {
                try Support.train(tables, keys: keys, round: round)
                try Support.train(restored.tables, keys: keys, round: round)
            }
            Support.expectIdentical(tables, restored.tables)
        }
    }

    @Test func incrementalsApplyInOrderWithCreationsAssignmentsAndRemovals() async throws {
        try await Support.withDirectory { root in
            let directory = CheckpointFormat.shardDirectory(root: root, shardID: 0)
            let tables = try Support.makeTables()
            let writer = try CheckpointWriter(directory: directory, shardID: 0)
            let keys = Array(UInt64(1)...2_000)
            try Support.train(tables, keys: keys, round: 0)
            _ = try writer.checkpoint(tables: tables, kind: .full, shardCount: 1, ring: nil)

            // Changes of every kind: pushes, new rows from pulls, assignments, removals,
            // and a row removed then created again.
            try Support.train(tables, keys: Array(keys[0..<50]), round: 1)
            _ = try tables[1].pull(keys: Array(UInt64(5_000)..<5_030))
            try tables[2].insert(key: 1_500, value: [0.5, -0.5, 0.25])
            #expect(tables[0].remove(keys: Array(keys[100..<120])) == 20)
            #expect(tables[0].remove(keys: [300]) == 1)
            _ = try tables[0].pull(keys: [300])
            let second = try writer.checkpoint(tables: tables, kind: .incremental, shardCount: 1, ring: nil)
            #expect(second.kind == .incremental && second.sequence == 2 && second.chainLength == 2)
            // 50 pushed rows in each of 4 tables, 30 created, 1 assigned, 1 re-created; 20 removed.
            #expect(second.rows == 50 * 4 + 30 + 1 + 1)
            #expect(second.removed == 20)

            try Support.train(tables, keys: Array(keys[1_000..<1_010]), round: 2)
            let third = try writer.checkpoint(tables: tables, kind: .incremental, sequence: 10, shardCount: 1, ring: nil)
            #expect(third.rows == 40 && third.removed == 0 && third.sequence == 10 && third.chainLength == 3)

            let restored = try RestoredShard.load(directory: directory)
            #expect(restored.manifest.chain.map(\.file) == ["000001.full", "000002.inc", "000010.inc"])
            Support.expectIdentical(tables, restored.tables)
            #expect(restored.tables[0].row(for: 110) == nil)

            // Nothing changed: an empty incremental; and the restored chain can be extended.
            let empty = try writer.checkpoint(tables: tables, kind: .incremental, shardCount: 1, ring: nil)
            #expect(empty.rows == 0 && empty.removed == 0)
            let continued = CheckpointWriter(continuing: restored)
            try Support.train(restored.tables, keys: [1, 2, 3], round: 3)
            let next = try continued.checkpoint(tables: restored.tables, kind: .incremental, shardCount: 1, ring: nil)
            #expect(next.rows == 3 * 4 && next.sequence == 12)
            Support.expectIdentical(restored.tables, try RestoredShard.load(directory: directory).tables)
        }
    }

    @Test func incrementalHoldsOnlyTheChangedRows() async throws {
        try await Support.withDirectory { root in
            let directory = CheckpointFormat.shardDirectory(root: root, shardID: 0)
            let tables = try Support.makeTables([TableSpec(name: "user", dim: 16, optimizer: .adagrad(learningRate: 0.1), seed: 5)])
            let keys = (0..<20_000).map { UInt64($0) * 31 + 7 }
            try Support.train(tables, keys: keys, round: 0)
            let writer = try CheckpointWriter(directory: directory, shardID: 0)
            let full = try writer.checkpoint(tables: tables, kind: .full, shardCount: 1, ring: nil)
            // 1% of the rows change.
            let changed = stride(from: 0, to: keys.count, by: 100).map { keys[$0] }
            try Support.train(tables, keys: changed, round: 1)
            let incremental = try writer.checkpoint(tables: tables, kind: .incremental, shardCount: 1, ring: nil)
            #expect(full.rows == 20_000)
            #expect(incremental.rows == 200)
            let ratio = Double(incremental.bytes) / Double(full.bytes)
            // Rows are ~1% of the bytes; block headers and JSON add a little.
            #expect(ratio < 0.015, "incremental is \(incremental.bytes) bytes, full \(full.bytes) (ratio \(ratio))")
            #expect(ratio > 0.005)
            Support.expectIdentical(tables, try RestoredShard.load(directory: directory).tables)
        }
    }

    @Test func checkpointWhileTrainingMissesNothing() async throws {
        try await Support.withDirectory { root in
            let directory = CheckpointFormat.shardDirectory(root: root, shardID: 0)
            let tables = try Support.makeTables(stripeCount: 64)
            let keys = Array(UInt64(0)..<4_000)
            try Support.train(tables, keys: keys, round: 0)
            let writer = try CheckpointWriter(directory: directory, shardID: 0)
            // Pushes run on another thread while checkpoints are taken.
            let trainer = Support.Background {
                for round in 1...40 {
                    let start = (round * 97) % 3_500
                    try Support.train(tables, keys: Array(keys[start..<start + 500]) + [UInt64(10_000 + round)], round: round)
                }
            }
            _ = try writer.checkpoint(tables: tables, kind: .full, shardCount: 1, ring: nil)
            for _ in 0..<3 { _ = try writer.checkpoint(tables: tables, kind: .incremental, shardCount: 1, ring: nil) }
            try trainer.join()
            // The last incremental after training stopped must bring the chain up to date.
            _ = try writer.checkpoint(tables: tables, kind: .incremental, shardCount: 1, ring: nil)
            Support.expectIdentical(tables, try RestoredShard.load(directory: directory).tables)
        }
    }

    @Test func leftoverTempFilesAndStrayFilesAreIgnoredThenRemoved() async throws {
        try await Support.withDirectory { root in
            let directory = CheckpointFormat.shardDirectory(root: root, shardID: 3)
            let tables = try Support.makeTables()
            try Support.train(tables, keys: Array(UInt64(0)..<500), round: 0)
            let writer = try CheckpointWriter(directory: directory, shardID: 3)
            _ = try writer.checkpoint(tables: tables, kind: .full, shardCount: 4, ring: nil)
            // A crash in the middle of the next checkpoint leaves temp files behind,
            // including a half-written manifest.
            try Support.write(Array("garbage".utf8), to: directory + "/.000002.inc.tmp")
            try Support.write(Array("{\"format\":".utf8), to: directory + "/.manifest.json.tmp")
            try Support.write(Array("not a checkpoint".utf8), to: directory + "/000007.inc")
            let restored = try RestoredShard.load(directory: directory)
            Support.expectIdentical(tables, restored.tables)

            // A new writer continues above the stray file's sequence and cleans up.
            let next = try CheckpointWriter(directory: directory, shardID: 3)
            let summary = try next.checkpoint(tables: tables, kind: .incremental, shardCount: 4, ring: nil)
            #expect(summary.kind == .full, "a fresh writer has no chain to extend")
            #expect(summary.sequence == 8)
            let names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
            #expect(names == ["000008.full", "manifest.json"])
            Support.expectIdentical(tables, try RestoredShard.load(directory: directory).tables)
        }
    }

    @Test func sequencesMustRise() async throws {
        try await Support.withDirectory { root in
            let tables = try Support.makeTables()
            let writer = try CheckpointWriter(directory: root + "/shard-0", shardID: 0)
            _ = try writer.checkpoint(tables: tables, kind: .full, sequence: 5, shardCount: 1, ring: nil)
            let error = Support.failure {
                _ = try writer.checkpoint(tables: tables, kind: .incremental, sequence: 5, shardCount: 1, ring: nil)
            }
            #expect(error?.code == .invalidArgument)
            #expect(error?.message.contains("sequence 5 is not above 5") == true)
            #expect(try writer.checkpoint(tables: tables, kind: .incremental, shardCount: 1, ring: nil).sequence == 6)
        }
    }
}
