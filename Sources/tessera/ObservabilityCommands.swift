import ArgumentParser
import Foundation
import TesseraLauncher
import TesseraRPC
import TesseraObservability

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the live cluster: members, shard map, training progress and health.")

    @Option(help: "The scheduler's host:port.")
    var scheduler: String

    @Flag(help: "Print the GetJobStatus answer as JSON instead.")
    var json = false

    @OptionGroup var security: SecurityOptions

    func run() async throws {
        let status = try await ClusterStatusText.fetch(scheduler: scheduler, security: try security.resolve().client)
        if json {
            print(try status.jsonString())
        } else {
            print(ClusterStatusText.render(status, scheduler: scheduler), terminator: "")
        }
    }
}

struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a self-contained HTML page with plots of a run (loss, NDCG, throughput, shards, latencies).",
        discussion: "Reads RUN_DIR/summary.json and RUN_DIR/metrics/*.prom, as `tessera launch` leaves them.")

    @Argument(help: "The run directory (runs/NAME-TIME, or --run-dir of tessera launch).")
    var runDir: String

    @Option(help: "Where to write the page (default RUN_DIR/report.html).")
    var out: String?

    func run() throws {
        let report = try RunReport(directory: runDir)
        let path = out ?? "\(runDir)/report.html"
        try Data(report.html().utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        for note in report.notes { FileHandle.standardError.write(Data("tessera report: \(note)\n".utf8)) }
        print("wrote \(path)")
    }
}
