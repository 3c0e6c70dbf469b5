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
    }

    public let settings: Settings

    public init(settings: Settings) {
        self.settings = settings
    }

    /// Runs every measurement; `progress` receives a line per result.
    public func run(logger: Logger, progress: @Sendable (Result) -> Void) async throws -> [Result] {
        var results: [Result] = []
        for shards in settings.shardCounts {
            try await withCluster(shards: shards, logger: logger) { routing in
                let client = try ShardedParameterClient(routing: routing, encoding: settings.encoding)
                try await warm(client)
                let echo = try GRPCChannel(target: routing.addresses[routing.shardIDs[0]] ?? "")
                for batch in settings.batchSizes {
                    for operation in ["memcpy", "echo", "pull", "push"] {
                        let result = try await measure(operation, batch: batch, shards: shards, client: client, echo: echo)
                        progress(result)
                        results.append(result)
                    }
                }
            }
        }
        return results
    }

    // MARK: Cluster

    /// Starts an in-process scheduler and `shards` shard processes, runs `body`, and stops them all.
    private func withCluster(shards: Int, logger: Logger, _ body: (ShardRouting) async throws -> Void) async throws {
        var config = ClusterConfig()
        config.name = "bench"
        config.shards = shards
        config.workers = 1  // never joins: the bench drives the shards itself
        config.scheduler.registrationTimeout = 86_400
        config.scheduler.heartbeatTimeout = 60
        config.data.synthetic = SyntheticSpec(users: 20, items: 20, interactionsPerUser: 5, seed: 1)
        config.tables = [TableSpec(name: "bench", dim: settings.dim, optimizer: .adagrad(learningRate: 0.01),
                                   initializer: .normal(std: 0.01), seed: 1)]
        config.model.userTable = "bench"
        config.model.itemTable = "bench"
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-bench-state-\(getpid())-\(shards)").path
        let running = try await SchedulerRole(config: config, stateDirectory: state).start(logger: logger, console: Console(enabled: false))
        let logs = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-bench-\(getpid())")
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        var children: [ChildProcess] = []
        do {
            for id in 0..<shards {
                children.append(try ChildProcess(
                    name: "server \(id)", executable: settings.executable,
                    arguments: ["server", "--scheduler", running.server.address, "--id", "\(id)", "--bench-echo"],
                    logPath: logs.appendingPathComponent("server-\(id).log").path,
                    environment: ["TESSERA_PARENT_PID": "\(getpid())"]) { _, _ in })
            }
            let scheduler = SchedulerClient(channel: try GRPCChannel(target: running.server.address))
            let map = try await scheduler.getShardMap(Tessera_V1_ShardMapRequest(), options: CallOptions(timeout: .seconds(60)))
            try await body(try ShardRouting(map))
        } catch {
            for child in children { child.send(SIGKILL) }
            await running.scheduler.stop(reason: "benchmark failed")
            _ = await running.wait()
            throw error
        }
        await running.scheduler.stop(reason: "benchmark done")
        _ = await running.wait()
        let deadline = ContinuousClock.now + .seconds(5)
        while children.contains(where: { $0.terminated == nil }) && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        for child in children where child.terminated == nil { child.send(SIGKILL) }
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
