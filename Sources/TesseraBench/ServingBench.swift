import Foundation
import Synchronization
import TesseraCore
import TesseraLauncher
import TesseraRPC

/// Latency and throughput of online serving against real clusters:
/// `tessera bench recommend`, `freshness` and `ingest`.
public struct ServingBench: Sendable {
    public let executable: String
    /// Folder for clusters' logs and generated data.
    public let workDirectory: String

    public init(executable: String, workDirectory: String) {
        self.executable = executable
        self.workDirectory = workDirectory
    }

    // MARK: Recommend latency

    /// Percentiles of a set of durations, in milliseconds.
    public struct Latency: Codable, Sendable {
        public var samples: Int
        public var p50: Double
        public var p90: Double
        public var p99: Double
        public var mean: Double

        init(_ seconds: [Double]) {
            let sorted = seconds.sorted()
            func at(_ q: Double) -> Double { sorted.isEmpty ? 0 : 1000 * sorted[min(sorted.count - 1, Int(q * Double(sorted.count)))] }
            samples = sorted.count
            p50 = at(0.5)
            p90 = at(0.9)
            p99 = at(0.99)
            mean = sorted.isEmpty ? 0 : 1000 * sorted.reduce(0, +) / Double(sorted.count)
        }
    }

    public struct RecommendResult: Codable, Sendable {
        public var items: Int
        public var shards: Int
        public var dim: Int
        public var k: Int
        /// One request in flight at a time.
        public var latency: Latency
        /// Requests per second with `concurrency` requests in flight.
        public var qps: Double
        public var concurrency: Int
        /// Seconds to train and load the catalogue (not timed against).
        public var setupSeconds: Double
    }

    /// Recommend (greedy, top-`k`) against `items` items on `shards` shards, one request in flight,
    /// then with `concurrency` in flight. With `exportVectors`, writes the item and query vectors
    /// (the users' embeddings) as little-endian float32 for the faiss baseline.
    public func recommend(items: Int, shards: Int, dim: Int, k: Int, queries: Int, concurrency: Int, seconds: Double,
                          exportVectors: String?, progress: @Sendable (String) -> Void) async throws -> RecommendResult {
        let directory = "\(workDirectory)/recommend-\(items)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let users = 1000
        // Every item gets one training interaction, so the model knows them all; the test file is a token.
        var text = ""
        text.reserveCapacity(items * 14)
        for item in 1...items { text += "\(item % users + 1) \(item)\n" }
        try text.write(toFile: "\(directory)/train.txt", atomically: true, encoding: .utf8)
        try "1 1\n2 2\n".write(toFile: "\(directory)/test.txt", atomically: true, encoding: .utf8)
        let config = """
            name: bench-recommend
            scheduler: {host: 127.0.0.1, port: 0}
            shards: \(shards)
            workers: 1
            data: {train: train.txt, test: test.txt, format: pairs}
            tables:
              - {name: user, dim: \(dim), optimizer: {kind: adagrad, learning_rate: 0.05}}
              - {name: item, dim: \(dim), optimizer: {kind: adagrad, learning_rate: 0.05}}
            training: {epochs: 1, batch_size: 4096, patience: 0}
            evaluation: {max_users: 50}
            serving: {max_in_flight: 10000}
            """
        try config.write(toFile: "\(directory)/cluster.yaml", atomically: true, encoding: .utf8)
        let setupStart = ContinuousClock.now
        progress("recommend: \(items) items on \(shards) shards: training and loading the catalogue")
        let cluster = try await start(config: "\(directory)/cluster.yaml", runDirectory: "\(directory)/run", ready: .trained)
        do {
            let result = try await measureRecommend(cluster: cluster, items: items, shards: shards, dim: dim, k: k, users: users,
                                                    queries: queries, concurrency: concurrency, seconds: seconds,
                                                    setup: (ContinuousClock.now - setupStart).seconds,
                                                    exportVectors: exportVectors, progress: progress)
            await cluster.stop()
            return result
        } catch {
            await cluster.stop()
            throw error
        }
    }

