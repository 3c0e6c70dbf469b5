import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Opens a log directory: checks the segments, repairs a torn tail, and hands
/// back the segments for readers and the active segment for the writer.
struct LogOpener {
    let directory: String
    let settings: AppendLogSettings

    struct Opened {
        var segments: [LogSegment]
        var active: ActiveSegment
        var recovery: LogRecovery
    }

    /// Creates `directory` if needed and takes its lock.
    static func lockDirectory(_ directory: String) throws -> FileDescriptor {
        try makeDirectory(directory)
        let lock = try FileDescriptor(path: directory + "/LOCK", flags: O_RDWR | O_CREAT)
        guard try lock.tryLock() else {
            throw LogError(
                .locked, "\(directory) is already open in another AppendLog (this process or another); close that one first",
                path: lock.path)
        }
        return lock
    }

    /// mkdir -p, making each new directory's entry durable.
    private static func makeDirectory(_ path: String) throws {
        if mkdir(path, 0o755) == 0 {
            try SystemCalls.syncDirectory(SystemCalls.parent(of: path))
            return
        }
        switch errno {
        case EEXIST:
            var info = stat()
            try SystemCalls.call("stat", path: path) { stat(path, &info) }
            guard (info.st_mode & S_IFMT) == S_IFDIR else {
                throw LogError(.io, "\(path) exists and is not a directory", path: path)
            }
        case ENOENT where path.contains("/") && SystemCalls.parent(of: path) != path:
            try makeDirectory(SystemCalls.parent(of: path))
            try makeDirectory(path)
        case let code:
            throw SystemCalls.failure("mkdir", path: path, errno: code)
        }
    }

