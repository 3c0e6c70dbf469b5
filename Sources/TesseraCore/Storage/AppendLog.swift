import Dispatch
import Synchronization

/// A durable, checksummed, append-only log of opaque records in one directory
/// (the scheduler's feedback log; see `LogFormat` for the files).
///
/// - Offsets are dense: 1, 2, 3, … in append order, never reused.
/// - `append` returns only once its records are written and fsync'd (under the
///   default `.fsync` durability). Concurrent appends are group-committed: one
///   writer thread drains the queue and writes everything waiting with one write
///   and one fsync, then resumes all of those callers.
/// - `read` and `endOffset` see only acknowledged (durable) records, in order.
/// - `open` repairs a torn tail (what a crash mid-write leaves) and refuses
///   damage anywhere else with a `.corrupt` error naming file, byte and offset.
///
/// Thread safety: every method may be called from any thread or task at once.
/// One process at a time: the directory is flock(2)ed while open.
public final class AppendLog: Sendable {
    public let directory: String
    public let settings: AppendLogSettings
    /// What opening repaired (a cut-off torn tail), if anything.
    public let recovery: LogRecovery

    let state: Mutex<LogState>
    let writer: LogWriter
    let writerQueue = DispatchQueue(label: "tessera.append-log.writer")
    /// Ends a `maxBatchDelay` wait early once a full batch is queued.
    let batchFull = DispatchSemaphore(value: 0)

    /// Opens the log in `directory`, creating the directory and the first segment
    /// if needed, and recovering from a crash (see the type's summary).
    ///
    /// Throws `.locked` if another `AppendLog` has the directory open, `.corrupt`
    /// for damage that is not a torn tail, `.io`, `.invalidArgument`.
    public init(directory: String, settings: AppendLogSettings = AppendLogSettings()) throws {
        try settings.validate()
        self.directory = directory
        self.settings = settings
        let lockFile = try LogOpener.lockDirectory(directory)
        let opened = try LogOpener(directory: directory, settings: settings).open()
        recovery = opened.recovery
        writer = LogWriter(directory: directory, settings: settings, active: opened.active)
        state = Mutex(LogState(segments: opened.segments, lockFile: lockFile))
    }

    /// The last durable offset: every record up to it is readable (0 when empty).
    public var endOffset: UInt64 {
        state.withLock { $0.durableEnd }
    }

    /// The first offset the log holds (1 unless old segments were removed by hand).
    public var startOffset: UInt64 {
        state.withLock { $0.startOffset }
    }

    /// Records waiting for the disk: queued or being written.
    public var pendingRecords: Int {
        state.withLock { $0.unacknowledged }
    }

    public var statistics: AppendLogStatistics {
        state.withLock { $0.statistics }
    }

    /// fsync(2) calls made by the writer so far (`statistics.syncs`).
    public var syncCount: UInt64 {
        state.withLock { $0.statistics.syncs }
    }

    /// Stops accepting appends, waits for those already accepted to be written,
    /// wakes every `waitForRecords`, and releases the directory. Later calls throw
    /// `.closed`. Blocks the calling thread until the accepted appends are on disk
    /// (at most `maxPendingRecords` records). Idempotent.
    /// A log that is never closed releases its files when its last reference goes.
    public func close() {
        let (waiters, wasClosed, wakeGatherer) = state.withLock { s in
            let wasClosed = s.closed
            s.closed = true
            let waiters = s.waiters.values
            s.waiters = [:]
            let wake = s.gathering
            s.gathering = false
            return (Array(waiters), wasClosed, wake)
        }
        if wakeGatherer { batchFull.signal() }
        let end = endOffset
        for waiter in waiters {
            waiter.timer?.cancel()
            waiter.continuation.resume(returning: end)
        }
        guard !wasClosed else { return }
        // Appends accepted before `closed` was set dispatched their writer first.
        writerQueue.sync {}
        writer.release()
        state.withLock { s in
            s.segments.removeAll()
            s.lockFile = nil
        }
    }
}

/// One segment as readers see it.
struct LogSegment {
    let base: UInt64
    let file: FileDescriptor
    /// Durable records in the segment.
    var recordCount: UInt64
    /// Bytes `[0, durableSize)` hold the header and the durable records.
    var durableSize: Int64
    var sealed: Bool
    /// Nil until a sealed segment is first read (unless opened with `.all`).
    var index: SparseIndex?

    /// One past the segment's last durable offset.
    var endOffset: UInt64 { base + recordCount }
}

/// An append waiting for the writer.
struct PendingAppend {
    var payloads: [[UInt8]]
    var first: UInt64
    var bytes: Int
    var continuation: CheckedContinuation<ClosedRange<UInt64>, any Error>

    var range: ClosedRange<UInt64> { first...(first + UInt64(payloads.count) - 1) }
}

/// A `waitForRecords` call that is parked.
struct RecordWaiter {
    var after: UInt64
    var continuation: CheckedContinuation<UInt64, Never>
    var timer: Task<Void, Never>?
}

/// Everything behind the log's mutex.
struct LogState {
    var segments: [LogSegment]
    var durableEnd: UInt64
    /// The offset the next accepted record gets.
    var nextOffset: UInt64
    var queue: [PendingAppend] = []
    var queuedRecords = 0
    var unacknowledged = 0
    var writerActive = false
    /// The writer is in its `maxBatchDelay` wait.
    var gathering = false
    var closed = false
    /// Set when a write or fsync failed: the log takes no more appends.
    var failure: LogError?
    var waiters: [UInt64: RecordWaiter] = [:]
    var nextWaitID: UInt64 = 0
    var statistics = AppendLogStatistics()
    /// Holds the directory's flock until `close`.
    var lockFile: FileDescriptor?

    init(segments: [LogSegment], lockFile: FileDescriptor) {
        self.segments = segments
        let end = segments.last!.endOffset
        durableEnd = end - 1
        nextOffset = end
        self.lockFile = lockFile
    }

    var startOffset: UInt64 { segments.first?.base ?? durableEnd + 1 }

    /// The index of the segment holding `offset`; `offset` must be in the log.
    func segmentIndex(containing offset: UInt64) -> Int {
        var low = 0
        var high = segments.count
        while low < high {
            let mid = (low + high) / 2
            if segments[mid].base <= offset { low = mid + 1 } else { high = mid }
        }
        return max(0, low - 1)
    }
}
