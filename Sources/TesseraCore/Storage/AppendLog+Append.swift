import Dispatch

extension AppendLog {
    /// Appends `payloads` as consecutive records and returns their offsets once
    /// they are durable (written and fsync'd under `.fsync`).
    ///
    /// Throws `.overloaded` (nothing appended) when more than `maxPendingRecords`
    /// would be waiting, `.invalidArgument` for an empty list or a payload over
    /// `maxRecordBytes`, `.closed` after `close` or a failed write, and `.io` when
    /// the write or fsync of this batch fails (the records may or may not be in
    /// the file; the log then takes no more appends until reopened). Cancelling
    /// the task does not withdraw an accepted append: it waits for the disk.
    public func append(_ payloads: [[UInt8]]) async throws -> ClosedRange<UInt64> {
        guard !payloads.isEmpty else {
            throw LogError(.invalidArgument, "append needs at least one record")
        }
        var bytes = 0
        for (i, payload) in payloads.enumerated() {
            guard payload.count <= settings.maxRecordBytes else {
                throw LogError(
                    .invalidArgument,
                    "record \(i) of the append has \(payload.count) bytes; the log takes at most \(settings.maxRecordBytes) (maxRecordBytes)")
            }
            bytes += payload.count
        }
        return try await withCheckedThrowingContinuation { continuation in
            switch enqueue(payloads, bytes: bytes, continuation) {
            case .rejected(let error): continuation.resume(throwing: error)
            case .startWriter: writerQueue.async { self.drain() }
            case .endBatchDelay: batchFull.signal()
            case .queued: break
            }
        }
    }

    /// Appends one record and returns its offset once it is durable.
    public func append(_ payload: [UInt8]) async throws -> UInt64 {
        try await append([payload]).lowerBound
    }

    private enum Enqueued {
        case rejected(LogError)
        case startWriter
        case endBatchDelay
        case queued
    }

    private func enqueue(
        _ payloads: [[UInt8]], bytes: Int, _ continuation: CheckedContinuation<ClosedRange<UInt64>, any Error>
    ) -> Enqueued {
        let settings = settings
        let directory = directory
        return state.withLock { s in
            if let failure = s.failure { return .rejected(failure) }
            if s.closed {
                return .rejected(LogError(.closed, "the append log in \(directory) is closed", path: directory))
            }
            if s.unacknowledged > 0 && s.unacknowledged + payloads.count > settings.maxPendingRecords {
                s.statistics.overloads += 1
                return .rejected(LogError(
                    .overloaded,
                    "\(s.unacknowledged) records are already waiting for the disk and \(payloads.count) more would pass maxPendingRecords (\(settings.maxPendingRecords)); retry later",
                    path: directory))
            }
            let first = s.nextOffset
            s.nextOffset += UInt64(payloads.count)
            s.queue.append(PendingAppend(payloads: payloads, first: first, bytes: bytes, continuation: continuation))
            s.queuedRecords += payloads.count
            s.unacknowledged += payloads.count
            if !s.writerActive {
                s.writerActive = true
                return .startWriter
            }
            if s.gathering && s.queuedRecords >= settings.maxBatchRecords {
                s.gathering = false
                return .endBatchDelay
            }
            return .queued
        }
    }

    /// The writer: runs on `writerQueue` until the queue is empty.
    func drain() {
        while true {
            waitForFullerBatch()
            guard let batch = takeBatch() else { return }
            let updates: [SegmentUpdate]
            let syncs: UInt64
            do {
                (updates, syncs) = try writer.commit(batch)
            } catch {
                fail(batch, error)
                return
            }
            let woken = publish(batch, updates, syncs: syncs)
            for append in batch {
                append.continuation.resume(returning: append.range)
            }
            for (waiter, end) in woken {
                waiter.timer?.cancel()
                waiter.continuation.resume(returning: end)
            }
        }
    }

