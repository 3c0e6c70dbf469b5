import Foundation
import Testing
import TesseraCore

@Suite struct EmbeddingTableTests {
    @Test func pullCreatesRowsOnceFromTheInitializer() throws {
        let spec = testSpec(dim: 4)
        let table = try EmbeddingTable(spec: spec)
        var first = [Float](repeating: .nan, count: 12)
        #expect(try table.pull(keys: [1, 2, 3], into: &first) == 3)
        #expect(table.rowCount == 3)

        var second = [Float](repeating: .nan, count: 16)
        #expect(try table.pull(keys: [3, 1, 2, 1], into: &second) == 0)
        #expect(table.rowCount == 3)
        #expect(Array(second[0..<4]) == Array(first[8..<12]))  // exact: the same stored row
        #expect(Array(second[4..<8]) == Array(first[0..<4]))
        #expect(Array(second[12..<16]) == Array(first[0..<4]))

        // The row is the initializer's row for (key, seed), and a replica agrees exactly.
        var expected = [Float](repeating: 0, count: 4)
        expected.withUnsafeMutableBufferPointer {
            spec.initializer.initializeRow($0.baseAddress!, dim: 4, key: 2, tableSeed: spec.seed)
        }
        #expect(Array(first[4..<8]) == expected)
        #expect(try EmbeddingTable(spec: spec).pull(keys: [3, 1, 2]) == second[0..<12].map { $0 })
        #expect(Set(first).count == 12)  // distinct random rows

        // A key repeated in one pull is created once and copied to both places.
        var twice = [Float](repeating: .nan, count: 8)
        #expect(try table.pull(keys: [50, 50], into: &twice) == 1)
        #expect(Array(twice[0..<4]) == Array(twice[4..<8]) && table.rowCount == 4)
    }

    @Test func pushChangesOnlyThePushedRows() throws {
        let table = try EmbeddingTable(spec: testSpec(dim: 2, optimizer: .sgd(learningRate: 1), initializer: .constant(value: 0.5)))
        _ = try table.pull(keys: [1, 2, 3])
        #expect(try table.push(keys: [2], gradients: [1, -1]) == 0)
        #expect(try table.pull(keys: [1, 2, 3]) == [0.5, 0.5, -0.5, 1.5, 0.5, 0.5])
        // An unseen key is created, then stepped.
        #expect(try table.push(keys: [9, 1], gradients: [0.25, 0.25, 0, 0]) == 1)
        #expect(try table.pull(keys: [9, 1]) == [0.25, 0.25, 0.5, 0.5])
        #expect(table.rowCount == 4)
    }

    @Test func sizeMismatchThrowsAndChangesNothing() throws {
        let table = try EmbeddingTable(spec: testSpec(dim: 4))
        var short = [Float](repeating: 0, count: 7)
        do {
            try table.pull(keys: [1, 2], into: &short)
            Issue.record("pull into a short buffer did not throw")
        } catch {
            #expect(error.code == .sizeMismatch)
            #expect(error.message.contains("expected 8"))
        }
        #expect(throws: TableError.self) { try table.push(keys: [1, 2], gradients: [Float](repeating: 0, count: 9)) }
        #expect(table.rowCount == 0)
        #expect(throws: TableError.self) { try EmbeddingTable(spec: testSpec(dim: 0)) }
    }

    @Test func memoryStaysCloseToTheRawRowBytes() throws {
        // Small tables stay small: the first chunk of each stripe starts at 16 rows.
        let small = try EmbeddingTable(spec: testSpec(dim: 8))
        _ = try small.pull(keys: Array(0..<100))
        #expect(small.rawBytes == 100 * 16 * 4)
        #expect(small.bytesUsed < 200_000)

        // A larger table: chunk slack, keys and index stay well under 1.5x raw.
        let table = try EmbeddingTable(
            spec: testSpec(dim: 32, initializer: .uniform(limit: 0.1)), stripeCount: 4, chunkRows: 256)
        let keys = (0..<50_000).map { UInt64($0) &* 0x9E37_79B9 }
        var batch = [Float](repeating: 0, count: 5_000 * 32)
        for start in stride(from: 0, to: keys.count, by: 5_000) {
            try table.pull(keys: Array(keys[start..<start + 5_000]), into: &batch)
        }
        #expect(table.rowCount == 50_000)
        #expect(table.rawBytes == 50_000 * 64 * 4)
        let ratio = Double(table.bytesUsed) / Double(table.rawBytes)
        #expect(ratio > 1.0 && ratio < 1.3, "bytesUsed / rawBytes = \(ratio)")
    }

    @Test func forEachRowAndInsertRoundTripRowsWithState() throws {
        let spec = testSpec(dim: 3, optimizer: .adam(learningRate: 0.05))
        let source = try EmbeddingTable(spec: spec)
        let keys = (0..<300).map { UInt64($0) * 7 + 1 }
        for round in 0..<3 {
            let batch = Array(keys.prefix(100 * (round + 1)))
            try source.push(keys: batch, gradients: batch.flatMap { k -> [Float] in [Float(k % 5) - 2, 0.5, Float(round)] })
        }
        let copy = try EmbeddingTable(spec: spec, stripeCount: 8)
        var visited = 0
        try source.forEachRow { key, value, state in
            visited += 1
            try copy.insert(key: key, value: Array(value), state: Array(state))
        }
        #expect(visited == 300 && copy.rowCount == 300)
        for key in keys {
            let a = try #require(source.row(for: key)), b = try #require(copy.row(for: key))
            #expect(a.value == b.value && a.state == b.state)
        }
        // Restored state keeps training identically (Adam's m, v and t included).
        let gradients = keys.flatMap { _ -> [Float] in [0.3, -0.2, 0.1] }
        try source.push(keys: keys, gradients: gradients)
        try copy.push(keys: keys, gradients: gradients)
        #expect(try source.pull(keys: keys) == copy.pull(keys: keys))
        #expect(source.row(for: 123_456) == nil)

        #expect(throws: TableError.self) { try copy.insert(key: 1, value: [1, 2]) }
        #expect(throws: TableError.self) { try copy.insert(key: 1, value: [1, 2, 3], state: [0]) }
    }

