/// How an `AppendLog` lays out, batches and checks its files. The defaults suit a
/// feedback log; state only what differs.
public struct AppendLogSettings: Sendable, Hashable {
    /// When an append counts as done.
    public enum Durability: Sendable, Hashable {
        /// Acknowledge after write(2) *and* fsync(2) of the data (and of the
        /// directory when a segment was created): survives power loss.
        case fsync
        /// **NOT DURABLE — benchmarks and tests only.** Acknowledge after write(2)
        /// alone: the records survive a crash of this process but may be lost, torn
        /// or reordered by a kernel crash or power loss, and recovery may then refuse
        /// the log. Nothing is ever fsync'd.
        case none
    }

    /// How much `open` checks before returning.
    public enum Verification: Sendable, Hashable {
        /// Check every record of the last segment (where a crash can leave a torn
        /// tail) and the header and seal of every other one. Records of sealed
        /// segments are checked when first read. Opening costs one segment's read.
        case lastSegment
        /// Check every record of every segment. Opening reads the whole log.
        case all
    }

    /// A segment is closed and a new one begun once it would grow past this many
    /// bytes (a record larger than this gets a segment to itself).
    public var segmentBytes: Int = 64 << 20
    /// Appends of larger payloads are refused with `.invalidArgument`.
    public var maxRecordBytes: Int = 16 << 20
    /// At most this many records are written with one write and one fsync…
    public var maxBatchRecords: Int = 4096
    /// …and at most about this many payload bytes (a batch always takes at least
    /// one whole append).
    public var maxBatchBytes: Int = 8 << 20
    /// How long the writer may wait after the first queued record for more to
    /// arrive before it writes (it stops waiting once `maxBatchRecords` are
    /// queued). Zero writes as soon as the previous fsync ended, which batches
    /// naturally under load and adds no latency when idle.
    public var maxBatchDelay: Duration = .zero
    /// Appends are refused with `.overloaded` when they would leave more than this
    /// many records waiting for the disk (queued or being written). An append of
    /// more records than this is still accepted when nothing is waiting.
    public var maxPendingRecords: Int = 65_536
    /// `.fsync` unless benchmarking: `.none` acknowledges records that a power
    /// loss can take back.
    public var durability: Durability = .fsync
    public var verification: Verification = .lastSegment
    /// The sparse index holds one record position per this many bytes of segment,
    /// so a read starts at most about this far before its first record.
    public var indexIntervalBytes: Int = 64 << 10

    public init() {}

    func validate() throws {
        func check(_ ok: Bool, _ message: String) throws {
            if !ok { throw LogError(.invalidArgument, "AppendLogSettings: \(message)") }
        }
        try check(segmentBytes >= 4096, "segmentBytes must be at least 4096, not \(segmentBytes)")
        try check(
            maxRecordBytes >= 0 && maxRecordBytes <= LogFormat.maxPayloadBytes,
            "maxRecordBytes must be in 0...\(LogFormat.maxPayloadBytes), not \(maxRecordBytes)")
        try check(maxBatchRecords >= 1, "maxBatchRecords must be at least 1, not \(maxBatchRecords)")
        try check(maxBatchBytes >= 1, "maxBatchBytes must be at least 1, not \(maxBatchBytes)")
        try check(maxBatchDelay >= .zero, "maxBatchDelay must not be negative")
        try check(maxPendingRecords >= 1, "maxPendingRecords must be at least 1, not \(maxPendingRecords)")
        try check(indexIntervalBytes >= 1, "indexIntervalBytes must be at least 1, not \(indexIntervalBytes)")
    }
}

/// What `open` repaired: the bytes of a torn tail it cut off the last segment.
public struct LogRecovery: Sendable, Hashable {
    /// Bytes removed from the end of the log (0 when it was clean).
    public var droppedBytes: Int64 = 0
    /// The segment that was cut, when one was.
    public var truncatedFile: String?
    /// The length `truncatedFile` was cut to.
    public var truncatedAt: Int64?
    /// What was wrong at `truncatedAt`.
    public var reason: String?

    public init() {}
}

/// Counters since the log was opened, for metrics and tests.
public struct AppendLogStatistics: Sendable, Hashable {
    /// Records acknowledged to appenders.
    public var appendedRecords: UInt64 = 0
    /// Payload bytes of those records.
    public var appendedBytes: UInt64 = 0
    /// Batches written (each ended with one fsync of the data under `.fsync`).
    public var commits: UInt64 = 0
    /// fsync(2) calls made by the writer, on segment files and the directory.
    public var syncs: UInt64 = 0
    /// Appends refused with `.overloaded`.
    public var overloads: UInt64 = 0

    public init() {}
}

/// One record read back from the log.
public struct LogRecord: Sendable, Hashable {
    public var offset: UInt64
    public var payload: [UInt8]

    public init(offset: UInt64, payload: [UInt8]) {
        self.offset = offset
        self.payload = payload
    }
}
