import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What one checkpoint wrote.
public struct CheckpointSummary: Sendable, Hashable {
    public var shardID: UInt32
    public var sequence: UInt64
    /// What was written: an incremental request is written as a full checkpoint
    /// when there is no chain to extend yet.
    public var kind: CheckpointKind
    /// Paths written: the data file, then the manifest.
    public var files: [String]
    /// Rows and removals in the data file.
    public var rows: Int
    public var removed: Int
    /// Bytes of the data file.
    public var bytes: Int64
    /// Wall-clock seconds from start to the durable manifest.
    public var seconds: Double
    /// Files in the chain now (1 after a full checkpoint).
    public var chainLength: Int
}

/// Writes the checkpoints of one shard into its directory and keeps its chain:
/// a full checkpoint starts a new chain, an incremental one appends the rows
/// changed since the previous checkpoint this writer wrote (or restored).
///
/// Training goes on while a checkpoint is written: rows are copied one lock
/// stripe at a time (see `EmbeddingTable.forEachStripeSnapshot`). Each stripe is
/// a consistent snapshot; the checkpoint as a whole is not a point-in-time
/// snapshot across stripes, which is what asynchronous training needs (every
/// row's value and optimizer state agree with each other).
///
/// Thread-safe; one checkpoint at a time (a second concurrent call is refused).
/// Use one writer per shard directory and pass it the same tables each time.
/// Tables keep removals for one chain: a successful checkpoint forgets the
/// removals it recorded, so do not alternate checkpoints of the same tables
/// between two writers (start a new chain with a full checkpoint instead).
public final class CheckpointWriter: Sendable {
    public let directory: String
    public let shardID: UInt32

    private struct State {
        /// The chain incrementals extend; nil until the first checkpoint (or a restore).
        var manifest: CheckpointManifest?
        /// Per table, the generation the chain's newest file covers.
        var covered: [String: UInt64] = [:]
        /// The highest sequence in the directory (files or manifest).
        var highestSequence: UInt64 = 0
        var busy = false
    }

    private let state: Mutex<State>

