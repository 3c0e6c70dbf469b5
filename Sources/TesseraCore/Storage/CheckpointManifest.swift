import Foundation

/// `manifest.json` of one shard's checkpoint directory: the chain to restore
/// and what every file must look like. Written last and atomically, so it
/// always names a complete chain.
public struct CheckpointManifest: Codable, Sendable, Hashable {
    /// One data file of the chain.
    public struct Entry: Codable, Sendable, Hashable {
        /// File name within the shard directory (`000003.inc`).
        public var file: String
        public var kind: CheckpointKind
        public var sequence: UInt64
        /// Exact file size in bytes.
        public var bytes: Int64
        /// CRC-32C of the whole file.
        public var crc32c: UInt32
        /// Rows and removals the file holds (all tables).
        public var rows: Int
        public var removed: Int
        /// Wall-clock time the file was written, seconds since 1970 (informational).
        public var writtenAt: Double

        public init(file: String, kind: CheckpointKind, sequence: UInt64, bytes: Int64, crc32c: UInt32,
                    rows: Int, removed: Int, writtenAt: Double) {
            self.file = file
            self.kind = kind
            self.sequence = sequence
            self.bytes = bytes
            self.crc32c = crc32c
            self.rows = rows
            self.removed = removed
            self.writtenAt = writtenAt
        }
    }

    /// Always "tessera-shard-checkpoint".
    public var format = "tessera-shard-checkpoint"
    public var formatVersion = CheckpointFormat.formatVersion
    public var shardID: UInt32
    /// Shards of the cluster when the checkpoint was taken.
    public var shardCount: Int
    /// The consistent-hash ring the shard served, if known.
    public var ring: CheckpointRing?
    /// The sequence of the newest file in the chain (e.g. the epoch).
    public var sequence: UInt64
    /// Every table of the shard, as of the newest file.
    public var tables: [TableSpec]
    /// The full checkpoint, then incrementals in order.
    public var chain: [Entry]
    /// Last applied sequence per "producer/table" (idempotent pushes), as of the newest file.
    public var producerSequences: [String: UInt64]

    public init(shardID: UInt32, shardCount: Int, ring: CheckpointRing?, sequence: UInt64, tables: [TableSpec],
                chain: [Entry], producerSequences: [String: UInt64] = [:]) {
        self.shardID = shardID
        self.shardCount = shardCount
        self.ring = ring
        self.sequence = sequence
        self.tables = tables
        self.chain = chain
        self.producerSequences = producerSequences
    }

    /// Reads and checks `directory/manifest.json` (format, version, chain shape).
    /// Throws `.missing` if there is none and `.corrupt` if it does not parse.
    public static func load(directory: String) throws(CheckpointError) -> CheckpointManifest {
        let path = directory + "/" + CheckpointFormat.manifestName
        let bytes: [UInt8]?
        do {
            bytes = try DurableState(path: path).loadBytes()
        } catch {
            throw .io(path, error)
        }
        guard let bytes else {
            throw .file(.missing, path, "no manifest (no checkpoint was completed in \(directory))")
        }
        let manifest: CheckpointManifest
        do {
            manifest = try JSONDecoder().decode(CheckpointManifest.self, from: Data(bytes))
        } catch {
            throw .file(.corrupt, path, "does not parse as a checkpoint manifest: \(describe(error))", cause: error)
        }
        try manifest.validate(path: path)
        return manifest
    }

    /// Writes `directory/manifest.json` atomically and durably (temp file, fsync, rename, fsync directory).
    public func save(directory: String) throws(CheckpointError) {
        let path = directory + "/" + CheckpointFormat.manifestName
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        do {
            try DurableState(path: path).saveBytes(Array(try encoder.encode(self)) + [0x0A])
        } catch {
            throw .io(path, error)
        }
    }

    /// Checks what JSON decoding cannot: format name and version, a chain of
    /// one full then incrementals with rising sequences, plain file names.
    func validate(path: String) throws(CheckpointError) {
        func fail(_ problem: String) -> CheckpointError { .file(.corrupt, path, problem) }
        guard format == "tessera-shard-checkpoint" else { throw fail("format is '\(format)', not 'tessera-shard-checkpoint'") }
        guard formatVersion == CheckpointFormat.formatVersion else {
            throw fail("format version \(formatVersion); this build reads version \(CheckpointFormat.formatVersion)")
        }
        guard let first = chain.first else { throw fail("the chain is empty") }
        guard first.kind == .full else { throw fail("the chain starts with \(first.file), not a full checkpoint") }
        var previous: UInt64?
        for (i, entry) in chain.enumerated() {
            if i > 0 && entry.kind != .incremental { throw fail("\(entry.file) in the middle of the chain is not incremental") }
            if let previous, entry.sequence <= previous { throw fail("sequences do not rise along the chain at \(entry.file)") }
            guard entry.file == CheckpointFormat.fileName(sequence: entry.sequence, kind: entry.kind) else {
                throw fail("chain entry '\(entry.file)' does not match its sequence \(entry.sequence) and kind")
            }
            previous = entry.sequence
        }
        guard chain.last?.sequence == sequence else { throw fail("sequence \(sequence) is not the chain's last (\(previous ?? 0))") }
        guard shardCount >= 1 else { throw fail("shardCount must be at least 1") }
        if let ring, ring.shardIDs.isEmpty || !(1...(1 << 16)).contains(ring.virtualNodes) {
            throw fail("ring needs at least one shard and 1...65536 virtual nodes")
        }
        var names = Set<String>()
        for spec in tables {
            do {
                try spec.validate()
            } catch {
                throw fail("tables: \(error.message)")
            }
            guard names.insert(spec.name).inserted else { throw fail("tables: '\(spec.name)' appears twice") }
        }
    }
}

/// The settings of a `ConsistentHashRing`, as stored in manifests.
public struct CheckpointRing: Codable, Sendable, Hashable {
    public var shardIDs: [UInt32]
    public var virtualNodes: Int
    public var seed: UInt64

    public init(shardIDs: [UInt32], virtualNodes: Int, seed: UInt64) {
        self.shardIDs = shardIDs
        self.virtualNodes = virtualNodes
        self.seed = seed
    }

    public init(_ ring: ConsistentHashRing) {
        self.init(shardIDs: ring.shardIDs, virtualNodes: ring.virtualNodes, seed: ring.seed)
    }

    /// The ring these settings describe.
    public var ring: ConsistentHashRing {
        ConsistentHashRing(shardIDs: shardIDs, virtualNodes: virtualNodes, seed: seed)
    }
}

/// A decoding error in a few words (the key path and what was wrong).
func describe(_ error: any Error) -> String {
    guard let error = error as? DecodingError else { return "\(error)" }
    func path(_ context: DecodingError.Context) -> String {
        let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        return keys.isEmpty ? "" : "\(keys): "
    }
    switch error {
    case let .dataCorrupted(context): return path(context) + context.debugDescription
    case let .keyNotFound(key, context): return path(context) + "missing key '\(key.stringValue)'"
    case let .typeMismatch(_, context): return path(context) + context.debugDescription
    case let .valueNotFound(_, context): return path(context) + context.debugDescription
    @unknown default: return "\(error)"
    }
}
