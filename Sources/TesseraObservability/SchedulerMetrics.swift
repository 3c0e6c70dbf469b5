import Prometheus
import Synchronization

/// The scheduler's metrics: online inference (`tessera_inference_*`), training
/// progress (`tessera_training_*`), feedback freshness (`tessera_feedback_*`)
/// and membership (`tessera_cluster_*`). Thread-safe.
///
/// Inference counters and latencies move per call (`record`); the rest are
/// gauges set from the scheduler's state before each scrape (`refresh`).
public final class SchedulerMetrics: Sendable {
    /// What `refresh` reads off the scheduler.
    public struct State: Sendable {
        public var epoch = 0
        public var epochs = 0
        public var loss: Double?
        public var examplesPerSecond: Double?
        /// Metric name (e.g. "ndcg@10") to its best validation value so far.
        public var best: [String: Double] = [:]
        public var latest: [String: Double] = [:]
        public var feedbackEndOffset: UInt64 = 0
        public var feedbackReflectedOffset: UInt64 = 0
        /// Seconds since the newest reflected event was received; nil when none is.
        public var feedbackReflectedAgeSeconds: Double?
        public var members: [String: Int] = [:]
        public var shardMapVersion: UInt64 = 0
        /// 1 when every member heartbeats in time and the job has not failed.
        public var healthy = true
        public init() {}
    }

    public static let methods = ["recommend", "score", "feedback"]

    public let registry: PrometheusCollectorRegistry
    private let requests: [String: Counter]
    private let latency: [String: DurationHistogram]
    private let errors = Mutex<[String: Counter]>([:])
    private let gauges = Mutex<[String: Gauge]>([:])

    /// Registers in a new registry of its own (one per process).
    public convenience init() {
        self.init(registry: PrometheusCollectorRegistry())
    }

    public init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
        var requests: [String: Counter] = [:]
        var latency: [String: DurationHistogram] = [:]
        for method in Self.methods {
            requests[method] = registry.counter("tessera_inference_requests_total", labels: [("method", method)],
                                                    help: "Inference calls answered (successfully or not), by method.")
            latency[method] = registry.durationHistogram("tessera_inference_seconds", labels: [("method", method)],
                                                             buckets: ShardMetrics.latencyBuckets,
                                                             help: "Inference call latency, by method.")
        }
        self.requests = requests
        self.latency = latency
    }

    /// Records one inference call of `method`; `code` is nil on success, else its gRPC status ("invalid_argument", …).
    public func record(method: String, duration: Duration, code: String?) {
        requests[method]?.increment()
        latency[method]?.record(duration)
        guard let code else { return }
        let counter = errors.withLock { errors in
            let key = "\(method)/\(code)"
            if let counter = errors[key] { return counter }
            let counter = registry.counter("tessera_inference_errors_total", labels: [("method", method), ("code", code)],
                                               help: "Inference calls answered with an error, by method and gRPC status.")
            errors[key] = counter
            return counter
        }
        counter.increment()
    }

    /// Sets the gauges from the scheduler's state: call before a scrape.
    public func refresh(_ state: State) {
        set("tessera_training_epoch", [], Double(state.epoch), "Last epoch completed.")
        set("tessera_training_epochs", [], Double(state.epochs), "Epochs configured.")
        if let loss = state.loss { set("tessera_training_loss", [], loss, "Mean training loss of the last epoch.") }
        if let rate = state.examplesPerSecond {
            set("tessera_training_examples_per_second", [], rate, "Training examples per second of the last epoch, all workers.")
        }
        for (metric, value) in state.best {
            set("tessera_training_best_metric", [("metric", metric)], value, "Best validation value of each metric so far (the early-stopping choice).")
        }
        for (metric, value) in state.latest {
            set("tessera_training_latest_metric", [("metric", metric)], value, "Validation metrics of the latest evaluation.")
        }
        set("tessera_feedback_log_end_offset", [], Double(state.feedbackEndOffset), "Offset of the last acknowledged feedback event.")
        set("tessera_feedback_reflected_offset", [], Double(state.feedbackReflectedOffset),
            "Every feedback event up to this offset is applied by every online worker.")
        set("tessera_feedback_lag_events", [], Double(state.feedbackEndOffset - min(state.feedbackEndOffset, state.feedbackReflectedOffset)),
            "Acknowledged feedback events not yet reflected in the model (freshness).")
        if let age = state.feedbackReflectedAgeSeconds {
            set("tessera_feedback_reflected_age_seconds", [], age, "Seconds since the newest reflected feedback event was received.")
        }
        for (role, count) in state.members {
            set("tessera_cluster_members", [("role", role)], Double(count), "Registered members, by role.")
        }
        set("tessera_cluster_shard_map_version", [], Double(state.shardMapVersion), "Current shard-map version (0 before all shards registered).")
        set("tessera_cluster_healthy", [], state.healthy ? 1 : 0, "1 when every member heartbeats in time and the job has not failed.")
    }

    private func set(_ name: String, _ labels: [(String, String)], _ value: Double, _ help: String) {
        let gauge = gauges.withLock { gauges in
            let key = name + labels.map { "|\($0.0)=\($0.1)" }.joined()
            if let gauge = gauges[key] { return gauge }
            let gauge = registry.gauge(name, labels: labels, help: help)
            gauges[key] = gauge
            return gauge
        }
        gauge.set(value)
    }
}
