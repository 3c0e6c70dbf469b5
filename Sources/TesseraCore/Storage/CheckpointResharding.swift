import Foundation

/// What moving rows from N shards' checkpoints to M shards did (or would do).
public struct ReshardReport: Sendable, Hashable {
    public var oldShardIDs: [UInt32]
    public var newShardIDs: [UInt32]
    /// Rows over all tables.
    public var rows = 0
    /// Rows whose new owner is not the shard that held them.
    public var movedRows = 0
    /// Rows per new shard (all tables).
    public var rowsPerNewShard: [UInt32: Int] = [:]
    /// `|M - N| / max(M, N)`: the least any placement can move when shards
    /// are added or removed and every shard keeps an equal share.
    public var idealMovedFraction: Double
    /// What the two rings predict from their arcs (see
    /// `CheckpointResharding.expectedMovedFraction`), when the old ring is known.
    public var expectedMovedFraction: Double?
    /// Over every (table, key, value, optimizer state) before resharding.
    public var checksumBefore = CheckpointChecksum()
    /// The same over the rows read back from the new checkpoints (`reshard` only).
    public var checksumAfter: CheckpointChecksum?
    /// Sequence of the new checkpoints (`reshard` only).
    public var sequence: UInt64?

    /// `movedRows / rows` (0 with no rows).
    public var movedFraction: Double {
        rows == 0 ? 0 : Double(movedRows) / Double(rows)
    }
}

/// Offline resharding: moves the rows of N shards' checkpoints to the owners
/// a new consistent-hash ring of M shards gives them, keeping every value and
/// optimizer state bit for bit.
public enum CheckpointResharding {
    /// Keys per new shard and table, with the report (no files written).
    public struct Plan: Sendable {
        /// New shard id → table name → keys it will own.
        public var destinations: [UInt32: [String: [UInt64]]]
        public var report: ReshardReport
    }

    /// Where each row of `old` (restored shards) goes under `ring`.
    public static func plan(_ old: [RestoredShard], to ring: ConsistentHashRing) -> Plan {
        let oldIDs = old.map(\.manifest.shardID).sorted()
        var report = ReshardReport(
            oldShardIDs: oldIDs, newShardIDs: ring.shardIDs,
            idealMovedFraction: idealMovedFraction(from: oldIDs.count, to: ring.shardIDs.count),
            expectedMovedFraction: old.first?.manifest.ring.flatMap { expectedMovedFraction(from: $0.ring, to: ring) })
        var destinations: [UInt32: [String: [UInt64]]] = [:]
        for shard in old {
            let from = shard.manifest.shardID
            for table in shard.tables {
                report.checksumBefore.add(table)
                table.forEachStripeSnapshot(changedAfter: nil) { snapshot in
                    for key in snapshot.keys {
                        let to = ring.shard(for: key)
                        destinations[to, default: [:]][table.spec.name, default: []].append(key)
                        report.rowsPerNewShard[to, default: 0] += 1
                        if to != from { report.movedRows += 1 }
                    }
                }
            }
        }
        report.rows = report.checksumBefore.rows
        return Plan(destinations: destinations, report: report)
    }

    /// `|M - N| / max(M, N)`.
    public static func idealMovedFraction(from oldCount: Int, to newCount: Int) -> Double {
        guard max(oldCount, newCount) > 0 else { return 0 }
        return Double(abs(newCount - oldCount)) / Double(max(oldCount, newCount))
    }

    /// The share of the key space whose owner changes from `old` to `new`, from
    /// the rings' arcs: the arcs of removed shards in `old` plus those of added
    /// shards in `new`. Exact when shards are only added or only removed (a
    /// kept shard's points stay where they were); nil when the rings do not
    /// share virtual nodes and seed (then nearly every key moves).
    public static func expectedMovedFraction(from old: ConsistentHashRing, to new: ConsistentHashRing) -> Double? {
        guard old.virtualNodes == new.virtualNodes, old.seed == new.seed else { return nil }
        let oldShards = Set(old.shardIDs), newShards = Set(new.shardIDs)
        let oldShare = old.ownership(), newShare = new.ownership()
        let removed = oldShards.subtracting(newShards).reduce(0.0) { $0 + (oldShare[$1] ?? 0) }
        let added = newShards.subtracting(oldShards).reduce(0.0) { $0 + (newShare[$1] ?? 0) }
        return min(1, removed + added)
    }

