import ArgumentParser
import Foundation
import Logging
import TesseraBench
import TesseraCore

struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks, each beside its baselines in the same run.",
        subcommands: [PushPull.self, RecommendBench.self, FreshnessBench.self, IngestBench.self, ScaleCommand.self,
                      CheckpointBenchCommand.self])
}

struct PushPull: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pushpull",
        abstract: "Pull and push throughput of real shard processes over loopback gRPC, beside memcpy and the shim's raw echo.")

    @Option(help: "Shard counts, comma-separated.")
    var shards = "1,2,4"

    @Option(help: "Keys per batch, comma-separated.")
    var batches = "256,4096,65536"

    @Option(help: "Row dimension.")
    var dim = 64

    @Option(help: "Timed rounds per measurement (the median is reported).")
    var rounds = 5

    @Option(help: "Seconds per round.")
    var seconds = 1.0

    @Flag(help: "Send rows as float16 instead of float32.")
    var float16 = false

    @Flag(help: "Give every shard a follower (replication.followers: 1): each push reaches the follower before the shard answers.")
    var replicated = false

    @Option(help: "Also write the results as JSON.")
    var json: String?

    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        let logger = try logging.bootstrap(label: "tessera.bench")
        var settings = PushPullBench.Settings(executable: URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path)
        settings.shardCounts = try list(shards, name: "--shards")
        settings.batchSizes = try list(batches, name: "--batches")
        settings.keySpace = max(settings.keySpace, 4 * (settings.batchSizes.max() ?? 0))
        settings.dim = dim
        settings.rounds = max(1, rounds)
        settings.roundSeconds = seconds
        if float16 { settings.encoding = .float16 }
        settings.replicated = replicated
        print("pushpull: dim \(dim), \(settings.encoding == .float16 ? "float16" : "float32") rows, median of \(settings.rounds) rounds of \(seconds) s, one batch in flight\(replicated ? ", every shard with a follower" : "")")
        print("shards   batch  operation      rows/s        MB/s    ms/call")
        let results = try await PushPullBench(settings: settings).run(logger: logger) { result in
            let operation = result.operation.padding(toLength: 9, withPad: " ", startingAt: 0)
            print(String(format: "%6d %7d  ", result.shards, result.batch) + operation
                  + String(format: " %11.0f %11.1f %10.3f", result.rowsPerSecond, result.megabytesPerSecond, result.secondsPerCall * 1000))
        }
        if let json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(results).write(to: URL(fileURLWithPath: json))
        }
    }

}

struct RecommendBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recommend",
        abstract: "Recommend latency (p50/p99, one request in flight) and QPS over gRPC, per catalogue size.",
        discussion: "Each size trains a small cluster whose item table holds that many items, then times greedy top-k Recommend calls. --export-vectors writes the same item and query vectors for bench/faiss_recommend.py.")

    @Option(help: "Catalogue sizes, comma-separated.")
    var items = "10000,100000,1000000"

    @Option(help: "Shards.")
    var shards = 2

    @Option(help: "Row dimension.")
    var dim = 64

    @Option(name: .short, help: "Items per Recommend.")
    var k = 10

    @Option(help: "Timed requests (one in flight).")
    var queries = 2000

    @Option(help: "Requests in flight for the QPS measurement.")
    var concurrency = 8

    @Option(help: "Seconds of the QPS measurement.")
    var seconds = 5.0

    @Option(help: "Write items.f32, queries.f32 and meta.json per size under this folder.")
    var exportVectors: String?

    @Option(help: "Also write the results as JSON.")
    var json: String?

    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        _ = try logging.bootstrap(label: "tessera.bench")
        let sizes = items.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !sizes.isEmpty, sizes.allSatisfy({ $0 > 0 }) else { throw ValidationError("--items: expected positive integers") }
        let bench = ServingBench(executable: selfExecutable(), workDirectory: absolute("runs/bench-\(Int(Date().timeIntervalSince1970))"))
        var results: [ServingBench.RecommendResult] = []
        for size in sizes {
            results.append(try await bench.recommend(items: size, shards: shards, dim: dim, k: k, queries: queries,
                                                     concurrency: concurrency, seconds: seconds,
                                                     exportVectors: exportVectors.map(absolute)) { print($0) })
        }
        print("")
        print("   items  shards   p50 ms   p90 ms   p99 ms  mean ms   QPS(1)   QPS(\(concurrency))")
        for r in results {
            print(String(format: "%8d %7d %8.3f %8.3f %8.3f %8.3f %8.0f %8.0f", r.items, r.shards, r.latency.p50, r.latency.p90,
                         r.latency.p99, r.latency.mean, 1000 / max(r.latency.mean, 1e-9), r.qps))
        }
        try writeJSON(results, to: json)
    }
}

struct FreshnessBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "freshness",
        abstract: "Time from a Feedback click to the first Recommend answer that reflects it, while offline training runs.")

    @OptionGroup var config: ConfigOptions

    @Option(help: "Clicks to time.")
    var samples = 200

    @Option(help: "Also write the results as JSON.")
    var json: String?

    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        _ = try logging.bootstrap(label: "tessera.bench")
        let bench = ServingBench(executable: selfExecutable(), workDirectory: absolute("runs/bench-\(Int(Date().timeIntervalSince1970))"))
        let result = try await bench.freshness(configPath: absolute(config.config), overrides: try config.overrides(),
                                               samples: samples) { print($0) }
        try writeJSON(result, to: json)
    }
}