    /// A writer for `directory` (created if missing) that starts a new
    /// chain: its first checkpoint is full. Sequences continue above any found
    /// in the directory, so files an older chain still needs are never overwritten.
    public init(directory: String, shardID: UInt32) throws(CheckpointError) {
        self.directory = directory
        self.shardID = shardID
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw .file(.io, directory, "cannot create the checkpoint directory: \(error.localizedDescription)")
        }
        state = Mutex(State(highestSequence: Self.highestSequence(in: directory)))
    }

    /// A writer that extends the chain `restored` was read from: the rows
    /// restored count as saved, so the next incremental holds only what changes
    /// from now on.
    ///
    /// - Parameter tables: the tables later passed to `checkpoint`, holding
    ///   exactly the restored rows (default `restored.tables`; see
    ///   `RestoredShard.tables(for:shardID:shardCount:)`). Tables the chain does
    ///   not have go into the next incremental whole.
    public init(continuing restored: RestoredShard, tables: [EmbeddingTable]? = nil) {
        directory = restored.directory
        shardID = restored.manifest.shardID
        let known = Set(restored.manifest.tables.map(\.name))
        var covered: [String: UInt64] = [:]
        for table in tables ?? restored.tables where known.contains(table.spec.name) {
            covered[table.spec.name] = table.advanceGeneration()
        }
        state = Mutex(State(manifest: restored.manifest, covered: covered,
                            highestSequence: max(restored.manifest.sequence, Self.highestSequence(in: restored.directory))))
    }

    /// The sequence of the newest checkpoint in this chain, if any.
    public var sequence: UInt64? {
        state.withLock { $0.manifest?.sequence }
    }

    /// Writes a checkpoint of `tables` and makes it the shard's current one.
    ///
    /// - Parameters:
    ///   - kind: `.incremental` holds only rows created, changed or removed since
    ///     this chain's previous checkpoint (all rows of a table it has not seen);
    ///     with no chain yet a full checkpoint is written instead.
    ///   - sequence: above every sequence in the directory; 0 takes the next one.
    ///   - shardCount, ring: the cluster layout, recorded for restore and resharding.
    ///   - producerSequences: the shard's idempotence state, recorded in the manifest.
    /// Throws `CheckpointError`; the previous manifest then stays the current one.
    public func checkpoint(
        tables: [EmbeddingTable], kind requested: CheckpointKind, sequence requestedSequence: UInt64 = 0,
        shardCount: Int, ring: CheckpointRing?, producerSequences: [String: UInt64] = [:]
    ) throws(CheckpointError) -> CheckpointSummary {
        let started = ContinuousClock.now
        let (previous, covered, sequence) = try state.withLock { state throws(CheckpointError) -> (CheckpointManifest?, [String: UInt64], UInt64) in
            guard !state.busy else {
                throw CheckpointError(.busy, "checkpoint \(CheckpointFormat.displayName(directory)): another checkpoint of this shard is being written")
            }
            let sequence = requestedSequence == 0 ? state.highestSequence + 1 : requestedSequence
            guard sequence > state.highestSequence else {
                throw CheckpointError(.invalidArgument,
                                      "checkpoint \(CheckpointFormat.displayName(directory)): sequence \(sequence) is not above \(state.highestSequence), the highest already used there")
            }
            state.busy = true
            return (state.manifest, state.covered, sequence)
        }
        var committed = false
        defer {
            if !committed { state.withLock { $0.busy = false } }
        }
        let kind: CheckpointKind = previous == nil ? .full : requested
        let name = CheckpointFormat.fileName(sequence: sequence, kind: kind)
        let path = directory + "/" + name

        // Rows changed from here on get a newer generation (see EmbeddingTable+Changes).
        var generations: [String: UInt64] = [:]
        for table in tables { generations[table.spec.name] = table.advanceGeneration() }

        let writer = try CheckpointFileWriter(path: path)
        try writer.write(raw: CheckpointFormat.magic)
        try writer.writeJSONBlock(.header, CheckpointFormat.FileHeader(
            formatVersion: CheckpointFormat.formatVersion, kind: kind, shardID: shardID, sequence: sequence))
        var rows = 0, removed = 0
        for table in tables {
            try writer.writeJSONBlock(.table, CheckpointFormat.TableHeader(spec: table.spec))
            let base: UInt64? = kind == .full ? nil : (covered[table.spec.name] ?? 0)
            let width = table.rowWidth
            try table.forEachStripeSnapshot(changedAfter: base) { (snapshot) throws(CheckpointError) in
                try snapshot.keys.withUnsafeBufferPointer { keys throws(CheckpointError) in
                    try snapshot.rows.withUnsafeBufferPointer { values throws(CheckpointError) in
                        try writer.writeRows(keys: keys, rows: values, width: width)
                    }
                }
                try writer.writeRemoved(keys: snapshot.removed)
                rows += snapshot.keys.count
                removed += snapshot.removed.count
            }
        }
        try writer.writeJSONBlock(.end, CheckpointFormat.FileFooter(tables: tables.count, rows: rows, removed: removed))
        let (bytes, crc) = try writer.commit()

        let entry = CheckpointManifest.Entry(
            file: name, kind: kind, sequence: sequence, bytes: bytes, crc32c: crc, rows: rows, removed: removed,
            writtenAt: Date().timeIntervalSince1970)
        let manifest = CheckpointManifest(
            shardID: shardID, shardCount: shardCount, ring: ring, sequence: sequence, tables: tables.map(\.spec),
            chain: kind == .full ? [entry] : (previous?.chain ?? []) + [entry], producerSequences: producerSequences)
        try manifest.save(directory: directory)

        for table in tables { table.forgetRemovals(through: generations[table.spec.name] ?? 0) }
        removeUnreferencedFiles(keeping: Set(manifest.chain.map(\.file)))
        committed = true
        state.withLock { state in
            state.manifest = manifest
            state.covered = generations
            state.highestSequence = sequence
            state.busy = false
        }
        return CheckpointSummary(
            shardID: shardID, sequence: sequence, kind: kind,
            files: [path, directory + "/" + CheckpointFormat.manifestName], rows: rows, removed: removed, bytes: bytes,
            seconds: (ContinuousClock.now - started).seconds, chainLength: manifest.chain.count)
    }

    /// Deletes data files no longer in the chain and temp files a crash left.
    /// Best effort: a file that cannot be deleted is left for the next time.
    private func removeUnreferencedFiles(keeping chain: Set<String>) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for name in names where !chain.contains(name) {
            let stale = CheckpointFormat.sequence(ofFileName: name) != nil || (name.hasPrefix(".") && name.hasSuffix(".tmp"))
            if stale { _ = unlink(directory + "/" + name) }
        }
        try? SystemCalls.syncDirectory(directory)
    }

    /// The highest sequence used in `directory`: the manifest's (if it parses) or any data file's.
    private static func highestSequence(in directory: String) -> UInt64 {
        var highest: UInt64 = 0
        if let manifest = try? CheckpointManifest.load(directory: directory) { highest = manifest.sequence }
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
            if let sequence = CheckpointFormat.sequence(ofFileName: name) { highest = max(highest, sequence) }
        }
        return highest
    }
}
