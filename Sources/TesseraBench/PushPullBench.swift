import Foundation
import Logging
import TesseraCore
import TesseraLauncher
import TesseraRPC
import TesseraScheduler

/// `tessera bench pushpull`: pull and push throughput against real shard
/// processes over loopback gRPC, beside two baselines measured in the same
/// run — a plain `memcpy` of the same bytes, and the shim's raw echo of the
/// same payload (gRPC without Tessera's protobuf, routing and tables).
public struct PushPullBench: Sendable {
    public struct Settings: Sendable {
        public var shardCounts = [1, 2, 4]
        public var batchSizes = [256, 4096, 65_536]
        public var dim = 64
        /// Timed rounds per measurement; the median is reported.
        public var rounds = 5
        /// Length of one round.
        public var roundSeconds = 1.0
        /// Distinct keys the batches draw from (rows exist before timing starts).
        public var keySpace = 262_144
        public var encoding = Tessera_V1_RowEncoding.float32
        /// Every shard has a follower that takes each push before the shard answers (`replication.followers: 1`).
        public var replicated = false
        /// The `tessera` binary that runs the shards.
        public var executable: String

        public init(executable: String) {
            self.executable = executable
        }
    }

    /// One measurement.
    public struct Result: Codable, Sendable {
        /// "pull", "push", "echo" or "memcpy".
        public var operation: String
        public var shards: Int
        public var batch: Int
        public var dim: Int
        /// Median over rounds of rows moved per second.
        public var rowsPerSecond: Double
        /// The same in megabytes (10^6) of row payload per second.
        public var megabytesPerSecond: Double
        /// Median seconds per call (one batch).
        public var secondsPerCall: Double
        public var rounds: Int
        /// Whether the shards had followers.
        public var replicated = false
    }

    public let settings: Settings

    public init(settings: Settings) {
        self.settings = settings
    }

    /// Runs every measurement; `progress` receives a line per result.
    public func run(logger: Logger, progress: @Sendable (Result) -> Void) async throws -> [Result] {
        var results: [Result] = []
        for shards in settings.shardCounts {
            let table = TableSpec(name: "bench", dim: settings.dim, optimizer: .adagrad(learningRate: 0.01),
                                  initializer: .normal(std: 0.01), seed: 1)
            try await ShardCluster.run(shards: shards, table: table, replicated: settings.replicated, executable: settings.executable,
                                       logger: logger) { routing, security, _ in
                let client = try ShardedParameterClient(routing: routing, encoding: settings.encoding, security: security)
                try await warm(client)
                let echo = try GRPCChannel(target: routing.addresses[routing.shardIDs[0]] ?? "", security: security)
                for batch in settings.batchSizes {
                    // With a token the shards turn the raw echo off (it is answered past the token check).
                    for operation in ["memcpy", "echo", "pull", "push"] where operation != "echo" || security.token == nil {
                        var result = try await measure(operation, batch: batch, shards: shards, client: client, echo: echo)
                        result.replicated = settings.replicated
                        progress(result)
                        results.append(result)
                    }
                }
            }
        }
        return results
    }

    /// Creates every row of the key space, so timing measures reads and updates, not row creation.
    private func warm(_ client: ShardedParameterClient) async throws {
        let keys = (0..<UInt64(settings.keySpace)).map { $0 }
        for start in stride(from: 0, to: keys.count, by: 65_536) {
            _ = try await client.pull(table: "bench", keys: Array(keys[start..<min(start + 65_536, keys.count)]), dim: settings.dim)
        }
    }

    // MARK: Measurements

    private func measure(_ operation: String, batch: Int, shards: Int, client: ShardedParameterClient,
                         echo: GRPCChannel) async throws -> Result {
        let dim = settings.dim
        let bytes = batch * dim * 4
        var rng = SplitMix64(seed: UInt64(batch * 31 + shards))
        let permutation: [UInt64] = {
            var keys = (0..<UInt64(settings.keySpace)).map { $0 }
            for i in stride(from: keys.count - 1, to: 0, by: -1) { keys.swapAt(i, rng.nextInt(below: i + 1)) }
            return keys
        }()
        let gradients = [Float](repeating: 1e-3, count: batch * dim)
        let payload = [UInt8](repeating: 0x5A, count: bytes)
        var source = [UInt8](repeating: 1, count: bytes)
        var target = [UInt8](repeating: 0, count: bytes)

        var perCall: [Double] = []
        for round in 0..<settings.rounds {
            var calls = 0
            let clock = ContinuousClock()
            let start = clock.now
            let end = start + .seconds(settings.roundSeconds)
            repeat {
                let offset = ((round * 7919 + calls) * batch) % max(1, settings.keySpace - batch)
                switch operation {
                case "memcpy":
                    source[calls % bytes] = UInt8(truncatingIfNeeded: calls)
                    target.withUnsafeMutableBytes { target in
                        source.withUnsafeBytes { source in target.copyMemory(from: source) }
                    }
                case "echo":
                    _ = try await echo.unary(Methods.echo, request: payload)
                case "pull":
                    _ = try await client.pull(table: "bench", keys: Array(permutation[offset..<offset + batch]), dim: dim)
                default:
                    try await client.push(table: "bench", keys: Array(permutation[offset..<offset + batch]), gradients: gradients, dim: dim)
                }
                calls += 1
            } while clock.now < end
            perCall.append((clock.now - start).seconds / Double(calls))
        }
        _ = target.count
        perCall.sort()
        let median = perCall[perCall.count / 2]
        let rows = Double(batch) / median
        return Result(operation: operation, shards: shards, batch: batch, dim: dim, rowsPerSecond: rows,
                      megabytesPerSecond: Double(bytes) / median / 1e6, secondsPerCall: median, rounds: settings.rounds)
    }
}
