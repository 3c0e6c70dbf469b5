import ArgumentParser
import Foundation
import Logging
import TesseraBench

struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks, each beside its baselines in the same run.",
        subcommands: [PushPull.self])
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
        print("pushpull: dim \(dim), \(settings.encoding == .float16 ? "float16" : "float32") rows, median of \(settings.rounds) rounds of \(seconds) s, one batch in flight")
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

    private func list(_ text: String, name: String) throws -> [Int] {
        let values = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ ($0 ?? 0) > 0 }) else {
            throw ValidationError("\(name): expected positive integers separated by commas, got '\(text)'")
        }
        return values.compactMap { $0 }
    }
}
