import Foundation
import Synchronization
import Testing
import TesseraCore

/// Admission, expiry and the row cap of `EmbeddingTable` (`TableLifecycle`).
@Suite struct LifecycleTests {
    /// A settable clock for expiry.
    final class Ticks: Sendable {
        let now = Atomic<UInt32>(0)
        var clock: @Sendable () -> UInt32 { { self.now.load(ordering: .relaxed) } }
    }

    static func table(_ lifecycle: TableLifecycle, ticks: Ticks = Ticks(), stripes: Int = 4) throws -> EmbeddingTable {
        try EmbeddingTable(spec: TableSpec(name: "t", dim: 4, optimizer: .sgd(learningRate: 0.5), initializer: .normal(std: 0.1),
                                           seed: 3, lifecycle: lifecycle),
                           stripeCount: stripes, clock: ticks.clock)
    }

    @Test func keysGetRowsOnlyAfterEnoughPullsAndPushesBeforeThatAreDropped() throws {
        let table = try Self.table(TableLifecycle(admitAfter: 3))
        let plain = try EmbeddingTable(spec: TableSpec(name: "t", dim: 4, optimizer: .sgd(learningRate: 0.5),
                                                       initializer: .normal(std: 0.1), seed: 3))
        let initial = try plain.pull(keys: [42])
        #expect(try table.pull(keys: [42]) == initial, "before admission a pull answers the initial row")
        #expect(table.rowCount == 0)
        _ = try table.push(keys: [42], gradients: [1, 1, 1, 1])
        #expect(table.rowCount == 0 && table.lifecycleCounts.droppedPushes == 1)
        #expect(try table.pull(keys: [42]) == initial)
        #expect(table.rowCount == 0 && table.lifecycleCounts.waiting == 2)
        #expect(try table.pull(keys: [42]) == initial, "the third pull admits it, starting from the same row")
        #expect(table.rowCount == 1 && table.lifecycleCounts.admitted == 1)
        _ = try table.push(keys: [42], gradients: [1, 1, 1, 1])
        #expect(try table.pull(keys: [42]) != initial, "once admitted it trains")
        // Other keys are counted apart.
        _ = try table.pull(keys: [7, 8])
        #expect(table.rowCount == 1)
    }

    @Test func rowsUnusedForTheTTLExpireAndComeBackFresh() throws {
        let ticks = Ticks()
        let table = try Self.table(TableLifecycle(ttlSeconds: 10), ticks: ticks)
        let first = try table.pull(keys: [1, 2, 3])
        _ = try table.push(keys: [1, 2, 3], gradients: [Float](repeating: 1, count: 12))
        ticks.now.store(8, ordering: .relaxed)
        _ = try table.pull(keys: [2])
        ticks.now.store(12, ordering: .relaxed)
        _ = try table.push(keys: [3], gradients: [Float](repeating: 1, count: 4))
        ticks.now.store(15, ordering: .relaxed)
        // Idle for at least 10 s at 15 s: only key 1 (last used at 0); 2 was pulled at 8, 3 pushed at 12.
        #expect(table.evictExpired() == 1)
        #expect(table.row(for: 1) == nil && table.row(for: 2) != nil && table.row(for: 3) != nil)
        #expect(table.lifecycleCounts.evictedExpired == 1)
        #expect(try table.pull(keys: [1]) == Array(first[0..<4]), "an expired key starts over from its initial row")
        ticks.now.store(24, ordering: .relaxed)
        #expect(table.evictExpired() == 2, "at 24 s keys 2 (8 s) and 3 (12 s) are idle for 10 s; 1 was pulled again at 15 s")
        #expect(table.rowCount == 1 && table.row(for: 1) != nil)
    }

    @Test func theCapKeepsRecentlyUsedRows() throws {
        let ticks = Ticks()
        let table = try Self.table(TableLifecycle(maxRows: 400), ticks: ticks, stripes: 4)
        // 200 hot keys used at every tick, 2000 cold keys each used once.
        let hot = (0..<200).map { UInt64($0) }
        for tick in 1...20 {
            ticks.now.store(UInt32(tick), ordering: .relaxed)
            _ = try table.pull(keys: hot)
            _ = try table.pull(keys: (0..<100).map { UInt64(10_000 + tick * 100 + $0) })
        }
        #expect(table.rowCount <= 400, "the cap holds: \(table.rowCount) rows")
        let hotKept = hot.filter { table.row(for: $0) != nil }.count
        #expect(hotKept >= 190, "recently used rows survive: \(hotKept) of 200")
        #expect(table.lifecycleCounts.evictedForCap >= 1_400)
    }

    @Test func evictionsAreRecordedForIncrementalCheckpoints() throws {
        let ticks = Ticks()
        let table = try Self.table(TableLifecycle(ttlSeconds: 5), ticks: ticks)
        _ = try table.pull(keys: [1, 2])
        let mark = table.advanceGeneration()
        ticks.now.store(10, ordering: .relaxed)
        _ = try table.pull(keys: [3])
        _ = table.evictExpired()
        var removed: [UInt64] = []
        var changed: [UInt64] = []
        try table.forEachStripeSnapshot(changedAfter: mark) { snapshot in
            removed += snapshot.removed
            changed += snapshot.keys
        }
        #expect(Set(removed) == [1, 2] && changed == [3])
    }

    @Test func lifecycleSettingsParseAndRoundTrip() throws {
        let config = try ClusterConfig.parse(yaml: """
            tables:
              - {name: user, dim: 8, admit_after: 2, ttl_seconds: 3600, max_rows: 1000000}
              - {name: item, dim: 8}
            """, file: "t.yaml")
        #expect(config.tables[0].lifecycle == TableLifecycle(admitAfter: 2, ttlSeconds: 3600, maxRows: 1_000_000))
        #expect(config.tables[1].lifecycle == nil)
        let decoded = try JSONDecoder().decode(ClusterConfig.self, from: JSONEncoder().encode(config))
        #expect(decoded.tables == config.tables)
        #expect(throws: ConfigError.self) {
            _ = try ClusterConfig.parse(yaml: "tables: [{name: user, dim: 8, admit_after: -1}, {name: item, dim: 8}]", file: "t.yaml")
        }
    }
}
