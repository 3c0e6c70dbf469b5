import Foundation
import TesseraCore

/// Scratch directories and byte-level file surgery for the storage tests.
enum StorageTestSupport {
    /// Segment header and record header sizes of format version 1 (see `LogFormat`).
    static let segmentHeaderBytes = 20
    static let recordHeaderBytes = 12

    /// Runs `body` with a fresh directory path (not yet created), removed afterwards.
    static func withDirectory<T>(_ body: (String) async throws -> T) async throws -> T {
        let path = NSTemporaryDirectory() + "tessera-storage-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try await body(path)
    }

    /// The segment files in `directory`, in offset order.
    static func segments(in directory: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory)
            .filter { $0.hasSuffix(".log") }
            .sorted()
            .map { directory + "/" + $0 }
    }

    static func bytes(of path: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    static func write(_ bytes: [UInt8], to path: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    static func size(of path: String) throws -> Int {
        try bytes(of: path).count
    }

    /// Flips every bit of the byte at `position`.
    static func flipByte(in path: String, at position: Int) throws {
        var contents = try bytes(of: path)
        contents[position] ^= 0xFF
        try write(contents, to: path)
    }

    static func truncate(_ path: String, to size: Int) throws {
        try write(Array(try bytes(of: path).prefix(size)), to: path)
    }

    static func appendBytes(_ extra: [UInt8], to path: String) throws {
        try write(try bytes(of: path) + extra, to: path)
    }

    /// A deterministic payload of `size` bytes that differs for every `seed`.
    static func payload(_ seed: Int, size: Int) -> [UInt8] {
        var rng = SplitMix64(seed: UInt64(seed))
        return (0..<size).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
    }

    /// Every record from `offset` on, read in chunks of `chunk` records.
    static func readAll(_ log: AppendLog, from offset: UInt64 = 1, chunk: Int = 1000) throws -> [LogRecord] {
        var records: [LogRecord] = []
        var next = offset
        while true {
            let batch = try log.read(from: next, maxRecords: chunk, maxBytes: 1 << 30)
            guard let last = batch.last else { return records }
            records += batch
            next = last.offset + 1
        }
    }
}
