import Prometheus
import Synchronization
import TesseraCore

/// A shard server's metrics (`tessera_shard_*`), registered in the process's registry.
///
/// Counters move as requests are served (`recordPull`, `recordPush`, …); gauges
/// that describe state (rows, bytes, staleness, hot keys) are set by `refresh`
/// just before each scrape. Thread-safe.
public final class ShardMetrics: Sendable {
    /// What `refresh` reads off one table.
    public struct TableState: Sendable {
        public var name: String
        public var rows: Int
        public var bytes: Int
        /// Lifecycle totals so far (see `TableLifecycle`): keys admitted, rows evicted.
        public var admitted: UInt64
        public var evicted: UInt64
        public init(name: String, rows: Int, bytes: Int, admitted: UInt64 = 0, evicted: UInt64 = 0) {
            self.name = name
            self.rows = rows
            self.bytes = bytes
            self.admitted = admitted
            self.evicted = evicted
        }
    }

    /// Hot keys exported as `tessera_shard_hot_key_pulls{rank,table,key}`.
    public static let hotKeyCount = 10

    public let registry: PrometheusCollectorRegistry
    public let hotKeys = HotKeys()
    let pullRequests: Counter
    let pullRows: Counter
    let pullBytes: Counter
    let pushRequests: Counter
    let pushRows: Counter
    let pushBytes: Counter
    let pullSeconds: DurationHistogram
    let pushSeconds: DurationHistogram
    let scoreSeconds: DurationHistogram
    let scoreRequests: Counter
    let counterUpdates: Counter
    let lastPushAge: Gauge
    let mapVersion: Gauge
    let shardID: Gauge
    /// Keys admitted into a table (`admit_after`).
    public let admissions: Counter
    /// Rows evicted by TTL or the row cap (`TableLifecycle`).
    public let evictions: Counter
    /// Replication: the follower's state seen by this leader, whether this process follows,
    /// batches sent (leader) or applied (follower), and batches the follower failed.
    let followerState: Gauge
    let following: Gauge
    let replicatedBatches: Gauge
    let replicationFailures: Gauge
    private let lastPush = Mutex<ContinuousClock.Instant?>(nil)
    private let errors = Mutex<[String: Counter]>([:])
    private let tableGauges = Mutex<[String: (rows: Gauge, bytes: Gauge)]>([:])
    private let hotGauges = Mutex<[Gauge]>([])

    /// Registers in a new registry of its own (one per process).
    public convenience init() {
        self.init(registry: PrometheusCollectorRegistry())
    }