    private func measureRecommend(cluster: LocalCluster, items: Int, shards: Int, dim: Int, k: Int, users: Int, queries: Int,
                                  concurrency: Int, seconds: Double, setup: Double, exportVectors: String?,
                                  progress: @Sendable (String) -> Void) async throws -> RecommendResult {
        let client = InferenceClient(channel: try GRPCChannel(target: cluster.address, security: cluster.security))
        var rng = SplitMix64(seed: 5)
        let queryUsers = (0..<queries).map { _ in UInt64(rng.nextInt(below: users) + 1) }
        @Sendable func request(_ user: UInt64) -> Tessera_V1_RecommendRequest {
            var request = Tessera_V1_RecommendRequest()
            request.userID = String(user)
            request.k = UInt32(k)
            request.policy = "greedy"
            request.includeSeen = true  // rank every item, as the exact-search baseline does
            return request
        }
        for user in queryUsers.prefix(100) { _ = try await client.recommend(request(user)) }
        var times: [Double] = []
        for user in queryUsers {
            let start = ContinuousClock.now
            _ = try await client.recommend(request(user), options: CallOptions(timeout: .seconds(10)))
            times.append((ContinuousClock.now - start).seconds)
        }
        let latency = Latency(times)
        progress(String(format: "recommend: %d items: p50 %.3f ms, p99 %.3f ms (one in flight)", items, latency.p50, latency.p99))

        let completed = Atomic<Int>(0)
        let deadline = ContinuousClock.now + .seconds(seconds)
        let started = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<concurrency {
                let users = queryUsers
                let make = request
                group.addTask { @Sendable in
                    var index = worker
                    while ContinuousClock.now < deadline {
                        _ = try await client.recommend(make(users[index % users.count]), options: CallOptions(timeout: .seconds(10)))
                        completed.add(1, ordering: .relaxed)
                        index += concurrency
                    }
                }
            }
            try await group.waitForAll()
        }
        let qps = Double(completed.load(ordering: .relaxed)) / (ContinuousClock.now - started).seconds
        progress(String(format: "recommend: %d items: %.0f requests/s with %d in flight", items, qps, concurrency))

