import Foundation
import TesseraCore

/// `tessera bench checkpoint`: what checkpoints cost one shard, and what resharding costs.
///
/// For each size: one shard's table (rows created by pulls, then every row trained once, so
/// the optimizer state is real) is checkpointed in full, restored into fresh tables, 1% of
/// its rows are trained again and an incremental checkpoint written. Then the full
/// checkpoint's rows, split over 2 shards by the ring, are resharded onto 4. Files go to a
/// scratch folder that is removed afterwards. The page cache is not dropped: restore reads
/// what was just written, as a restart right after a checkpoint would.
public struct CheckpointBench: Sendable {
    public struct Result: Codable, Sendable {
        public var rows: Int
        public var dim: Int
        public var optimizer: String
        public var fullBytes: Int64
        public var saveSeconds: Double
        public var saveMBPerSecond: Double
        public var restoreSeconds: Double
        public var restoreMBPerSecond: Double
        /// After `changedFraction` of the rows changed.
        public var changedFraction: Double
        public var incrementalBytes: Int64
        public var incrementalSeconds: Double
        /// incremental / full bytes.
        public var incrementalRatio: Double
        /// Resharding the same rows from 2 shards to 4.
        public var reshardRows: Int
        public var reshardSeconds: Double
        public var reshardSecondsPerMillionRows: Double
        public var movedFraction: Double
        public var idealMovedFraction: Double
        public var checksumsEqual: Bool
    }

    public let scratch: String

    public init(scratch: String) {
        self.scratch = scratch
    }

    public func run(rows: Int, dim: Int, optimizer: OptimizerSpec, changedFraction: Double = 0.01,
                    progress: @Sendable (String) -> Void) throws -> Result {
        let root = "\(scratch)/tessera-bench-checkpoint-\(getpid())-\(rows)"
        try? FileManager.default.removeItem(atPath: root)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let spec = TableSpec(name: "bench", dim: dim, optimizer: optimizer, initializer: .normal(std: 0.01), seed: 5)
        let clock = ContinuousClock()

        // Two shards' tables, filled by the ring, so the same rows serve the single-shard
        // measurements (shard 0 and 1 together) and the resharding.
        let oldRing = ConsistentHashRing(shardIDs: [0, 1], virtualNodes: RingSettings().virtualNodes, seed: RingSettings().seed)
        let tables = try [0, 1].map { _ in try EmbeddingTable(spec: spec) }
        let batch = 65_536
        let gradient = [Float](repeating: 1e-3, count: batch * dim)
        for start in stride(from: 0, to: rows, by: batch) {
            let keys = (start..<min(start + batch, rows)).map { Hashing.mix64(UInt64($0)) }
            var owned: [[UInt64]] = [[], []]
            for key in keys { owned[Int(oldRing.shard(for: key))].append(key) }
            for (shard, shardKeys) in owned.enumerated() where !shardKeys.isEmpty {
                _ = try tables[shard].pull(keys: shardKeys)
                _ = try tables[shard].push(keys: shardKeys, gradients: Array(gradient.prefix(shardKeys.count * dim)))
            }
            if (start / batch) % 32 == 31 { progress("checkpoint bench: \(min(start + batch, rows)) of \(rows) rows made") }
        }

        // Full checkpoint and restore of each shard (the figures are per shard: sum of bytes / sum of seconds).
        let ring = CheckpointRing(oldRing)
        var writers: [CheckpointWriter] = []
        var fullBytes: Int64 = 0
        var saveSeconds = 0.0
        for shard in 0..<2 {
            let writer = try CheckpointWriter(directory: CheckpointFormat.shardDirectory(root: root, shardID: UInt32(shard)),
                                              shardID: UInt32(shard))
            let summary = try writer.checkpoint(tables: [tables[shard]], kind: .full, shardCount: 2, ring: ring)
            fullBytes += summary.bytes
            saveSeconds += summary.seconds
            writers.append(writer)
        }
        progress("checkpoint bench: full checkpoint of \(rows) rows, \(fullBytes) bytes in \(String(format: "%.2f", saveSeconds)) s")
        var restoreSeconds = 0.0
        for shard in 0..<2 {
            let start = clock.now
            let restored = try RestoredShard.load(directory: CheckpointFormat.shardDirectory(root: root, shardID: UInt32(shard)))
            restoreSeconds += (clock.now - start).seconds
            guard restored.tables.first?.rowCount == tables[shard].rowCount else {
                throw CheckpointError(.corrupt, "checkpoint bench: shard \(shard) restored \(restored.tables.first?.rowCount ?? 0) rows, expected \(tables[shard].rowCount)")
            }
        }

        // 1% of the rows change; the incremental holds them.
        let changed = max(1, Int(Double(rows) * changedFraction))
        var rng = SplitMix64(seed: 17)
        var changedKeys: [[UInt64]] = [[], []]
        for _ in 0..<changed {
            let key = Hashing.mix64(UInt64(rng.nextInt(below: rows)))
            changedKeys[Int(oldRing.shard(for: key))].append(key)
        }
        var incrementalBytes: Int64 = 0
        var incrementalSeconds = 0.0
        for shard in 0..<2 {
            let keys = Array(Set(changedKeys[shard]))
            for start in stride(from: 0, to: keys.count, by: batch) {
                let slice = Array(keys[start..<min(start + batch, keys.count)])
                _ = try tables[shard].push(keys: slice, gradients: Array(gradient.prefix(slice.count * dim)))
            }
            let summary = try writers[shard].checkpoint(tables: [tables[shard]], kind: .incremental, shardCount: 2, ring: ring)
            incrementalBytes += summary.bytes
            incrementalSeconds += summary.seconds
        }

        // Reshard 2 -> 4.
        let newRing = ConsistentHashRing(shardIDs: [0, 1, 2, 3], virtualNodes: RingSettings().virtualNodes, seed: RingSettings().seed)
        let start = clock.now
        let report = try CheckpointResharding.reshard(from: root, to: root + "-4", ring: newRing)
        let reshardSeconds = (clock.now - start).seconds
        try? FileManager.default.removeItem(atPath: root + "-4")

        let megabytes = Double(fullBytes) / 1e6
        return Result(
            rows: rows, dim: dim, optimizer: optimizer.name, fullBytes: fullBytes,
            saveSeconds: saveSeconds, saveMBPerSecond: megabytes / max(saveSeconds, 1e-9),
            restoreSeconds: restoreSeconds, restoreMBPerSecond: megabytes / max(restoreSeconds, 1e-9),
            changedFraction: changedFraction, incrementalBytes: incrementalBytes, incrementalSeconds: incrementalSeconds,
            incrementalRatio: Double(incrementalBytes) / Double(max(fullBytes, 1)),
            reshardRows: report.rows, reshardSeconds: reshardSeconds,
            reshardSecondsPerMillionRows: reshardSeconds / max(Double(report.rows) / 1e6, 1e-9),
            movedFraction: report.movedFraction, idealMovedFraction: report.idealMovedFraction,
            checksumsEqual: report.checksumAfter == report.checksumBefore)
    }
}
