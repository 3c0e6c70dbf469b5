extension AppendLog {
    /// Durable records from `offset` on, in order: at most `maxRecords`, and no
    /// more payload bytes than `maxBytes` unless the first record alone is larger
    /// (it is returned anyway, so a consumer always makes progress).
    ///
    /// Returns [] when `offset` is past `endOffset`. Spans segments. Every
    /// returned record's checksum is checked. Throws `.outOfRange` for an offset
    /// before `startOffset` (0 included), `.corrupt` if stored data fails its
    /// checks, `.closed` after `close`. May run concurrently with appends and
    /// other reads; blocks on disk reads (page cache, normally).
    public func read(from offset: UInt64, maxRecords: Int = 1024, maxBytes: Int = 1 << 20) throws -> [LogRecord] {
        var result = ReadResult(next: offset, maxRecords: maxRecords, maxBytes: maxBytes)
        while !result.isFull {
            switch try nextStep(for: result) {
            case .done:
                return result.records
            case .buildIndex(let position, let segment):
                let index = try segment.verifiedIndex(indexInterval: settings.indexIntervalBytes)
                state.withLock { s in
                    if position < s.segments.count, s.segments[position].base == segment.base {
                        s.segments[position].index = index
                    }
                }
            case .read(let segment, let start, let end):
                try read(segment, from: start, upTo: end, into: &result)
            }
        }
        return result.records
    }

    private enum ReadStep {
        case done
        /// A sealed segment that has not been scanned yet: scan it outside the lock.
        case buildIndex(Int, LogSegment)
        /// Read `segment` from the indexed record `start` until offset `end` (exclusive).
        case read(LogSegment, start: (offset: UInt64, position: Int64), end: UInt64)
    }

    private func nextStep(for result: ReadResult) throws -> ReadStep {
        let directory = directory
        return try state.withLock { s throws -> ReadStep in
            guard !s.closed else {
                throw LogError(.closed, "the append log in \(directory) is closed", path: directory)
            }
            let next = result.next
            guard next >= s.startOffset else {
                throw LogError(
                    .outOfRange, "offset \(next) is before the first record the log in \(directory) holds (\(s.startOffset))",
                    path: directory, offset: next)
            }
            guard next <= s.durableEnd else { return .done }
            let position = s.segmentIndex(containing: next)
            let segment = s.segments[position]
            guard let index = segment.index else { return .buildIndex(position, segment) }
            let start = index.floor(next) ?? (segment.base, Int64(LogFormat.headerSize))
            return .read(segment, start: start, end: min(s.durableEnd + 1, segment.endOffset))
        }
    }

    private func read(
        _ segment: LogSegment, from start: (offset: UInt64, position: Int64), upTo end: UInt64, into result: inout ReadResult
    ) throws {
        let path = segment.file.path
        var window = FileWindow(file: segment.file, limit: segment.durableSize, readAhead: 16 << 10, maxReadAhead: 1 << 20)
        var offset = start.offset
        var position = start.position
        while offset < end && !result.isFull {
            let frame = try window.frame(at: position)
            guard case .record(let length, let storedCRC) = frame else {
                throw LogError(
                    .corrupt, "\(path): record \(offset) at byte \(position) is damaged (found \(frame) where a record should be) although it was valid when the log opened or wrote it",
                    path: path, position: position, offset: offset)
            }
            let payloadAt = position + Int64(LogFormat.recordHeaderSize)
            if offset >= result.next {
                if !result.records.isEmpty && result.bytes + length > result.maxBytes {
                    result.bytesExhausted = true
                    return
                }
                _ = try window.ensure(position, LogFormat.recordHeaderSize + length)
                let computed = window.checksum(at: payloadAt, count: length)
                guard computed == storedCRC else {
                    throw LogError(
                        .corrupt, "\(path): record \(offset) at byte \(position): payload checksum mismatch (stored \(SegmentScanner.hex(storedCRC)), computed \(SegmentScanner.hex(computed)))",
                        path: path, position: position, offset: offset)
                }
                result.records.append(LogRecord(offset: offset, payload: window.copy(at: payloadAt, count: length)))
                result.bytes += length
                result.next = offset + 1
            }
            position = payloadAt + Int64(length)
            offset += 1
        }
    }

    /// Returns the durable end offset as soon as it is past `offset`, or when
    /// `timeout` passes (then it may still be ≤ `offset`), or when the log is
    /// closed or the task cancelled. For consumers' long polls.
    public func waitForRecords(after offset: UInt64, timeout: Duration) async -> UInt64 {
        let id: UInt64? = state.withLock { s in
            if s.durableEnd > offset || s.closed || timeout <= .zero { return nil }
            s.nextWaitID += 1
            return s.nextWaitID
        }
        guard let id else { return endOffset }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<UInt64, Never>) in
                let ready: UInt64? = state.withLock { s in
                    if s.durableEnd > offset || s.closed { return s.durableEnd }
                    s.waiters[id] = RecordWaiter(after: offset, continuation: continuation, timer: nil)
                    return nil
                }
                if let ready {
                    continuation.resume(returning: ready)
                    return
                }
                let timer = Task { [self] in
                    try? await Task.sleep(for: timeout)
                    if !Task.isCancelled { endWait(id) }
                }
                let parked = state.withLock { s in
                    guard s.waiters[id] != nil else { return false }
                    s.waiters[id]?.timer = timer
                    return true
                }
                if !parked { timer.cancel() }
                // A cancellation that came before the waiter was parked found nothing to end.
                if Task.isCancelled { endWait(id) }
            }
        } onCancel: {
            endWait(id)
        }
    }

    /// Ends wait `id` with the current durable end, if it is still parked.
    private func endWait(_ id: UInt64) {
        let ended = state.withLock { s -> (RecordWaiter, UInt64)? in
            guard let waiter = s.waiters.removeValue(forKey: id) else { return nil }
            return (waiter, s.durableEnd)
        }
        guard let (waiter, end) = ended else { return }
        waiter.timer?.cancel()
        waiter.continuation.resume(returning: end)
    }
}

/// A read in progress.
private struct ReadResult {
    /// The next offset wanted.
    var next: UInt64
    let maxRecords: Int
    let maxBytes: Int
    var records: [LogRecord] = []
    var bytes = 0
    /// The next record would take the payload bytes past `maxBytes`.
    var bytesExhausted = false

    var isFull: Bool { records.count >= maxRecords || bytesExhausted }
}
