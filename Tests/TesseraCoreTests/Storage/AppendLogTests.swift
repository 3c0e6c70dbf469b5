import Foundation
import Testing
import TesseraCore

/// Appends, reads, group commit, back-pressure and long polls.
@Suite struct AppendLogTests {
    typealias Support = StorageTestSupport

    private func smallSegments(_ change: (inout AppendLogSettings) -> Void = { _ in }) -> AppendLogSettings {
        var settings = AppendLogSettings()
        settings.segmentBytes = 4096
        settings.indexIntervalBytes = 512
        change(&settings)
        return settings
    }

    @Test func roundTripAcrossSegmentsAndReopen() async throws {
        try await Support.withDirectory { directory in
            let settings = smallSegments()
            var expected: [[UInt8]] = []
            do {
                let log = try AppendLog(directory: directory, settings: settings)
                #expect(log.endOffset == 0)
                #expect(log.recovery == LogRecovery())
                var next: UInt64 = 1
                for group in 0..<60 {
                    let payloads = (0..<(group % 7 + 1)).map { Support.payload(expected.count + $0, size: ($0 * 37 + group) % 200) }
                    let range = try await log.append(payloads)
                    #expect(range == next...(next + UInt64(payloads.count) - 1))
                    next = range.upperBound + 1
                    expected += payloads
                }
                #expect(log.endOffset == UInt64(expected.count))
                let records = try Support.readAll(log, chunk: 7)
                #expect(records.map(\.offset) == Array(1...UInt64(expected.count)))
                #expect(records.map(\.payload) == expected)
                log.close()
            }
            #expect(try Support.segments(in: directory).count >= 4)

            // Reopen: sealed segments are indexed on first read; numbering continues.
            for verification in [AppendLogSettings.Verification.lastSegment, .all] {
                var reopened = settings
                reopened.verification = verification
                let log = try AppendLog(directory: directory, settings: reopened)
                #expect(log.recovery.droppedBytes == 0)
                #expect(log.endOffset == UInt64(expected.count))
                #expect(try Support.readAll(log, chunk: 5).map(\.payload) == expected)
                // Random access lands on the right record in every segment.
                for offset in stride(from: UInt64(1), through: UInt64(expected.count), by: 11) {
                    let record = try #require(try log.read(from: offset, maxRecords: 1).first)
                    #expect(record.offset == offset)
                    #expect(record.payload == expected[Int(offset) - 1])
                }
                let payload = Support.payload(999, size: 10)
                #expect(try await log.append(payload) == UInt64(expected.count + 1))
                expected.append(payload)
                log.close()
            }
        }
    }

    @Test func readLimits() async throws {
        try await Support.withDirectory { directory in
            let log = try AppendLog(directory: directory)
            defer { log.close() }
            _ = try await log.append((0..<10).map { [UInt8](repeating: UInt8($0), count: 100) })
            #expect(try log.read(from: 3, maxRecords: 4).map(\.offset) == [3, 4, 5, 6])
            #expect(try log.read(from: 3, maxRecords: 10, maxBytes: 250).map(\.offset) == [3, 4])
            // The first record comes back even when it alone exceeds maxBytes.
            #expect(try log.read(from: 9, maxRecords: 10, maxBytes: 1).map(\.offset) == [9])
            #expect(try log.read(from: 11).isEmpty)
            #expect(try log.read(from: 1_000).isEmpty)
            #expect(try log.read(from: 5, maxRecords: 0).isEmpty)
            let error = #expect(throws: LogError.self) { try log.read(from: 0) }
            #expect(error?.code == .outOfRange)
        }
    }

