import Prometheus

/// A worker's metrics (`tessera_worker_*`), offline or online. Thread-safe.
public final class WorkerMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    let examples: Counter
    let lossSum: Counter
    let communication: Counter
    let rate: Gauge
    let loss: Gauge
    let epoch: Gauge
    let workerID: Gauge
    let events: Counter
    let committed: Gauge

    /// Registers in a new registry of its own (one per process).
    public convenience init() {
        self.init(registry: PrometheusCollectorRegistry())
    }

    public init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
        examples = registry.counter("tessera_worker_examples_total", help: "Training examples processed.")
        lossSum = registry.counter("tessera_worker_loss_sum_total",
                                       help: "Sum of per-example training losses (with examples_total: the mean loss over any window).")
        communication = registry.counter("tessera_worker_barrier_seconds_total", help: "Seconds spent waiting at BSP barriers.")
        rate = registry.gauge("tessera_worker_examples_per_second", help: "Examples per second over the last progress interval.")
        loss = registry.gauge("tessera_worker_loss", help: "Mean training loss over the last progress interval.")
        epoch = registry.gauge("tessera_worker_epoch", help: "Epoch being trained (0 before the first).")
        workerID = registry.gauge("tessera_worker_id", help: "This worker's id (-1 until assigned).")
        events = registry.counter("tessera_worker_feedback_events_total", help: "Feedback events applied (online workers).")
        committed = registry.gauge("tessera_worker_feedback_committed_offset",
                                       help: "Feedback log offset committed as applied (online workers).")
        workerID.set(-1.0)
    }

    public func setWorker(id: UInt32) {
        workerID.set(Double(id))
    }

    /// Records one progress interval: `examples` examples whose losses sum to `lossSum`, over `seconds`.
    public func recordProgress(epoch: Int, examples: Int, lossSum: Double, seconds: Double, barrierSeconds: Double) {
        self.epoch.set(Double(epoch))
        self.examples.increment(by: Int64(examples))
        self.lossSum.increment(by: lossSum)
        communication.increment(by: barrierSeconds)
        if seconds > 0 { rate.set(Double(examples) / seconds) }
        if examples > 0 { loss.set(lossSum / Double(examples)) }
    }

    /// Records an online batch of `events` feedback events, committed up to `offset`.
    public func recordFeedback(events: Int, committedOffset offset: UInt64) {
        self.events.increment(by: Int64(events))
        committed.set(Double(offset))
    }
}
