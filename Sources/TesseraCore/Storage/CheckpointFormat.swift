import Foundation

/// The on-disk layout of shard checkpoints (format version 1).
///
/// A shard keeps its checkpoints in its own directory (`ROOT/shard-<id>`):
/// data files named by sequence (`000001.full`, `000002.inc`, …) and
/// `manifest.json`, which names the chain to restore (a full file, then
/// incrementals in order) with each file's size and CRC-32C. Files are written
/// as `.NAME.tmp`, fsync'd, renamed and the directory fsync'd; the manifest is
/// written the same way, last. Files the manifest does not name (older chains,
/// temp files a crash left) are ignored and removed by the next checkpoint.
///
/// A data file is the magic `TSRCKPT1` followed by blocks. Each block is a
/// 16-byte header — type, payload length, CRC-32C of the payload, CRC-32C of
/// those 12 bytes (all UInt32, little-endian) — then the payload:
///
/// | type | payload |
/// |---|---|
/// | 1 header | JSON `FileHeader`: format version, kind, shard id, sequence; always block 0 |
/// | 2 table | JSON `TableHeader`: the `TableSpec` of the rows that follow |
/// | 3 rows | UInt32 count, UInt32 width (dim + state), `count` UInt64 keys, `count * width` Float32 (value then optimizer state per row) |
/// | 4 removed | UInt32 count, `count` UInt64 keys deleted since the previous checkpoint (incrementals only) |
/// | 5 end | JSON `FileFooter`: totals; always the last block |
///
/// Rows and removed blocks follow their table's block and hold at most about
/// `maxBlockBytes` each.
public enum CheckpointFormat {
    public static let formatVersion = 1
    static let magic: [UInt8] = Array("TSRCKPT1".utf8)
    static let blockHeaderBytes = 16
    /// Target payload size of a rows block.
    static let maxBlockBytes = 1 << 20
    /// Refuse blocks claiming more than this (a damaged length field).
    static let blockLimit = 256 << 20
    public static let manifestName = "manifest.json"

    enum BlockType: UInt32 {
        case header = 1, table = 2, rows = 3, removed = 4, end = 5

        var name: String {
            switch self {
            case .header: "header"
            case .table: "table"
            case .rows: "rows"
            case .removed: "removed"
            case .end: "end"
            }
        }
    }

    struct FileHeader: Codable {
        var formatVersion: Int
        var kind: CheckpointKind
        var shardID: UInt32
        var sequence: UInt64
    }

    struct TableHeader: Codable {
        var spec: TableSpec
    }

    struct FileFooter: Codable {
        var tables: Int
        var rows: Int
        var removed: Int
    }

    /// The directory of shard `shardID` under a checkpoint root.
    public static func shardDirectory(root: String, shardID: UInt32) -> String {
        (root.hasSuffix("/") ? String(root.dropLast()) : root) + "/shard-\(shardID)"
    }

    /// The data file name of checkpoint `sequence` (`000007.full`, `000008.inc`).
    public static func fileName(sequence: UInt64, kind: CheckpointKind) -> String {
        let digits = String(sequence)
        return String(repeating: "0", count: max(0, 6 - digits.count)) + digits + "." + kind.fileExtension
    }

    /// The sequence of a data file name, or nil if `name` is not one.
    static func sequence(ofFileName name: String) -> UInt64? {
        let parts = name.split(separator: ".")
        guard parts.count == 2, CheckpointKind(fileExtension: String(parts[1])) != nil,
              parts[0].count >= 6, parts[0].allSatisfy(\.isASCII) else { return nil }
        return UInt64(parts[0])
    }

    /// `path`'s last two components, for messages (`shard-1/000003.inc`).
    static func displayName(_ path: String) -> String {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        return parts.suffix(2).joined(separator: "/")
    }

    static func jsonEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }
}

/// Whether a checkpoint holds every row or only the changes since the previous one.
public enum CheckpointKind: String, Codable, Sendable, Hashable {
    /// Every row of every table.
    case full
    /// Rows created or changed, and rows removed, since the shard's previous checkpoint.
    case incremental

    var fileExtension: String { self == .full ? "full" : "inc" }

    init?(fileExtension: String) {
        switch fileExtension {
        case "full": self = .full
        case "inc": self = .incremental
        default: return nil
        }
    }
}

#if _endian(big)
#error("checkpoint files store little-endian numbers by copying memory; add byte swapping for big-endian hosts")
#endif