    @Test func insertWithoutStateInitializesItFromTheValue() throws {
        let table = try EmbeddingTable(spec: testSpec(dim: 2, optimizer: .ftrl(alpha: 0.1, l1: 0.2, l2: 0.5)))
        try table.insert(key: 5, value: [0.3, -0.3])
        let row = try #require(table.row(for: 5))
        #expect(isClose(row.state, [-3.35, 3.35, 0, 0]))
        try table.push(keys: [5], gradients: [0, 0])
        #expect(isClose(try table.pull(keys: [5]), [0.3, -0.3]))
    }

    @Test func removeKeepsTheOtherRowsIntact() throws {
        let table = try EmbeddingTable(spec: testSpec(dim: 2), stripeCount: 1, chunkRows: 16)
        let keys = Array(UInt64(0)..<100)
        let before = try table.pull(keys: keys)
        let bytesBefore = table.bytesUsed
        let gone = keys.filter { $0 % 5 != 0 }
        #expect(table.remove(keys: gone + [1_000]) == 80)
        #expect(table.rowCount == 20)
        #expect(table.bytesUsed < bytesBefore)
        for key in gone { #expect(table.row(for: key) == nil) }
        for key in keys where key % 5 == 0 {
            let i = Int(key) * 2
            #expect(table.row(for: key)?.value == Array(before[i..<i + 2]))
        }
        // Pulling a removed key recreates its initial row.
        #expect(try table.pull(keys: [1]) == Array(before[2..<4]))
    }

    @Test func concurrentPushersAndPullersMatchASequentialRun() async throws {
        let spec = testSpec(dim: 8, optimizer: .adagrad(learningRate: 0.1))
        let workers = 4, rounds = 30
        // Disjoint key sets that share every stripe.
        let keySets = (0..<workers).map { w in (0..<512).map { UInt64($0 * workers + w) } }
        @Sendable func run(_ table: EmbeddingTable, worker: Int) throws {
            let keys = keySets[worker]
            var rows = [Float](repeating: 0, count: keys.count * 8)
            for round in 0..<rounds {
                try table.pull(keys: keys, into: &rows)
                // A gradient that depends on the pulled rows, so any lost update shows.
                let gradients = rows.enumerated().map { i, x in x * 0.5 + Float((i + round) % 3) - 1 }
                try table.push(keys: keys, gradients: gradients)
            }
        }
        let sequential = try EmbeddingTable(spec: spec)
        for worker in 0..<workers { try run(sequential, worker: worker) }

        let concurrent = try EmbeddingTable(spec: spec)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<workers {
                group.addTask { try run(concurrent, worker: worker) }
            }
            try await group.waitForAll()
        }
        let all = keySets.flatMap { $0 }
        #expect(concurrent.rowCount == all.count)
        #expect(try concurrent.pull(keys: all) == sequential.pull(keys: all))  // exact: same steps per row
    }

    @Test func stripesHaveTheirOwnLocks() throws {
        let table = try EmbeddingTable(spec: testSpec(dim: 2, optimizer: .sgd(learningRate: 1), initializer: .zeros))
        let inStripe0 = (UInt64(0)..<10_000).filter { table.stripeIndex(for: $0) == 0 }
        let inStripe1 = (UInt64(0)..<10_000).first { table.stripeIndex(for: $0) == 1 }!
        let held = inStripe0[0], sameStripe = inStripe0[1]
        _ = try table.pull(keys: [held])

        let otherDone = DispatchSemaphore(value: 0), sameDone = DispatchSemaphore(value: 0)
        var otherFinishedWhileHeld = false, sameFinishedWhileHeld = true
        table.forEachRow { key, _, _ in
            guard key == held else { return }
            // Stripe 0's lock is held here.
            Thread.detachNewThread {
                _ = try? table.push(keys: [inStripe1], gradients: [1, 1])
                otherDone.signal()
            }
            otherFinishedWhileHeld = otherDone.wait(timeout: .now() + 10) == .success
            Thread.detachNewThread {
                _ = try? table.push(keys: [sameStripe], gradients: [1, 1])
                sameDone.signal()
            }
            sameFinishedWhileHeld = sameDone.wait(timeout: .now() + 0.3) == .success
        }
        #expect(otherFinishedWhileHeld, "a push to another stripe waited for stripe 0's lock")
        #expect(!sameFinishedWhileHeld, "a push to the same stripe did not wait for its lock")
        if !sameFinishedWhileHeld { sameDone.wait() }
        #expect(try table.pull(keys: [inStripe1, sameStripe]) == [-1, -1, -1, -1])
    }
}
