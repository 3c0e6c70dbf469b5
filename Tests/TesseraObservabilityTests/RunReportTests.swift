import Foundation
import Testing
@testable import TesseraObservability

/// `tessera report`'s page from a run directory written by hand (no sockets).
struct RunReportTests {
    static func runDirectory(withMetrics: Bool = true) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-report-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("metrics"), withIntermediateDirectories: true)
        let summary = """
            {"job": "test", "state": "finished", "bestEpoch": 2, "test": {"ndcg@10": 0.2},
             "epochs": [
               {"epoch": 1, "loss": 0.69, "examplesPerSecond": 1000, "metrics": {"ndcg@10": 0.1, "recall@10": 0.15}},
               {"epoch": 2, "loss": 0.5, "examplesPerSecond": 1200, "metrics": {"ndcg@10": 0.2, "recall@10": 0.25}},
               {"epoch": 3, "loss": 0.45, "examplesPerSecond": 1100, "metrics": {"ndcg@10": 0.19, "recall@10": 0.24}}]}
            """
        try summary.write(to: dir.appendingPathComponent("summary.json"), atomically: true, encoding: .utf8)
        guard withMetrics else { return dir }
        for shard in 0..<2 {
            let metrics = ShardMetrics()
            metrics.recordPull(table: "item", keys: [1, 2], bytes: 256, duration: .milliseconds(2))
            metrics.recordPush(rows: 2 + shard, bytes: 256, duration: .milliseconds(5))
            metrics.refresh(shardID: UInt32(shard), mapVersion: 1, tables: [.init(name: "item", rows: 100 + shard, bytes: 4096)])
            try metrics.registry.emitToString().write(to: dir.appendingPathComponent("metrics/server-\(shard).prom"), atomically: true, encoding: .utf8)
        }
        let scheduler = SchedulerMetrics()
        scheduler.record(method: "recommend", duration: .milliseconds(3), code: nil)
        try scheduler.registry.emitToString().write(to: dir.appendingPathComponent("metrics/scheduler.prom"), atomically: true, encoding: .utf8)
        return dir
    }

    @Test func everyPlotIsDrawn() throws {
        let report = try RunReport(directory: try Self.runDirectory().path)
        let plots = Dictionary(uniqueKeysWithValues: report.plots().map { ($0.id, $0.svg) })
        for id in ["loss", "ndcg", "throughput"] {
            let svg = try #require(plots[id])
            #expect(svg.contains("class=\"series\"") && svg.contains("d=\"M") && !svg.contains("no data"), "\(id): \(svg)")
        }
        for id in ["rows", "traffic", "traffic-bytes", "pull-latency", "push-latency", "inference-latency"] {
            let svg = try #require(plots[id])
            #expect(svg.contains("class=\"bar\""), "\(id) has no bars")
        }
        let page = report.html()
        #expect(page.contains("<h1>Tessera run test"))
        #expect(!page.contains("<script"))
        #expect(report.notes.isEmpty)
    }

    @Test func aMissingPartIsNotedAndItsPlotsSayNoData() throws {
        let report = try RunReport(directory: try Self.runDirectory(withMetrics: false).path)
        #expect(report.notes.contains { $0.contains("metrics/*.prom") })
        let rows = try #require(report.plots().first { $0.id == "rows" })
        #expect(rows.svg.contains("no data") && !rows.svg.contains("class=\"bar\""))
    }

    @Test func anEmptyDirectoryIsRefused() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-empty-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        #expect(throws: ObservabilityError.self) { try RunReport(directory: dir.path) }
    }

    @Test func ticksAreRound() {
        #expect(SVGChart.ticks(0, 1) == [0, 0.2, 0.4, 0.6000000000000001, 0.8, 1].map { $0 } || SVGChart.ticks(0, 1).count == 6)
        #expect(SVGChart.ticks(0, 1000).first == 0 && SVGChart.ticks(0, 1000).last == 1000)
    }
}