    /// The shard directories (`shard-<id>`) under `root` that hold a manifest, by id.
    public static func shardDirectories(root: String) -> [UInt32: String] {
        var found: [UInt32: String] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [] {
            guard name.hasPrefix("shard-"), let id = UInt32(name.dropFirst(6)) else { continue }
            let directory = CheckpointFormat.shardDirectory(root: root, shardID: id)
            if FileManager.default.fileExists(atPath: directory + "/" + CheckpointFormat.manifestName) { found[id] = directory }
        }
        return found
    }

    /// Reads the checkpoints of every shard under `oldRoot` and writes one full
    /// checkpoint per shard of `ring` under `newRoot`, table by table (one
    /// table of one old shard in memory at a time, plus write buffers).
    ///
    /// Checks before writing: the old shards agree on the shard count (none is
    /// missing) and tables, and no new shard directory holds a checkpoint yet.
    /// After writing it reads the new checkpoints back and throws if any row is
    /// not on its owner or the checksum over all rows changed.
    ///
    /// - Parameter sequence: of the new checkpoints; 0 takes one above the old shards' highest.
    public static func reshard(from oldRoot: String, to newRoot: String, ring: ConsistentHashRing,
                               sequence requested: UInt64 = 0) throws(CheckpointError) -> ReshardReport {
        let standardized = { (path: String) in URL(fileURLWithPath: path).standardizedFileURL.path }
        guard standardized(oldRoot) != standardized(newRoot) else {
            throw CheckpointError(.invalidArgument, "resharding: write the new checkpoints to another directory than \(oldRoot)")
        }
        let oldDirectories = shardDirectories(root: oldRoot)
        guard !oldDirectories.isEmpty else {
            throw CheckpointError(.missing, "resharding: no shard checkpoints (shard-<id>/manifest.json) under \(oldRoot)", path: oldRoot)
        }
        var manifests: [UInt32: CheckpointManifest] = [:]
        for (id, directory) in oldDirectories {
            let manifest = try CheckpointManifest.load(directory: directory)
            let path = directory + "/" + CheckpointFormat.manifestName
            guard manifest.shardID == id else {
                throw .file(.mismatch, path, "belongs to shard \(manifest.shardID), not \(id)")
            }
            guard manifest.shardCount == oldDirectories.count else {
                throw .file(.mismatch, path, "was taken with \(manifest.shardCount) shards, but \(oldRoot) holds checkpoints of \(oldDirectories.count) (ids \(oldDirectories.keys.sorted())); is one missing?")
            }
            if let first = manifests.values.first, first.tables != manifest.tables {
                throw .file(.mismatch, path, "declares other tables than shard \(first.shardID)")
            }
            manifests[id] = manifest
        }
        let oldIDs = oldDirectories.keys.sorted()
        let tables = manifests[oldIDs[0]]!.tables
        let sequence = requested == 0 ? (manifests.values.map(\.sequence).max() ?? 0) + 1 : requested
        var producerSequences: [String: UInt64] = [:]
        for manifest in manifests.values {
            producerSequences.merge(manifest.producerSequences) { max($0, $1) }
        }

        var report = ReshardReport(
            oldShardIDs: oldIDs, newShardIDs: ring.shardIDs,
            idealMovedFraction: idealMovedFraction(from: oldIDs.count, to: ring.shardIDs.count),
            expectedMovedFraction: manifests[oldIDs[0]]!.ring.flatMap { expectedMovedFraction(from: $0.ring, to: ring) })
        report.sequence = sequence

        // One writer and one row buffer per new shard.
        var outputs: [UInt32: Output] = [:]
        for id in ring.shardIDs {
            let directory = CheckpointFormat.shardDirectory(root: newRoot, shardID: id)
            if FileManager.default.fileExists(atPath: directory + "/" + CheckpointFormat.manifestName) {
                throw .file(.invalidArgument, directory + "/" + CheckpointFormat.manifestName,
                            "already exists; resharding writes into an empty directory")
            }
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                throw .file(.io, directory, "cannot create the directory: \(error.localizedDescription)")
            }
            let name = CheckpointFormat.fileName(sequence: sequence, kind: .full)
            let output = Output(directory: directory, name: name, writer: try CheckpointFileWriter(path: directory + "/" + name))
            try output.writer.write(raw: CheckpointFormat.magic)
            try output.writer.writeJSONBlock(.header, CheckpointFormat.FileHeader(
                formatVersion: CheckpointFormat.formatVersion, kind: .full, shardID: id, sequence: sequence))
            outputs[id] = output
        }

