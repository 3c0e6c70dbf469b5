import Foundation
import Testing
import TesseraCore

/// Tables, training and comparisons for the checkpoint tests.
enum CheckpointTestSupport {
    /// One table per optimizer kind, small dims (odd ones too, to cover the scalar tails).
    static let specs: [TableSpec] = [
        TableSpec(name: "user", dim: 8, optimizer: .adagrad(learningRate: 0.1), initializer: .normal(std: 0.1), seed: 1),
        TableSpec(name: "item", dim: 5, optimizer: .adam(learningRate: 0.05), initializer: .uniform(limit: 0.1), seed: 2),
        TableSpec(name: "ctr", dim: 3, optimizer: .ftrl(alpha: 0.1, l1: 0.01, l2: 0.1), initializer: .normal(std: 0.05), seed: 3),
        TableSpec(name: "bias", dim: 1, optimizer: .sgd(learningRate: 0.5), initializer: .zeros, seed: 4),
    ]

    static func makeTables(_ specs: [TableSpec] = specs, stripeCount: Int = 16) throws -> [EmbeddingTable] {
        try specs.map { try EmbeddingTable(spec: $0, stripeCount: stripeCount) }
    }

    /// Runs `body` with a fresh directory path (not yet created), removed afterwards.
    ///
    /// `body` runs on `blockingWork`, not on the cooperative pool: these tests do
    /// seconds of blocking work (file I/O, table scans), and on a two-core
    /// machine that would starve the loopback RPC tests running alongside. It
    /// stays in the test's task, so expectations are recorded as usual.
    static func withDirectory<T: Sendable>(_ body: (String) async throws -> T) async throws -> T {
        let path = NSTemporaryDirectory() + "tessera-checkpoint-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try await withTaskExecutorPreference(blockingWork) { try await body(path) }
    }

    static let blockingWork = BlockingWorkExecutor()

    /// A task executor that runs jobs on a concurrent dispatch queue (threads outside the cooperative pool).
    final class BlockingWorkExecutor: TaskExecutor {
        private let queue = DispatchQueue(label: "tessera.checkpoint-tests", attributes: .concurrent)

        func enqueue(_ job: consuming ExecutorJob) {
            let job = UnownedJob(job)
            let executor = asUnownedTaskExecutor()
            queue.async { job.runSynchronously(on: executor) }
        }
    }

    /// Runs `work` on a new thread; `join` waits for it and rethrows its error.
    final class Background: @unchecked Sendable {
        private let done = DispatchSemaphore(value: 0)
        private var failure: (any Error)?

        init(_ work: @escaping @Sendable () throws -> Void) {
            Thread { [self] in
                do { try work() } catch { failure = error }
                done.signal()
            }.start()
        }

        func join() throws {
            done.wait()
            if let failure { throw failure }
        }
    }

    /// Deterministic gradients for `keys` in `table`, varying with `round`.
    static func gradients(for keys: [UInt64], dim: Int, round: Int) -> [Float] {
        var rng = SplitMix64(seed: UInt64(round) &* 0x9E37_79B9 &+ UInt64(dim))
        return keys.flatMap { key -> [Float] in
            (0..<dim).map { _ in Float(rng.nextUnitDouble() - 0.5) * 0.4 + Float(key % 3) * 0.01 }
        }
    }

    /// Pushes one round of gradients to `keys` of every table.
    static func train(_ tables: [EmbeddingTable], keys: [UInt64], round: Int) throws {
        for table in tables {
            try table.push(keys: keys, gradients: gradients(for: keys, dim: table.dim, round: round))
        }
    }

    /// Every row of `table` (key → value and state bit patterns).
    static func rows(of table: EmbeddingTable) -> [UInt64: [UInt32]] {
        var rows: [UInt64: [UInt32]] = [:]
        table.forEachRow { key, value, state in
            rows[key] = value.map(\.bitPattern) + state.map(\.bitPattern)
        }
        return rows
    }

    /// Expects `a` and `b` to hold the same tables with bit-identical rows and state.
    static func expectIdentical(_ a: [EmbeddingTable], _ b: [EmbeddingTable], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(a.map(\.spec) == b.map(\.spec), sourceLocation: sourceLocation)
        for (x, y) in zip(a, b) {
            let rx = rows(of: x), ry = rows(of: y)
            #expect(rx.count == ry.count, "table \(x.spec.name): \(rx.count) rows vs \(ry.count)", sourceLocation: sourceLocation)
            let differing = rx.filter { ry[$0.key] != $0.value }.map(\.key)
            #expect(differing.isEmpty, "table \(x.spec.name): \(differing.count) rows differ, e.g. key \(differing.first ?? 0)", sourceLocation: sourceLocation)
        }
    }

    /// The data files and manifest of a shard directory.
    static func file(_ directory: String, _ name: String) -> String {
        directory + "/" + name
    }

    static func bytes(of path: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    static func write(_ bytes: [UInt8], to path: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    /// The message of the `CheckpointError` that `body` throws (fails the test if it throws none or another error).
    static func failure(_ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) -> CheckpointError? {
        do {
            try body()
            Issue.record("expected a CheckpointError, nothing was thrown", sourceLocation: sourceLocation)
        } catch let error as CheckpointError {
            return error
        } catch {
            Issue.record("expected a CheckpointError, got \(error)", sourceLocation: sourceLocation)
        }
        return nil
    }
}
