import Testing
import TesseraCore

/// A leader's versioned row copies and a follower's apply: order- and repeat-safe.
@Suite struct ReplicaBatchTests {
    static func spec(_ optimizer: OptimizerSpec = .adam(learningRate: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-8),
                     lifecycle: TableLifecycle? = nil) -> TableSpec {
        TableSpec(name: "item", dim: 3, optimizer: optimizer, initializer: .normal(std: 0.1), seed: 5, lifecycle: lifecycle)
    }

    /// Every row (value and optimizer state) of `table`, by key.
    static func rows(_ table: EmbeddingTable) -> [UInt64: [Float]] {
        var rows: [UInt64: [Float]] = [:]
        table.forEachRow { key, value, state in rows[key] = Array(value) + Array(state) }
        return rows
    }

    @Test func batchesAppliedOutOfOrderAndTwiceLeaveTheLeadersRows() throws {
        let leader = try EmbeddingTable(spec: Self.spec(), stripeCount: 4)
        let follower = try EmbeddingTable(spec: Self.spec(), stripeCount: 4)
        var batches: [ReplicaBatch] = []
        for step in 0..<5 {
            let keys: [UInt64] = Array(UInt64(step)...UInt64(step + 20))
            try leader.push(keys: keys, gradients: (0..<keys.count * 3).map { Float($0 % 7) - 3 })
            batches.append(leader.replicaBatch(keys: keys))
        }
        #expect(batches.allSatisfy { $0.rows.count == $0.keys.count * leader.rowWidth && $0.removed.isEmpty })
        for batch in batches.reversed() + batches { try follower.applyReplica(batch) }
        #expect(Self.rows(follower) == Self.rows(leader))
        #expect(Self.rows(leader).count == 25)
    }

    @Test func aStaleRowDoesNotOverwriteANewerOneOrResurrectARemovedOne() throws {
        let leader = try EmbeddingTable(spec: Self.spec(.sgd(learningRate: 1)), stripeCount: 1)
        let follower = try EmbeddingTable(spec: Self.spec(.sgd(learningRate: 1)), stripeCount: 1)
        try leader.push(keys: [1, 2], gradients: [Float](repeating: 1, count: 6))
        let old = leader.replicaBatch(keys: [1, 2])
        try leader.push(keys: [1], gradients: [Float](repeating: 1, count: 3))
        leader.remove(keys: [2])
        let new = leader.replicaBatch(keys: [1, 2])
        #expect(new.keys == [1] && new.removed == [2])
        #expect(try follower.applyReplica(new) == 1)
        #expect(try follower.applyReplica(old) == 0)
        #expect(Self.rows(follower) == Self.rows(leader))
        #expect(follower.row(for: 2) == nil)
    }

    @Test func evictionsAreRecordedOnlyWhileAFollowerListens() throws {
        let lifecycle = TableLifecycle(maxRows: 4)
        let leader = try EmbeddingTable(spec: Self.spec(lifecycle: lifecycle), stripeCount: 1)
        _ = try leader.pull(keys: Array(0..<6))
        #expect(leader.replication.drainRemovals().keys.isEmpty)
        leader.replication.isRecording = true
        _ = try leader.pull(keys: Array(10..<13))
        let evicted = leader.replication.drainRemovals()
        #expect(evicted.keys.count == 3 && evicted.versions.count == 3)
        #expect(leader.replication.drainRemovals().keys.isEmpty)
        // The follower had the evicted rows; the removal batch deletes them.
        let follower = try EmbeddingTable(spec: Self.spec(lifecycle: lifecycle), stripeCount: 1)
        var batch = ReplicaBatch()
        batch.removed = evicted.keys
        batch.removedVersions = evicted.versions
        try follower.insert(keys: evicted.keys, rows: [Float](repeating: 0, count: evicted.keys.count * follower.rowWidth))
        #expect(try follower.applyReplica(batch) == 3)
        #expect(follower.rowCount == 0)
    }

    @Test func mismatchedSizesAreRefusedAndChangeNothing() throws {
        let follower = try EmbeddingTable(spec: Self.spec(), stripeCount: 1)
        var batch = ReplicaBatch()
        batch.keys = [1]
        batch.versions = [1]
        batch.rows = [1, 2, 3]
        #expect(throws: TableError.self) { try follower.applyReplica(batch) }
        #expect(follower.rowCount == 0)
    }
}