    func open() throws -> Opened {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw LogError(.io, "cannot list \(directory): \(error)", path: directory)
        }
        let bases = names.compactMap(LogFormat.base(ofSegmentName:)).sorted()
        if bases.first == 0 {
            throw LogError(
                .corrupt, "\(path(0)): offsets start at 1, so no segment can start at 0", path: path(0))
        }
        guard let lastBase = bases.last else {
            let active = try LogWriter.createSegment(directory: directory, base: 1)
            try active.file.sync()
            try SystemCalls.syncDirectory(directory)
            return Opened(segments: [active.published], active: active, recovery: LogRecovery())
        }
        var segments: [LogSegment] = []
        for (base, next) in zip(bases, bases.dropFirst()) {
            segments.append(try openSealed(base: base, nextBase: next))
        }
        return try openLast(base: lastBase, after: segments)
    }

    private func path(_ base: UInt64) -> String {
        directory + "/" + LogFormat.segmentName(base: base)
    }

    /// A segment with another after it: it must have a valid header and a seal
    /// naming `nextBase`.
    private func openSealed(base: UInt64, nextBase: UInt64) throws -> LogSegment {
        let file = try FileDescriptor(path: path(base), flags: O_RDONLY)
        let size = try file.size()
        var window = FileWindow(file: file, limit: size, readAhead: LogFormat.sealSize)
        let nextName = LogFormat.segmentName(base: nextBase)
        if let reason = try SegmentScanner.checkHeader(&window, base: base, size: size) {
            throw LogError(
                .corrupt, "\(file.path): \(reason); only the last segment can be torn by a crash, and \(nextName) follows this one",
                path: file.path, position: 0, offset: base)
        }
        let sealAt = size - Int64(LogFormat.sealSize)
        guard sealAt >= Int64(LogFormat.headerSize), case .seal(let sealNext) = try window.frame(at: sealAt) else {
            throw LogError(
                .corrupt, "\(file.path) has no valid seal in its last \(LogFormat.sealSize) bytes, yet \(nextName) follows it: the segment was cut short or damaged",
                path: file.path, position: max(0, sealAt), offset: base)
        }
        guard sealNext == nextBase, sealNext >= base else {
            let problem = sealNext < nextBase
                ? "segments holding offsets \(sealNext)...\(nextBase - 1) are missing"
                : "the segments overlap"
            throw LogError(
                .corrupt, "\(file.path) says the next segment starts at offset \(sealNext), but the next segment file is \(nextName): \(problem)",
                path: file.path, position: sealAt, offset: sealNext)
        }
        var segment = LogSegment(
            base: base, file: file, recordCount: sealNext - base, durableSize: sealAt, sealed: true, index: nil)
        if settings.verification == .all {
            segment.index = try segment.verifiedIndex(indexInterval: settings.indexIntervalBytes)
        }
        return segment
    }

    /// The last segment: every record is checked, and a torn tail is cut off.
    private func openLast(base: UInt64, after sealed: [LogSegment]) throws -> Opened {
        var segments = sealed
        let file = try FileDescriptor(path: path(base), flags: O_RDWR)
        let size = try file.size()
        var scan = try SegmentScanner.scan(file, base: base, size: size, indexInterval: settings.indexIntervalBytes)
        var recovery = LogRecovery()
        if let damage = scan.damage {
            if damage.afterSeal {
                throw LogError(
                    .corrupt, "\(file.path): \(damage.reason) (from byte \(damage.position)); nothing is ever written after a seal, so this is damage, not a torn write",
                    path: file.path, position: damage.position, offset: damage.offset)
            }
            if let valid = damage.validFrameAfter {
                throw LogError(
                    .corrupt,
                    "\(file.path): record \(damage.offset) at byte \(damage.position): \(damage.reason), but a valid record follows at byte \(valid). The log is damaged in the middle, not torn by a crash, so it will not be opened; restore the segment from a copy, or cut it at byte \(damage.position) by hand (losing offset \(damage.offset) and everything after)",
                    path: file.path, position: damage.position, offset: damage.offset)
            }
            // A torn tail: nothing valid follows the damage, so it is what a crash
            // mid-write leaves, and no record in it was acknowledged.
            try file.truncate(to: damage.position)
            if damage.position == 0 {
                let header = LogFormat.header(base: base)
                try header.withUnsafeBytes { try file.write($0, at: 0) }
                scan = SegmentScan()
            }
            try file.sync()
            recovery.droppedBytes = size - damage.position
            recovery.truncatedFile = file.path
            recovery.truncatedAt = damage.position
            recovery.reason = damage.reason
        }
        var last = ActiveSegment(
            file: file, base: base, size: scan.recordsEnd, count: scan.recordCount,
            lastIndexed: scan.index.positions.last)
        var published = last.published
        published.index = scan.index
        if let next = scan.sealNextOffset {
            // The crash came after sealing this segment and before its successor
            // was durably created: create it now.
            published.sealed = true
            segments.append(published)
            last = try LogWriter.createSegment(directory: directory, base: next)
            try last.file.sync()
            try SystemCalls.syncDirectory(directory)
            published = last.published
        }
        segments.append(published)
        return Opened(segments: segments, active: last, recovery: recovery)
    }
}

extension LogSegment {
    /// Reads the whole sealed segment, checking every record, and returns its index.
    /// Throws `.corrupt` if it does not hold exactly the records its seal promises.
    func verifiedIndex(indexInterval: Int) throws -> SparseIndex {
        let size = durableSize + Int64(LogFormat.sealSize)
        let scan = try SegmentScanner.scan(file, base: base, size: size, indexInterval: indexInterval)
        if let damage = scan.damage {
            throw LogError(
                .corrupt, "\(file.path): record \(damage.offset) at byte \(damage.position): \(damage.reason); the segment is sealed, so this is damage, not a torn write",
                path: file.path, position: damage.position, offset: damage.offset)
        }
        guard scan.recordCount == recordCount, scan.recordsEnd == durableSize, scan.sealNextOffset == endOffset else {
            throw LogError(
                .corrupt, "\(file.path) holds \(scan.recordCount) valid records ending at byte \(scan.recordsEnd), but its seal promises \(recordCount) ending at byte \(durableSize)",
                path: file.path, position: scan.recordsEnd, offset: base + scan.recordCount)
        }
        return scan.index
    }
}
