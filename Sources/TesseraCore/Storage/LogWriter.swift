#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The segment being appended to, as the writer sees it (written bytes included,
/// durable or not).
struct ActiveSegment {
    var file: FileDescriptor
    var base: UInt64
    var size: Int64
    var count: UInt64
    /// Position of the last record put in the sparse index.
    var lastIndexed: Int64?

    /// The segment as readers may see it once everything written is durable.
    var published: LogSegment {
        LogSegment(base: base, file: file, recordCount: count, durableSize: size, sealed: false, index: SparseIndex())
    }
}

/// What one batch did to one segment, published to readers after the fsync.
struct SegmentUpdate {
    var base: UInt64
    var file: FileDescriptor
    var recordCount: UInt64
    var durableSize: Int64
    var sealed: Bool
    var newIndexEntries: SparseIndex
}

/// The writer's own state. Only touched on the log's writer queue (and by
/// `close` after that queue has drained), hence `@unchecked Sendable`.
final class LogWriter: @unchecked Sendable {
    let directory: String
    let settings: AppendLogSettings
    private var active: ActiveSegment?
    /// Reused between batches so steady-state appends allocate nothing here.
    private var buffer: [UInt8] = []

    init(directory: String, settings: AppendLogSettings, active: ActiveSegment) {
        self.directory = directory
        self.settings = settings
        self.active = active
    }

    /// Drops the active segment's descriptor (after `close`).
    func release() {
        active = nil
        buffer = []
    }

    /// Creates segment `base` holding only its header (not yet fsync'd).
    static func createSegment(directory: String, base: UInt64) throws -> ActiveSegment {
        let file = try FileDescriptor(
            path: directory + "/" + LogFormat.segmentName(base: base), flags: O_RDWR | O_CREAT | O_EXCL)
        let header = LogFormat.header(base: base)
        try header.withUnsafeBytes { try file.write($0, at: 0) }
        return ActiveSegment(file: file, base: base, size: Int64(header.count), count: 0, lastIndexed: nil)
    }

    /// Writes `batch` (in order, rolling segments as needed) and, under `.fsync`,
    /// makes it durable. Returns what changed and how many fsyncs it took.
    func commit(_ batch: [PendingAppend]) throws -> (updates: [SegmentUpdate], syncs: UInt64) {
        guard var segment = active else {
            throw LogError(.closed, "the append log in \(directory) is closed", path: directory)
        }
        let syncing = settings.durability == .fsync
        var updates: [SegmentUpdate] = []
        var entries = SparseIndex()
        var syncs: UInt64 = 0
        var createdSegment = false
        buffer.removeAll(keepingCapacity: true)
        var bufferStart = segment.size

        for append in batch {
            var offset = append.first
            for payload in append.payloads {
                let recordSize = Int64(LogFormat.recordHeaderSize + payload.count)
                if segment.count > 0 && segment.size + recordSize > Int64(settings.segmentBytes) {
                    // Seal, flush and fsync this segment before its successor exists,
                    // so only the last segment can ever be torn.
                    LogFormat.appendSeal(nextOffset: offset, to: &buffer)
                    try buffer.withUnsafeBytes { try segment.file.write($0, at: bufferStart) }
                    if syncing {
                        try segment.file.sync()
                        syncs += 1
                    }
                    updates.append(SegmentUpdate(
                        base: segment.base, file: segment.file, recordCount: segment.count,
                        durableSize: segment.size, sealed: true, newIndexEntries: entries))
                    entries = SparseIndex()
                    segment = try Self.createSegment(directory: directory, base: offset)
                    active = segment
                    createdSegment = true
                    buffer.removeAll(keepingCapacity: true)
                    bufferStart = segment.size
                }
                if segment.lastIndexed.map({ segment.size - $0 >= Int64(settings.indexIntervalBytes) }) ?? true {
                    entries.append(offset: offset, position: segment.size)
                    segment.lastIndexed = segment.size
                }
                LogFormat.appendRecord(payload, to: &buffer)
                segment.size += recordSize
                segment.count += 1
                offset += 1
            }
        }
        try buffer.withUnsafeBytes { try segment.file.write($0, at: bufferStart) }
        if syncing {
            try segment.file.sync()
            syncs += 1
            if createdSegment {
                try SystemCalls.syncDirectory(directory)
                syncs += 1
            }
        }
        active = segment
        updates.append(SegmentUpdate(
            base: segment.base, file: segment.file, recordCount: segment.count,
            durableSize: segment.size, sealed: false, newIndexEntries: entries))
        return (updates, syncs)
    }
}