    public init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
        pullRequests = registry.counter("tessera_shard_pull_requests_total", help: "Pull requests served.")
        pullRows = registry.counter("tessera_shard_pull_rows_total", help: "Rows returned by Pull.")
        pullBytes = registry.counter("tessera_shard_pull_bytes_total", help: "Row payload bytes returned by Pull.")
        pushRequests = registry.counter("tessera_shard_push_requests_total", help: "Push requests applied.")
        pushRows = registry.counter("tessera_shard_push_rows_total", help: "Gradient rows received by Push.")
        pushBytes = registry.counter("tessera_shard_push_bytes_total", help: "Gradient payload bytes received by Push.")
        pullSeconds = registry.durationHistogram("tessera_shard_pull_seconds", buckets: Self.latencyBuckets,
                                                     help: "Time to serve one Pull.")
        pushSeconds = registry.durationHistogram("tessera_shard_push_seconds", buckets: Self.latencyBuckets,
                                                     help: "Time to apply one Push.")
        scoreSeconds = registry.durationHistogram("tessera_shard_score_items_seconds", buckets: Self.latencyBuckets,
                                                      help: "Time to serve one ScoreItems (a shard's part of Recommend).")
        scoreRequests = registry.counter("tessera_shard_score_items_requests_total", help: "ScoreItems requests served.")
        counterUpdates = registry.counter("tessera_shard_counter_updates_total", help: "UpdateCounters requests applied (feedback counters).")
        lastPushAge = registry.gauge("tessera_shard_last_push_age_seconds",
                                         help: "Seconds since the last Push was applied (staleness of the rows); -1 before the first.")
        followerState = registry.gauge("tessera_shard_follower_state",
                                       help: "Replication on a leader: 1 follower in sync, 0 follower lost (updates since are unprotected), -1 no follower.")
        following = registry.gauge("tessera_shard_following", help: "1 while this process is a follower (replication), 0 when it serves its shard.")
        replicatedBatches = registry.gauge("tessera_shard_replicated_batches",
                                           help: "Replication batches this leader's follower acknowledged, or this follower applied.")
        replicationFailures = registry.gauge("tessera_shard_replication_failures",
                                             help: "Replication batches that failed on this leader (the first marks the follower lost).")
        mapVersion = registry.gauge("tessera_shard_map_version", help: "Shard-map version this shard serves (0 before the first map).")
        shardID = registry.gauge("tessera_shard_id", help: "This shard's id (-1 until the scheduler assigns one).")
        admissions = registry.counter("tessera_shard_admissions_total",
                                          help: "Keys admitted into a table after admit_after pulls.")
        evictions = registry.counter("tessera_shard_evictions_total",
                                         help: "Rows evicted for their age (ttl_seconds) or the row cap (max_rows, least recently used first).")
        shardID.set(-1.0)
        lastPushAge.set(-1.0)
    }

    /// Latency buckets: 100 µs to 10 s.
    public static let latencyBuckets: [Duration] = [
        .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5),
        .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
        .seconds(1), .seconds(2.5), .seconds(10),
    ]

    public func recordPull(table: String, keys: [UInt64], bytes: Int, duration: Duration) {
        pullRequests.increment()
        pullRows.increment(by: Int64(keys.count))
        pullBytes.increment(by: Int64(bytes))
        pullSeconds.record(duration)
        hotKeys.record(table: table, keys: keys)
    }

    public func recordPush(rows: Int, bytes: Int, duration: Duration) {
        pushRequests.increment()
        pushRows.increment(by: Int64(rows))
        pushBytes.increment(by: Int64(bytes))
        pushSeconds.record(duration)
        lastPush.withLock { $0 = .now }
    }

    public func recordScore(duration: Duration) {
        scoreRequests.increment()
        scoreSeconds.record(duration)
    }

    public func recordCounterUpdate() {
        counterUpdates.increment()
    }

    /// Counts a refused or failed call of `method` with gRPC status `code` ("invalid_argument", …).
    public func recordError(method: String, code: String) {
        let counter = errors.withLock { errors in
            let key = "\(method)/\(code)"
            if let counter = errors[key] { return counter }
            let counter = registry.counter("tessera_shard_errors_total", labels: [("method", method), ("code", code)],
                                               help: "Calls answered with an error, by method and gRPC status.")
            errors[key] = counter
            return counter
        }
        counter.increment()
    }

    /// Lifecycle totals already added to the counters.
    private let countedLifecycle = Mutex<(admitted: UInt64, evicted: UInt64)>((0, 0))

    /// Sets the replication gauges (read before each scrape).
    /// - Parameter state: "none", "in_sync" or "lost" (`Replicator.FollowerState`).
    public func refreshReplication(state: String, following isFollowing: Bool, batches: UInt64, failures: UInt64) {
        followerState.set(Double(state == "in_sync" ? 1 : state == "lost" ? 0 : -1))
        following.set(Double(isFollowing ? 1 : 0))
        replicatedBatches.set(Double(batches))
        replicationFailures.set(Double(failures))
    }

    /// Sets the state gauges: call before a scrape.
    public func refresh(shardID id: UInt32?, mapVersion version: UInt64?, tables: [TableState]) {
        let admitted = tables.reduce(UInt64(0)) { $0 + $1.admitted }, evicted = tables.reduce(UInt64(0)) { $0 + $1.evicted }
        let (newAdmissions, newEvictions) = countedLifecycle.withLock { counted -> (UInt64, UInt64) in
            defer { counted = (max(counted.admitted, admitted), max(counted.evicted, evicted)) }
            return (admitted > counted.admitted ? admitted - counted.admitted : 0, evicted > counted.evicted ? evicted - counted.evicted : 0)
        }
        if newAdmissions > 0 { admissions.increment(by: Int64(newAdmissions)) }
        if newEvictions > 0 { evictions.increment(by: Int64(newEvictions)) }
        shardID.set(id.map(Double.init) ?? -1)
        mapVersion.set(Double(version ?? 0))
        if let last = lastPush.withLock({ $0 }) {
            lastPushAge.set((ContinuousClock.now - last).seconds)
        }
        for table in tables {
            let gauges = tableGauges.withLock { gauges in
                if let existing = gauges[table.name] { return existing }
                let made = (rows: registry.gauge("tessera_shard_rows", labels: [("table", table.name)],
                                                     help: "Rows this shard holds, by table."),
                            bytes: registry.gauge("tessera_shard_bytes", labels: [("table", table.name)],
                                                      help: "Bytes of rows and optimizer state this shard holds, by table."))
                gauges[table.name] = made
                return made
            }
            gauges.rows.set(Double(table.rows))
            gauges.bytes.set(Double(table.bytes))
        }
        refreshHotKeys()
    }

    /// `tessera_shard_hot_key_pulls{rank="1",table="item",key="42"}`: sampled pull counts of the most pulled keys.
    private func refreshHotKeys() {
        let top = hotKeys.top(Self.hotKeyCount)
        hotGauges.withLock { gauges in
            for gauge in gauges { registry.unregisterGauge(gauge) }
            gauges = top.enumerated().map { rank, entry in
                let gauge = registry.gauge("tessera_shard_hot_key_pulls",
                                               labels: [("rank", "\(rank + 1)"), ("table", entry.table), ("key", "\(entry.key)")],
                                               help: "Sampled pull counts of the most pulled keys (rank 1 is the hottest).")
                gauge.set(Double(entry.count))
                return gauge
            }
        }
    }
}
