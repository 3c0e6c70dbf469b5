import Foundation

/// A shard's tables rebuilt from its checkpoint chain: the full checkpoint,
/// then every incremental in order, into fresh tables.
///
/// `load` checks everything before handing anything out: the manifest parses
/// and is consistent, every file exists with the recorded size, every block's
/// checksums and the whole file's CRC-32C match, and every file's header
/// agrees with the manifest. On any failure it throws a `CheckpointError`
/// naming the file and the problem, and no table is returned, so a bad chain
/// is never partly applied.
public struct RestoredShard: Sendable {
    /// The shard's checkpoint directory.
    public let directory: String
    public let manifest: CheckpointManifest
    /// The restored tables, in the manifest's order (only those asked for).
    public let tables: [EmbeddingTable]

    /// The restored table named `name`.
    public func table(named name: String) -> EmbeddingTable? {
        tables.first { $0.spec.name == name }
    }

    /// Restores the chain of `directory` (a shard directory, `ROOT/shard-<id>`).
    ///
    /// - Parameters:
    ///   - only: restore just these tables (resharding goes table by table);
    ///     nil restores all. Every file is still read and checked in full.
    ///   - stripeCount: lock stripes of the new tables.
    public static func load(directory: String, only: Set<String>? = nil, stripeCount: Int = 64) throws(CheckpointError) -> RestoredShard {
        let manifest = try CheckpointManifest.load(directory: directory)
        // Cheap checks first, so a missing or cut file is reported before any long read.
        for entry in manifest.chain {
            let path = directory + "/" + entry.file
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: path) else {
                throw .file(.missing, path, "file is missing (the manifest lists it as part of the chain)")
            }
            let size = (attributes[.size] as? NSNumber)?.int64Value ?? -1
            if size != entry.bytes {
                let what = size < entry.bytes ? "truncated" : "longer than recorded"
                throw .file(.corrupt, path, "\(what): \(size) bytes, the manifest records \(entry.bytes)")
            }
        }
        var tables: [String: EmbeddingTable] = [:]
        var ordered: [EmbeddingTable] = []
        for spec in manifest.tables where only?.contains(spec.name) ?? true {
            do {
                let table = try EmbeddingTable(spec: spec, stripeCount: stripeCount)
                tables[spec.name] = table
                ordered.append(table)
            } catch {
                throw .file(.corrupt, directory + "/" + CheckpointFormat.manifestName, "table '\(spec.name)': \(error.message)")
            }
        }
        for entry in manifest.chain {
            try apply(file: directory + "/" + entry.file, entry: entry, manifest: manifest, into: tables)
        }
        return RestoredShard(directory: directory, manifest: manifest, tables: ordered)
    }

    /// Reads one file of the chain into `tables`, checking it block by block.
    private static func apply(
        file path: String, entry: CheckpointManifest.Entry, manifest: CheckpointManifest, into tables: [String: EmbeddingTable]
    ) throws(CheckpointError) {
        func corrupt(_ problem: String) -> CheckpointError { .file(.corrupt, path, problem) }
        var reader = try CheckpointFileReader(path: path, expectedSize: entry.bytes)
        guard let (firstType, firstPayload) = try reader.next(), firstType == .header else {
            throw corrupt("block 0 is not the file header")
        }
        let header: CheckpointFormat.FileHeader = try decode(firstPayload, path: path, block: 0)
        guard header.formatVersion == CheckpointFormat.formatVersion else {
            throw corrupt("format version \(header.formatVersion); this build reads version \(CheckpointFormat.formatVersion)")
        }
        guard header.shardID == manifest.shardID, header.sequence == entry.sequence, header.kind == entry.kind else {
            throw corrupt("the file is \(header.kind) checkpoint \(header.sequence) of shard \(header.shardID), but the manifest lists it as \(entry.kind) checkpoint \(entry.sequence) of shard \(manifest.shardID)")
        }
        var current: (spec: TableSpec, table: EmbeddingTable?)?
        var seenTables = 0, rows = 0, removed = 0
        var footer: CheckpointFormat.FileFooter?
        while let (type, payload) = try reader.next() {
            let block = reader.blockIndex - 1
            if footer != nil { throw corrupt("block \(block) follows the end block") }
            switch type {
            case .header:
                throw corrupt("a second header at block \(block)")
            case .table:
                let header: CheckpointFormat.TableHeader = try decode(payload, path: path, block: block)
                do {
                    try header.spec.validate()
                } catch {
                    throw corrupt("block \(block): \(error.message)")
                }
                let table = tables[header.spec.name]
                if let table, table.spec.dim != header.spec.dim || table.stateWidth != header.spec.stateWidth {
                    throw corrupt("table '\(header.spec.name)' at block \(block) has dimension \(header.spec.dim) and \(header.spec.optimizer.name) state, the manifest says \(table.dim) and \(table.spec.optimizer.name)")
                }
                current = (header.spec, table)
                seenTables += 1
            case .rows:
                guard let (spec, table) = current else { throw corrupt("rows before any table at block \(block)") }
                let (count, width) = try counts(payload, path: path, block: block)
                let expectedWidth = spec.dim + spec.stateWidth
                guard width == expectedWidth, payload.count == 8 + count * 8 + count * width * 4 else {
                    throw corrupt("rows block \(block) of table '\(spec.name)' holds \(payload.count) bytes for \(count) rows of width \(width); expected width \(expectedWidth)")
                }
                rows += count
                guard let table else { continue }
                let keys: [UInt64] = copy(payload, from: 8, count: count)
                let values: [Float] = copy(payload, from: 8 + count * 8, count: count * width)
                let inserted = Result { () throws(TableError) in try table.insert(keys: keys, rows: values) }
                if case .failure(let error) = inserted { throw corrupt("block \(block): \(error.message)") }
            case .removed:
                guard let (spec, table) = current else { throw corrupt("removals before any table at block \(block)") }
                guard entry.kind == .incremental else { throw corrupt("a full checkpoint holds removals (block \(block))") }
                let count = try counts(payload, path: path, block: block, header: 4).count
                guard payload.count == 4 + count * 8 else {
                    throw corrupt("removed block \(block) of table '\(spec.name)' holds \(payload.count) bytes for \(count) keys")
                }
                removed += count
                guard let table else { continue }
                let keys: [UInt64] = copy(payload, from: 4, count: count)
                table.remove(keys: keys)
            case .end:
                footer = try decode(payload, path: path, block: block)
            }
        }
        guard let footer else {
            throw corrupt("no end block after block \(reader.blockIndex - 1): the file was cut short")
        }
        guard footer.tables == seenTables, footer.rows == rows, footer.removed == removed,
              rows == entry.rows, removed == entry.removed else {
            throw corrupt("holds \(seenTables) tables, \(rows) rows and \(removed) removals; its end block says \(footer.tables), \(footer.rows) and \(footer.removed), the manifest \(entry.rows) rows and \(entry.removed) removals")
        }
        try reader.verifyChecksum(entry.crc32c)
    }

    /// `count` values of `T` stored little-endian at byte `offset` of `payload` (any alignment).
    private static func copy<T: BitwiseCopyable>(_ payload: [UInt8], from offset: Int, count: Int) -> [T] {
        [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            payload.withUnsafeBytes { raw in
                UnsafeMutableRawBufferPointer(buffer).copyMemory(
                    from: UnsafeRawBufferPointer(rebasing: raw[offset..<offset + count * MemoryLayout<T>.stride]))
            }
            initialized = count
        }
    }

    private static func decode<T: Decodable>(_ payload: [UInt8], path: String, block: Int) throws(CheckpointError) -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(payload))
        } catch {
            throw .file(.corrupt, path, "block \(block) does not decode: \(describe(error))", cause: error)
        }
    }

    /// The leading UInt32 count (and, with an 8-byte header, width) of a rows or removed payload.
    private static func counts(_ payload: [UInt8], path: String, block: Int, header: Int = 8) throws(CheckpointError) -> (count: Int, width: Int) {
        guard payload.count >= header else { throw .file(.corrupt, path, "block \(block) is too short (\(payload.count) bytes)") }
        return payload.withUnsafeBytes { raw in
            (Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt32.self))),
             header == 8 ? Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4, as: UInt32.self))) : 0)
        }
    }
}

