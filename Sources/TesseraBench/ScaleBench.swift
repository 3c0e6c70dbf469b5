import Foundation
import Logging
import TesseraCore
import TesseraLauncher
import TesseraRPC

/// `tessera bench scale`: creates and trains one table of many rows across
/// shard processes, then measures memory per row against the raw bytes of
/// each row and its optimizer state.
public struct ScaleBench: Sendable {
    public struct Result: Codable, Sendable {
        public var rows: Int
        public var shards: Int
        public var dim: Int
        public var optimizer: String
        /// Bytes of one row's values plus optimizer state.
        public var rawBytesPerRow: Int
        /// The shards' own accounting (slabs and index), per row, and as a multiple of raw.
        public var tableBytesPerRow: Double
        public var tableOverhead: Double
        /// Growth of the shard processes' resident memory while the rows were created and trained, per row.
        public var residentBytesPerRow: Double
        public var residentOverhead: Double
        /// Resident memory of the shard processes before any row existed (gRPC, runtime), summed.
        public var baselineResidentBytes: Int
        public var createSeconds: Double
        public var trainSeconds: Double
    }

    public let executable: String

    public init(executable: String) {
        self.executable = executable
    }

    public func run(rows: Int, shards: Int, dim: Int, optimizer: OptimizerSpec, logger: Logger,
                    progress: @Sendable (String) -> Void) async throws -> Result {
        let table = TableSpec(name: "scale", dim: dim, optimizer: optimizer, initializer: .normal(std: 0.01), seed: 3)
        var result: Result?
        // A training table, not the served item table: the serving index would keep a second copy of every row.
        try await ShardCluster.run(shards: shards, table: table, served: false, executable: executable, logger: logger) { routing, security, processes in
            let client = try ShardedParameterClient(routing: routing, security: security)
            let baseline = processes.map { Self.residentBytes(pid: $0.pid) }.reduce(0, +)
            let batch = 65_536
            let clock = ContinuousClock()
            let createStart = clock.now
            try await Self.forEachBatch(rows: rows, batch: batch) { keys in
                _ = try await client.pull(table: "scale", keys: keys, dim: dim)
            } progress: { done in
                progress("scale: created \(done) of \(rows) rows")
            }
            let createSeconds = (clock.now - createStart).seconds
            let trainStart = clock.now
            let gradients = [Float](repeating: 1e-3, count: batch * dim)
            try await Self.forEachBatch(rows: rows, batch: batch) { keys in
                try await client.push(table: "scale", keys: keys, gradients: Array(gradients.prefix(keys.count * dim)), dim: dim)
            } progress: { done in
                progress("scale: trained \(done) of \(rows) rows")
            }
            let trainSeconds = (clock.now - trainStart).seconds
            let stats = try await client.stats()
            let counted = stats.values.flatMap(\.tables).filter { $0.name == "scale" }
            let stored = counted.map(\.rows).reduce(0, +)
            guard stored == UInt64(rows) else {
                throw LaunchError("the shards hold \(stored) rows, expected \(rows)")
            }
            let tableBytes = Double(counted.map(\.bytes).reduce(0, +))
            let resident = processes.map { Self.residentBytes(pid: $0.pid) }.reduce(0, +)
            let raw = (dim + optimizer.stateWidth(dim: dim)) * MemoryLayout<Float>.size
            let growth = Double(resident - baseline) / Double(rows)
            result = Result(rows: rows, shards: shards, dim: dim, optimizer: optimizer.name, rawBytesPerRow: raw,
                            tableBytesPerRow: tableBytes / Double(rows), tableOverhead: tableBytes / Double(rows) / Double(raw),
                            residentBytesPerRow: growth, residentOverhead: growth / Double(raw),
                            baselineResidentBytes: baseline, createSeconds: createSeconds, trainSeconds: trainSeconds)
        }
        guard let result else { throw LaunchError("the scale benchmark produced no result") }
        return result
    }

    /// Runs `body` over keys 0..<rows in batches, a few at once.
    private static func forEachBatch(rows: Int, batch: Int, _ body: @escaping @Sendable ([UInt64]) async throws -> Void,
                                     progress: (Int) -> Void) async throws {
        let inFlight = 4
        var start = 0
        var reported = 0
        while start < rows {
            let wave = stride(from: start, to: min(rows, start + inFlight * batch), by: batch).map { first in
                (UInt64(first)..<UInt64(min(rows, first + batch))).map { $0 }
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for keys in wave { group.addTask { try await body(keys) } }
                try await group.waitForAll()
            }
            start = min(rows, start + inFlight * batch)
            if start - reported >= rows / 10 || start == rows {
                progress(start)
                reported = start
            }
        }
    }

    /// Resident set size of a process, from /proc.
    static func residentBytes(pid: Int32) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kilobytes = line.split(separator: " ").compactMap({ Int($0) }).first else { return 0 }
        return kilobytes * 1024
    }
}