        if let exportVectors {
            try await export(cluster: cluster, items: items, users: queryUsers, dim: dim, k: k, to: "\(exportVectors)/\(items)")
        }
        return RecommendResult(items: items, shards: shards, dim: dim, k: k, latency: latency, qps: qps,
                               concurrency: concurrency, setupSeconds: setup)
    }

    /// Writes items.f32, queries.f32 and meta.json (the faiss baseline's input).
    private func export(cluster: LocalCluster, items: Int, users: [UInt64], dim: Int, k: Int, to directory: String) async throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let scheduler = SchedulerClient(channel: try GRPCChannel(target: cluster.address, security: cluster.security))
        let routing = try ShardRouting(try await scheduler.getShardMap(Tessera_V1_ShardMapRequest()))
        let parameters = try ShardedParameterClient(routing: routing)
        let itemKeys = (1...UInt64(items)).map { $0 }
        var itemVectors: [Float] = []
        for start in stride(from: 0, to: itemKeys.count, by: 65_536) {
            let chunk = Array(itemKeys[start..<min(start + 65_536, itemKeys.count)])
            itemVectors += try await parameters.lookup(table: "item", keys: chunk, dim: dim).rows
        }
        let queryVectors = try await parameters.lookup(table: "user", keys: users, dim: dim).rows
        // Tessera's own answers for the first queries, as 0-based item rows, to check against exact search.
        let client = InferenceClient(channel: try GRPCChannel(target: cluster.address, security: cluster.security))
        var answers: [[Int]] = []
        for user in users.prefix(5) {
            var request = Tessera_V1_RecommendRequest()
            request.userID = String(user)
            request.k = UInt32(k)
            request.policy = "greedy"
            request.includeSeen = true
            answers.append(try await client.recommend(request).items.compactMap { Int($0.itemID).map { $0 - 1 } })
        }
        try JSONEncoder().encode(answers).write(to: URL(fileURLWithPath: "\(directory)/tessera_top10.json"))
        try itemVectors.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: "\(directory)/items.f32")) }
        try queryVectors.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: "\(directory)/queries.f32")) }
        // Item i of the file is key i + 1.
        let meta = "{\"items\": \(items), \"queries\": \(users.count), \"dim\": \(dim), \"k\": \(k), \"item_key_offset\": 1}\n"
        try meta.write(toFile: "\(directory)/meta.json", atomically: true, encoding: .utf8)
    }

    // MARK: Freshness

    public struct FreshnessResult: Codable, Sendable {
        /// From the Feedback acknowledgement to the first Recommend answer whose `feedback_offset` covers it.
        public var latency: Latency
        /// Whether offline training ran during the measurement.
        public var underTrainingLoad: Bool
        public var fsync: Bool
    }

    /// Clicks, then polls Recommend (every `pollInterval`) until the answer reflects the click; `samples` times.
    public func freshness(configPath: String, overrides: [ConfigOverride], samples: Int,
                          progress: @Sendable (String) -> Void) async throws -> FreshnessResult {
        let directory = "\(workDirectory)/freshness"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let config = try ClusterConfig.load(path: configPath, overrides: overrides)
        guard config.online.workers > 0 else {
            throw LaunchError("freshness needs online workers (online.workers > 0) to learn from feedback")
        }
        progress("freshness: starting a cluster that keeps training while it serves")
        let cluster = try await start(config: configPath, overrides: overrides, runDirectory: "\(directory)/run", ready: .serving)
        let client = InferenceClient(channel: try GRPCChannel(target: cluster.address, security: cluster.security))
        var rng = SplitMix64(seed: 9)
        var times: [Double] = []
        var trainingDuringAll = true
        let scheduler = SchedulerClient(channel: try GRPCChannel(target: cluster.address, security: cluster.security))
        for sample in 0..<samples {
            let user = String(rng.nextInt(below: max(1, config.data.synthetic.users)) + 1)
            var ask = Tessera_V1_RecommendRequest()
            ask.userID = user
            ask.k = 10
            let before = try await client.recommend(ask)
            guard let item = before.items.randomElement(using: &rng)?.itemID else { continue }
            var click = Tessera_V1_FeedbackRequest()
            click.userID = user
            click.itemID = item
            click.event = .click
            let ack = try await client.feedback(click)
            let acknowledged = ContinuousClock.now
            while true {
                let answer = try await client.recommend(ask)
                if answer.feedbackOffset >= ack.offset { break }
                if ContinuousClock.now - acknowledged > .seconds(30) {
                    await cluster.stop()
                    throw LaunchError("a click (offset \(ack.offset)) was not reflected within 30 s")
                }
                try await Task.sleep(for: .milliseconds(2))
            }
            times.append((ContinuousClock.now - acknowledged).seconds)
            if sample % 20 == 0 {
                let status = try await scheduler.getJobStatus()
                if status.state != .training { trainingDuringAll = false }
            }
        }
        let status = try await scheduler.getJobStatus()
        if status.state != .training { trainingDuringAll = false }
        await cluster.stop()
        let result = FreshnessResult(latency: Latency(times), underTrainingLoad: trainingDuringAll, fsync: config.online.fsync)
        progress(String(format: "freshness: p50 %.1f ms, p99 %.1f ms over %d clicks%@", result.latency.p50, result.latency.p99,
                        times.count, trainingDuringAll ? ", training throughout" : " (training ended during the run)"))
        return result
    }

    // MARK: Ingest

    public struct IngestResult: Codable, Sendable {
        /// Acknowledged Feedback calls per second.
        public var eventsPerSecond: Double
        public var concurrency: Int
        /// Whether every acknowledged event was fsync'd first.
        public var fsync: Bool
        public var latency: Latency
    }

    /// `concurrency` clients send Feedback for `seconds`; acknowledged events per second.
    public func ingest(configPath: String, overrides: [ConfigOverride], concurrency: Int, seconds: Double,
                       progress: @Sendable (String) -> Void) async throws -> IngestResult {
        let config = try ClusterConfig.load(path: configPath, overrides: overrides)
        let directory = "\(workDirectory)/ingest-\(config.online.fsync ? "fsync" : "nofsync")"
        let cluster = try await start(config: configPath, overrides: overrides, runDirectory: "\(directory)/run", ready: .serving)
        let client = InferenceClient(channel: try GRPCChannel(target: cluster.address, security: cluster.security))
        let deadline = ContinuousClock.now + .seconds(seconds)
        let started = ContinuousClock.now
        let tally = Tally()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<concurrency {
                group.addTask {
                    var rng = SplitMix64(seed: UInt64(worker))
                    var local: [Double] = []
                    while ContinuousClock.now < deadline {
                        var event = Tessera_V1_FeedbackRequest()
                        event.userID = String(rng.nextInt(below: 1000) + 1)
                        event.itemID = String(rng.nextInt(below: 1000) + 1)
                        event.event = .impression
                        let start = ContinuousClock.now
                        _ = try await client.feedback(event, options: CallOptions(timeout: .seconds(10)))
                        local.append((ContinuousClock.now - start).seconds)
                    }
                    tally.add(local)
                }
            }
            try await group.waitForAll()
        }
        let elapsed = (ContinuousClock.now - started).seconds
        await cluster.stop()
        let times = tally.samples
        let result = IngestResult(eventsPerSecond: Double(times.count) / elapsed, concurrency: concurrency,
                                  fsync: config.online.fsync, latency: Latency(times))
        progress(String(format: "ingest: %.0f acknowledged events/s, %d clients, fsync %@; p50 %.2f ms, p99 %.2f ms",
                        result.eventsPerSecond, concurrency, config.online.fsync ? "on" : "off", result.latency.p50, result.latency.p99))
        return result
    }

    // MARK: Helpers

    private func start(config: String, overrides: [ConfigOverride] = [], runDirectory: String,
                       ready: LocalCluster.Readiness) async throws -> LocalCluster {
        let resolved = try ClusterConfig.load(path: config, overrides: overrides)
        let plan = Launcher.Plan(executable: executable, configPath: config,
                                 overrides: overrides + [ConfigOverride(path: "scheduler.port", value: "0")],
                                 config: resolved, runDirectory: runDirectory)
        return try await LocalCluster.start(plan, ready: ready)
    }
}

/// Latencies gathered from concurrent clients.
private final class Tally: Sendable {
    private let collected = Mutex<[Double]>([])

    func add(_ samples: [Double]) {
        collected.withLock { $0 += samples }
    }

    var samples: [Double] {
        collected.withLock { $0 }
    }
}