extension RestoredShard {
    /// Checks that this checkpoint fits a shard about to serve it: the same
    /// shard id and shard count, and tables whose dimension and optimizer kind
    /// match the config's (hyperparameters and initializers may change). Tables
    /// the config adds start empty; a table the config dropped is an error.
    ///
    /// Returns, in `specs` order, each config table with its restored rows
    /// (moved into a table of the config's spec when the specs differ) or nil
    /// for a table the checkpoint does not have.
    public func tables(for specs: [TableSpec], shardID: UInt32, shardCount: Int) throws(CheckpointError) -> [EmbeddingTable?] {
        let path = directory + "/" + CheckpointFormat.manifestName
        guard manifest.shardID == shardID else {
            throw .file(.mismatch, path, "belongs to shard \(manifest.shardID), but this is shard \(shardID)")
        }
        guard manifest.shardCount == shardCount else {
            throw .file(.mismatch, path, "was taken with \(manifest.shardCount) shards, but the cluster has \(shardCount); reshard the checkpoints first (CheckpointResharding.reshard)")
        }
        let wanted = Set(specs.map(\.name))
        if let dropped = tables.first(where: { !wanted.contains($0.spec.name) }) {
            throw .file(.mismatch, path, "holds table '\(dropped.spec.name)', which the config does not declare")
        }
        var result: [EmbeddingTable?] = []
        for spec in specs {
            guard let table = table(named: spec.name) else {
                result.append(nil)
                continue
            }
            guard table.spec.dim == spec.dim, table.spec.optimizer.name == spec.optimizer.name else {
                throw .file(.mismatch, path, "table '\(spec.name)' has dimension \(table.spec.dim) with \(table.spec.optimizer.name) state; the config says dimension \(spec.dim) with \(spec.optimizer.name)")
            }
            if table.spec == spec {
                result.append(table)
                continue
            }
            let moved: EmbeddingTable
            do {
                moved = try EmbeddingTable(spec: spec, stripeCount: table.stripeCount)
                try table.forEachStripeSnapshot(changedAfter: nil) { (snapshot) throws(TableError) in
                    try moved.insert(keys: snapshot.keys, rows: snapshot.rows)
                }
            } catch {
                throw .file(.mismatch, path, "table '\(spec.name)': \(error.message)")
            }
            result.append(moved)
        }
        return result
    }
}