    /// With a `maxBatchDelay`, waits for it to pass or for a full batch.
    private func waitForFullerBatch() {
        guard settings.maxBatchDelay > .zero else { return }
        let maxBatchRecords = settings.maxBatchRecords
        let wait = state.withLock { s in
            guard !s.closed, !s.queue.isEmpty, s.queuedRecords < maxBatchRecords else { return false }
            s.gathering = true
            return true
        }
        guard wait else { return }
        let (seconds, attoseconds) = settings.maxBatchDelay.components
        let nanoseconds = seconds >= 1_000_000 ? Int.max : Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000)
        if batchFull.wait(timeout: .now() + .nanoseconds(nanoseconds)) == .timedOut {
            let signalled = state.withLock { s in
                if s.gathering {
                    s.gathering = false
                    return false
                }
                return true
            }
            // Someone ended the wait as it timed out: take their signal so it
            // does not cut the next wait short.
            if signalled { batchFull.wait() }
        }
    }

    /// Takes the next batch off the queue, or marks the writer idle if it is empty.
    private func takeBatch() -> [PendingAppend]? {
        let maxRecords = settings.maxBatchRecords
        let maxBytes = settings.maxBatchBytes
        return state.withLock { s -> [PendingAppend]? in
            guard !s.queue.isEmpty else {
                s.writerActive = false
                return nil
            }
            var count = 0
            var records = 0
            var bytes = 0
            for append in s.queue {
                if count > 0 && (records + append.payloads.count > maxRecords || bytes + append.bytes > maxBytes) { break }
                count += 1
                records += append.payloads.count
                bytes += append.bytes
            }
            let batch = Array(s.queue.prefix(count))
            if count == s.queue.count {
                s.queue.removeAll(keepingCapacity: true)
            } else {
                s.queue.removeFirst(count)
            }
            s.queuedRecords -= records
            return batch
        }
    }

    /// Makes a written batch visible: segments, index, durable end, counters.
    /// Returns the waiters to wake.
    private func publish(
        _ batch: [PendingAppend], _ updates: [SegmentUpdate], syncs: UInt64
    ) -> [(RecordWaiter, UInt64)] {
        let end = batch.last!.range.upperBound
        let records = batch.reduce(0) { $0 + $1.payloads.count }
        let bytes = batch.reduce(0) { $0 + $1.bytes }
        return state.withLock { s in
            for update in updates {
                if let last = s.segments.indices.last, s.segments[last].base == update.base {
                    s.segments[last].recordCount = update.recordCount
                    s.segments[last].durableSize = update.durableSize
                    s.segments[last].sealed = update.sealed
                    s.segments[last].index?.append(contentsOf: update.newIndexEntries)
                } else {
                    s.segments.append(LogSegment(
                        base: update.base, file: update.file, recordCount: update.recordCount,
                        durableSize: update.durableSize, sealed: update.sealed, index: update.newIndexEntries))
                }
            }
            assert(s.segments.last?.endOffset == end + 1, "published segments must end at the durable end")
            s.durableEnd = end
            s.unacknowledged -= records
            s.statistics.appendedRecords += UInt64(records)
            s.statistics.appendedBytes += UInt64(bytes)
            s.statistics.commits += 1
            s.statistics.syncs += syncs
            var woken: [(RecordWaiter, UInt64)] = []
            for (id, waiter) in s.waiters where waiter.after < end {
                s.waiters[id] = nil
                woken.append((waiter, end))
            }
            return woken
        }
    }

    /// A write or fsync failed: fail this batch with the error, and everything
    /// queued and every later append with `.closed`.
    private func fail(_ batch: [PendingAppend], _ error: any Error) {
        let cause = error as? LogError ?? LogError(.io, "\(error)", path: directory)
        let failure = LogError(
            .closed, "the append log in \(directory) takes no more appends after a failed write (\(cause.message)); reopen it to recover",
            path: cause.path, cause: cause)
        let queued = state.withLock { s in
            s.failure = failure
            let queued = s.queue
            s.queue = []
            s.queuedRecords = 0
            s.unacknowledged = 0
            s.writerActive = false
            return queued
        }
        for append in batch {
            append.continuation.resume(throwing: cause)
        }
        for append in queued {
            append.continuation.resume(throwing: failure)
        }
    }
}
