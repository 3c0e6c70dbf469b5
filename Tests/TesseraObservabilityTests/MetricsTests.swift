import Foundation
import Testing
@testable import TesseraObservability

/// The metrics types and their text, without sockets.
struct MetricsTests {
    @Test func shardMetricsEmitValidTextThatCountsRequests() throws {
        let metrics = ShardMetrics()
        metrics.recordPull(table: "item", keys: [1, 2, 3], bytes: 3 * 32 * 4, duration: .milliseconds(3))
        metrics.recordPull(table: "item", keys: [2, 3], bytes: 2 * 32 * 4, duration: .microseconds(300))
        metrics.recordPush(rows: 4, bytes: 4 * 32 * 4, duration: .milliseconds(1))
        metrics.recordError(method: "pull", code: "invalid_argument")
        metrics.refresh(shardID: 1, mapVersion: 7, tables: [.init(name: "item", rows: 10, bytes: 2560), .init(name: "user", rows: 5, bytes: 1280)])
        let text = try PrometheusText(parsing: metrics.registry.emitToString())
        #expect(text.value("tessera_shard_pull_requests_total") == 2)
        #expect(text.value("tessera_shard_pull_rows_total") == 5)
        #expect(text.value("tessera_shard_push_rows_total") == 4)
        #expect(text.value("tessera_shard_pull_bytes_total") == 640)
        #expect(text.value("tessera_shard_rows", where: ["table": "item"]) == 10)
        #expect(text.value("tessera_shard_rows") == 15)
        #expect(text.value("tessera_shard_map_version") == 7)
        #expect(text.value("tessera_shard_id") == 1)
        #expect(text.value("tessera_shard_errors_total", where: ["method": "pull", "code": "invalid_argument"]) == 1)
        #expect(text.value("tessera_shard_pull_seconds_count") == 2)
        let buckets = text.buckets("tessera_shard_pull_seconds")
        #expect(buckets.last?.upperBound == .infinity && buckets.last?.count == 2)
        #expect(buckets.first { $0.upperBound >= 0.0005 }?.count == 1)
        #expect(text.types["tessera_shard_pull_seconds"] == "histogram")
        #expect(text.types["tessera_shard_rows"] == "gauge")
        #expect(text.value("tessera_shard_last_push_age_seconds") ?? -1 >= 0)
        // The hottest keys (2 and 3, pulled twice) rank first.
        let hot = text.samples("tessera_shard_hot_key_pulls").sorted { $0.labels["rank"]! < $1.labels["rank"]! }
        #expect(hot.count == 3)
        #expect(Set(hot.prefix(2).map { $0.labels["key"]! }) == ["2", "3"] && hot.first?.value == 2)
        // Reserved lifecycle counters are present (at zero) for dashboards.
        #expect(text.value("tessera_shard_admissions_total") == 0 && text.value("tessera_shard_evictions_total") == 0)
        // A second refresh replaces the hot-key series rather than adding to them.
        metrics.refresh(shardID: 1, mapVersion: 7, tables: [])
        #expect(try PrometheusText(parsing: metrics.registry.emitToString()).samples("tessera_shard_hot_key_pulls").count == 3)
    }

    @Test func workerAndSchedulerMetrics() throws {
        let worker = WorkerMetrics()
        worker.setWorker(id: 3)
        worker.recordProgress(epoch: 2, examples: 1000, lossSum: 500, seconds: 2, barrierSeconds: 0.5)
        worker.recordFeedback(events: 8, committedOffset: 42)
        let w = try PrometheusText(parsing: worker.registry.emitToString())
        #expect(w.value("tessera_worker_examples_total") == 1000)
        #expect(w.value("tessera_worker_examples_per_second") == 500)
        #expect(w.value("tessera_worker_loss") == 0.5)
        #expect(w.value("tessera_worker_epoch") == 2 && w.value("tessera_worker_id") == 3)
        #expect(w.value("tessera_worker_feedback_committed_offset") == 42)

        let scheduler = SchedulerMetrics()
        scheduler.record(method: "recommend", duration: .milliseconds(2), code: nil)
        scheduler.record(method: "recommend", duration: .milliseconds(4), code: "invalid_argument")
        scheduler.record(method: "feedback", duration: .milliseconds(1), code: nil)
        var state = SchedulerMetrics.State()
        state.epoch = 4
        state.best = ["ndcg@10": 0.25]
        state.feedbackEndOffset = 10
        state.feedbackReflectedOffset = 7
        state.members = ["server": 2]
        scheduler.refresh(state)
        let s = try PrometheusText(parsing: scheduler.registry.emitToString())
        #expect(s.value("tessera_inference_requests_total", where: ["method": "recommend"]) == 2)
        #expect(s.value("tessera_inference_errors_total", where: ["method": "recommend", "code": "invalid_argument"]) == 1)
        #expect(s.value("tessera_inference_seconds_count", where: ["method": "feedback"]) == 1)
        #expect(s.value("tessera_training_epoch") == 4)
        #expect(s.value("tessera_training_best_metric", where: ["metric": "ndcg@10"]) == 0.25)
        #expect(s.value("tessera_feedback_lag_events") == 3)
        #expect(s.value("tessera_cluster_members", where: ["role": "server"]) == 2)
    }

    @Test func parserReadsLabelsEscapesAndSpecialValues() throws {
        let text = try PrometheusText(parsing: """
            # HELP x_total A counter.
            # TYPE x_total counter
            x_total 3
            y{a="1",b="q\\"uote"} +Inf
            z_bucket{le="0.5"} 2
            z_bucket{le="+Inf"} 5

            """)
        #expect(text.value("x_total") == 3)
        #expect(text.samples("y").first?.labels["b"] == "q\"uote")
        #expect(text.value("y") == .infinity)
        #expect(text.buckets("z").map(\.count) == [2, 5])
        #expect(throws: ObservabilityError.self) { try PrometheusText(parsing: "not a sample line") }
    }

    @Test func hotKeysStayBoundedAndFindTheHottest() {
        let hot = HotKeys(capacity: 16, samplePerBatch: 8)
        for round in 0..<200 {
            hot.record(table: "item", keys: [7, UInt64(1000 + round)])
        }
        #expect(hot.top(1).first?.key == 7)
        #expect(hot.top(100).count <= 32)
    }
}