struct IngestBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Acknowledged Feedback events per second (durable log with group-committed fsyncs).")

    @OptionGroup var config: ConfigOptions

    @Option(help: "Clients sending at once.")
    var concurrency = 64

    @Option(help: "Seconds to send.")
    var seconds = 10.0

    @Option(help: "Also write the results as JSON.")
    var json: String?

    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        _ = try logging.bootstrap(label: "tessera.bench")
        let bench = ServingBench(executable: selfExecutable(), workDirectory: absolute("runs/bench-\(Int(Date().timeIntervalSince1970))"))
        let result = try await bench.ingest(configPath: absolute(config.config), overrides: try config.overrides(),
                                            concurrency: concurrency, seconds: seconds) { print($0) }
        try writeJSON(result, to: json)
    }
}

func selfExecutable() -> String {
    URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
}

/// Positive integers separated by commas (a benchmark's sizes), or a ValidationError naming `name`.
func list(_ text: String, name: String) throws -> [Int] {
    let values = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
    guard !values.isEmpty, values.allSatisfy({ ($0 ?? 0) > 0 }) else {
        throw ValidationError("\(name): expected positive integers separated by commas, got '\(text)'")
    }
    return values.compactMap { $0 }
}

func writeJSON<T: Encodable>(_ value: T, to path: String?) throws {
    guard let path else { return }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    try encoder.encode(value).write(to: URL(fileURLWithPath: path))
}

struct ScaleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scale",
        abstract: "Create and train one large table across shard processes; memory per row against the raw bytes of row and optimizer state.")

    @Option(help: "Rows of the table.")
    var rows = 10_000_000

    @Option(help: "Shard processes.")
    var shards = 4

    @Option(help: "Row dimension.")
    var dim = 32

    @Option(help: "Optimizer: sgd, adagrad, adam or ftrl.")
    var optimizer = "adagrad"

    @Option(help: "Also write the result as JSON.")
    var json: String?

    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        let logger = try logging.bootstrap(label: "tessera.bench")
        let spec: OptimizerSpec
        switch optimizer {
        case "sgd": spec = .sgd(learningRate: 0.01)
        case "adagrad": spec = .adagrad(learningRate: 0.01)
        case "adam": spec = .adam(learningRate: 0.001)
        case "ftrl": spec = .ftrl(alpha: 0.05)
        default: throw ValidationError("--optimizer: expected sgd, adagrad, adam or ftrl, got '\(optimizer)'")
        }
        let result = try await ScaleBench(executable: selfExecutable()).run(rows: rows, shards: shards, dim: dim, optimizer: spec,
                                                                            logger: logger) { print($0) }
        print(String(format: "%d rows of dim %d (%@) on %d shards: raw %d B/row; table %.1f B/row (%.3fx); resident growth %.1f B/row (%.3fx); created in %.1f s, trained in %.1f s",
                     result.rows, result.dim, result.optimizer, result.shards, result.rawBytesPerRow, result.tableBytesPerRow,
                     result.tableOverhead, result.residentBytesPerRow, result.residentOverhead, result.createSeconds, result.trainSeconds))
        try writeJSON(result, to: json)
    }
}

struct CheckpointBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint",
        abstract: "Checkpoint save and restore time and MB/s per shard, incremental size after 1% of rows change, resharding 2 -> 4 shards.")

    @Option(help: "Row counts to measure, comma-separated.")
    var rows = "1000000,10000000"

    @Option(help: "Row dimension.")
    var dim = 32

    @Option(help: "Scratch folder for the checkpoint files (removed afterwards).")
    var scratch = NSTemporaryDirectory()

    @Option(help: "Also write the results as JSON.")
    var json: String?

    func run() async throws {
        let sizes = try list(rows, name: "--rows")
        var results: [CheckpointBench.Result] = []
        for size in sizes {
            let result = try CheckpointBench(scratch: scratch).run(rows: size, dim: dim, optimizer: .adagrad(learningRate: 0.01)) { print($0) }
            results.append(result)
            print(String(format: "%d rows (dim %d, adagrad): full %.1f MB saved in %.2f s (%.0f MB/s), restored in %.2f s (%.0f MB/s); after 1%% changed, incremental %.2f MB (%.4f of full) in %.2f s; reshard 2 -> 4: %.2f s per million rows, moved %.3f (ideal %.3f), checksum %@",
                         result.rows, result.dim, Double(result.fullBytes) / 1e6, result.saveSeconds, result.saveMBPerSecond,
                         result.restoreSeconds, result.restoreMBPerSecond, Double(result.incrementalBytes) / 1e6, result.incrementalRatio,
                         result.incrementalSeconds, result.reshardSecondsPerMillionRows, result.movedFraction, result.idealMovedFraction,
                         result.checksumsEqual ? "equal" : "DIFFERENT"))
        }
        try writeJSON(results, to: json)
    }
}