        for spec in tables {
            for output in outputs.values {
                try output.writer.writeJSONBlock(.table, CheckpointFormat.TableHeader(spec: spec))
            }
            let width = spec.dim + spec.stateWidth
            let tableHash = Hashing.hash(spec.name)
            for from in oldIDs {
                let restored = try RestoredShard.load(directory: oldDirectories[from]!, only: [spec.name], stripeCount: 1)
                guard let table = restored.table(named: spec.name) else { continue }
                try table.forEachStripeSnapshot(changedAfter: nil) { (snapshot) throws(CheckpointError) in
                    try snapshot.rows.withUnsafeBufferPointer { (rows) throws(CheckpointError) in
                        for (i, key) in snapshot.keys.enumerated() {
                            let row = UnsafeBufferPointer(rebasing: rows[i * width..<(i + 1) * width])
                            let to = ring.shard(for: key)
                            report.checksumBefore.add(tableHash: tableHash, key: key, row: row)
                            report.rowsPerNewShard[to, default: 0] += 1
                            if to != from { report.movedRows += 1 }
                            try outputs[to]!.append(key: key, row: row, width: width)
                        }
                    }
                }
            }
            for output in outputs.values { try output.flush(width: width) }
        }

        for (id, output) in outputs {
            try output.writer.writeJSONBlock(.end, CheckpointFormat.FileFooter(tables: tables.count, rows: output.rows, removed: 0))
            let (bytes, crc) = try output.writer.commit()
            let entry = CheckpointManifest.Entry(
                file: output.name, kind: .full, sequence: sequence, bytes: bytes, crc32c: crc, rows: output.rows, removed: 0,
                writtenAt: Date().timeIntervalSince1970)
            try CheckpointManifest(
                shardID: id, shardCount: ring.shardIDs.count, ring: CheckpointRing(ring), sequence: sequence, tables: tables,
                chain: [entry], producerSequences: producerSequences
            ).save(directory: output.directory)
        }
        report.rows = report.checksumBefore.rows

        // Read everything back: each row on its owner, nothing changed.
        var after = CheckpointChecksum()
        for (id, output) in outputs {
            for spec in tables {
                let restored = try RestoredShard.load(directory: output.directory, only: [spec.name], stripeCount: 1)
                guard let table = restored.table(named: spec.name) else { continue }
                var misplaced: UInt64?
                table.forEachStripeSnapshot(changedAfter: nil) { snapshot in
                    if misplaced == nil, let key = snapshot.keys.first(where: { ring.shard(for: $0) != id }) { misplaced = key }
                }
                if let misplaced {
                    throw .file(.corrupt, output.directory, "row \(misplaced) of table '\(spec.name)' was written to shard \(id), but the ring gives it to shard \(ring.shard(for: misplaced))")
                }
                after.add(table)
            }
        }
        report.checksumAfter = after
        guard after == report.checksumBefore else {
            throw CheckpointError(.corrupt, "resharding \(oldRoot) into \(newRoot) changed the rows: checksum before \(report.checksumBefore), after \(after)")
        }
        return report
    }

    /// A new shard's file being written, with the rows waiting for the next block.
    private final class Output {
        let directory: String
        let name: String
        let writer: CheckpointFileWriter
        var keys: [UInt64] = []
        var values: [Float] = []
        var rows = 0

        init(directory: String, name: String, writer: CheckpointFileWriter) {
            self.directory = directory
            self.name = name
            self.writer = writer
        }

        func append(key: UInt64, row: UnsafeBufferPointer<Float>, width: Int) throws(CheckpointError) {
            keys.append(key)
            values.append(contentsOf: row)
            rows += 1
            if values.count * 4 >= CheckpointFormat.maxBlockBytes { try flush(width: width) }
        }

        func flush(width: Int) throws(CheckpointError) {
            guard !keys.isEmpty else { return }
            try keys.withUnsafeBufferPointer { (k) throws(CheckpointError) in
                try values.withUnsafeBufferPointer { (v) throws(CheckpointError) in try writer.writeRows(keys: k, rows: v, width: width) }
            }
            keys.removeAll(keepingCapacity: true)
            values.removeAll(keepingCapacity: true)
        }
    }
}