    /// 8 tasks × 500 appends: every offset unique and dense, every record
    /// readable, and far fewer fsyncs than appends.
    @Test func concurrentAppendsAreGroupCommitted() async throws {
        try await Support.withDirectory { directory in
            let log = try AppendLog(directory: directory, settings: smallSegments { $0.segmentBytes = 64 << 10 })
            defer { log.close() }
            let tasks = 8
            let perTask = 500
            let results = try await withThrowingTaskGroup(of: [(UInt64, [UInt8])].self) { group in
                for task in 0..<tasks {
                    group.addTask {
                        var mine: [(UInt64, [UInt8])] = []
                        for i in 0..<perTask {
                            let payload = Array("task \(task) record \(i)".utf8)
                            let offset = try await log.append(payload)
                            #expect(log.endOffset >= offset)
                            mine.append((offset, payload))
                        }
                        return mine
                    }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            let total = tasks * perTask
            #expect(Set(results.map(\.0)) == Set(1...UInt64(total)))
            #expect(log.endOffset == UInt64(total))
            let stored = try Support.readAll(log)
            let byOffset = Dictionary(uniqueKeysWithValues: results)
            #expect(stored.count == total)
            #expect(stored.allSatisfy { byOffset[$0.offset] == $0.payload })

            let statistics = log.statistics
            #expect(statistics.appendedRecords == UInt64(total))
            #expect(statistics.commits < UInt64(total) / 3, "\(statistics)")
            #expect(log.syncCount < UInt64(total) / 3, "\(statistics)")
            #expect(log.syncCount >= statistics.commits)
        }
    }

    /// A consumer long-polling while appenders roll segments sees every record
    /// once, in order, exactly as finally stored.
    @Test func consumerFollowsConcurrentAppends() async throws {
        try await Support.withDirectory { directory in
            let log = try AppendLog(directory: directory, settings: smallSegments())
            defer { log.close() }
            let total = 1200
            let consumer = Task {
                var seen: [LogRecord] = []
                while seen.count < total {
                    let next = UInt64(seen.count + 1)
                    let end = await log.waitForRecords(after: next - 1, timeout: .seconds(10))
                    guard end >= next else { break }
                    let batch = try log.read(from: next, maxRecords: 50, maxBytes: 2000)
                    #expect(batch.first?.offset == next)
                    #expect(batch.last.map { $0.offset <= log.endOffset } ?? false)
                    seen += batch
                }
                return seen
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for task in 0..<4 {
                    group.addTask {
                        for i in 0..<(total / 4) {
                            _ = try await log.append(Support.payload(task * 10_000 + i, size: i % 90))
                        }
                    }
                }
                try await group.waitForAll()
            }
            let seen = try await consumer.value
            #expect(seen.map(\.offset) == Array(1...UInt64(total)))
            #expect(seen == (try Support.readAll(log)))
            #expect(try Support.segments(in: directory).count > 3)
        }
    }

    /// A delay lets the writer gather a whole burst into one write and one fsync.
    @Test func batchDelayGathersABurst() async throws {
        try await Support.withDirectory { directory in
            let log = try AppendLog(directory: directory, settings: smallSegments {
                $0.segmentBytes = 1 << 20
                $0.maxBatchDelay = .milliseconds(200)
                $0.maxBatchRecords = 64
            })
            defer { log.close() }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<64 {
                    group.addTask { _ = try await log.append(Support.payload(i, size: 50)) }
                }
                try await group.waitForAll()
            }
            // The 64th record fills the batch and ends the wait early.
            #expect(log.statistics.commits <= 2, "\(log.statistics)")
            #expect(log.syncCount <= 2)
            #expect(log.endOffset == 64)
        }
    }

    /// `append` returns only once its records are durable, and readers never see
    /// records that are still waiting for the writer.
    @Test func appendReturnsOnlyDurableRecords() async throws {
        try await Support.withDirectory { directory in
            // A long batch delay keeps the record queued long enough to observe, even on a loaded machine.
            let log = try AppendLog(directory: directory, settings: smallSegments {
                $0.maxBatchDelay = .seconds(3)
            })
            defer { log.close() }
            let pending = Task { try await log.append([[1, 2, 3]]) }
            try await waitUntil { log.pendingRecords == 1 }
            #expect(log.endOffset == 0)
            #expect(try log.read(from: 1).isEmpty)
            let range = try await pending.value
            #expect(range == 1...1)
            #expect(log.endOffset >= 1)
            #expect(try log.read(from: 1) == [LogRecord(offset: 1, payload: [1, 2, 3])])
            #expect(log.syncCount >= 1)
        }
    }

    @Test func overloadIsRefused() async throws {
        try await Support.withDirectory { directory in
            let log = try AppendLog(directory: directory, settings: smallSegments {
                $0.maxPendingRecords = 4
                $0.maxBatchDelay = .milliseconds(300)
                $0.maxBatchRecords = 1000
            })
            defer { log.close() }
            let first = Task { try await log.append((0..<4).map { [UInt8($0)] }) }
            try await waitUntil { log.pendingRecords == 4 }
            let error = await #expect(throws: LogError.self) { try await log.append([9]) }
            #expect(error?.code == .overloaded)
            #expect(log.statistics.overloads == 1)
            #expect(try await first.value == 1...4)
            // Once the queue drains, appends are accepted again and nothing was skipped.
            #expect(try await log.append([9]) == 5)
        }
    }

    @Test func waitForRecordsWakesOnAppendAndTimesOut() async throws {
        try await Support.withDirectory { directory in
            let log = try AppendLog(directory: directory)
            defer { log.close() }
            let clock = ContinuousClock()

            let started = clock.now
            #expect(await log.waitForRecords(after: 0, timeout: .milliseconds(100)) == 0)
            #expect(clock.now - started >= .milliseconds(100))

            let waiter = Task { await log.waitForRecords(after: 0, timeout: .seconds(30)) }
            try await Task.sleep(for: .milliseconds(50))
            let appendedAt = clock.now
            _ = try await log.append([7])
            #expect(await waiter.value == 1)
            #expect(clock.now - appendedAt < .seconds(5))

            // Already past: immediate.
            #expect(await log.waitForRecords(after: 0, timeout: .seconds(30)) == 1)

            // Cancellation ends the wait.
            let cancelled = Task { await log.waitForRecords(after: 1, timeout: .seconds(30)) }
            try await Task.sleep(for: .milliseconds(20))
            cancelled.cancel()
            let cancelledAt = clock.now
            #expect(await cancelled.value == 1)
            #expect(clock.now - cancelledAt < .seconds(5))

            // Closing wakes waiters.
            let closing = Task { await log.waitForRecords(after: 1, timeout: .seconds(30)) }
            try await Task.sleep(for: .milliseconds(20))
            log.close()
            #expect(await closing.value == 1)
        }
    }

    @Test func oneOpenerAtATimeAndClosedLogsRefuse() async throws {
        try await Support.withDirectory { directory in
            let log = try AppendLog(directory: directory)
            let locked = #expect(throws: LogError.self) { try AppendLog(directory: directory) }
            #expect(locked?.code == .locked)
            _ = try await log.append([1])
            log.close()
            log.close()
            let append = await #expect(throws: LogError.self) { try await log.append([2]) }
            #expect(append?.code == .closed)
            let read = #expect(throws: LogError.self) { try log.read(from: 1) }
            #expect(read?.code == .closed)
            let again = try AppendLog(directory: directory)
            #expect(again.endOffset == 1)
            again.close()
        }
    }

    @Test func invalidAppendsAndSettings() async throws {
        try await Support.withDirectory { directory in
            var settings = AppendLogSettings()
            settings.maxRecordBytes = 10
            let log = try AppendLog(directory: directory, settings: settings)
            defer { log.close() }
            let empty = await #expect(throws: LogError.self) { try await log.append([[UInt8]]()) }
            #expect(empty?.code == .invalidArgument)
            let large = await #expect(throws: LogError.self) { try await log.append([[1], [UInt8](repeating: 0, count: 11)]) }
            #expect(large?.code == .invalidArgument)
            #expect(log.endOffset == 0)
            #expect(try await log.append([UInt8]()) == 1)
            #expect(try log.read(from: 1) == [LogRecord(offset: 1, payload: [])])

            settings.segmentBytes = 10
            let bad = #expect(throws: LogError.self) { try AppendLog(directory: directory + "-other", settings: settings) }
            #expect(bad?.code == .invalidArgument)
        }
    }

    @Test func noDurabilityStillWritesButNeverSyncs() async throws {
        try await Support.withDirectory { directory in
            let settings = smallSegments { $0.durability = .none }
            do {
                let log = try AppendLog(directory: directory, settings: settings)
                for i in 0..<200 {
                    _ = try await log.append(Support.payload(i, size: 40))
                }
                #expect(log.syncCount == 0)
                log.close()
            }
            let log = try AppendLog(directory: directory, settings: settings)
            defer { log.close() }
            #expect(log.endOffset == 200)
            #expect(try Support.readAll(log).map(\.payload) == (0..<200).map { Support.payload($0, size: 40) })
        }
    }

    /// Polls `condition` every few milliseconds for up to 5 s.
    private func waitUntil(_ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(5)
        while !condition() {
            guard ContinuousClock.now < deadline else {
                Issue.record("condition never became true")
                return
            }
            try await Task.sleep(for: .milliseconds(2))
        }
    }
}
