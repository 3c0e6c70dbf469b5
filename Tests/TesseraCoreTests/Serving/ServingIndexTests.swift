import Testing
import TesseraCore

@Suite struct ServingIndexTests {
    /// Items 1…5 along the x axis with growing weight, item 6 along y.
    func index() -> ServingIndex {
        let index = ServingIndex(dim: 2)
        index.apply(keys: [1, 2, 3, 4, 5, 6], values: [1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 0, 9])
        return index
    }

    @Test func scoresAgainstTheQueryAndExcludes() {
        let index = index()
        let result = index.score(query: [1, 0], k: 3, excluding: [5], explorePool: 0, seed: 1, group: 0)
        // Scores are x: 5 is excluded, so 4, 3, 2 lead (6 scores 0).
        #expect(result.items.map(\.key) == [4, 3, 2])
        #expect(result.items.map(\.score) == [4, 3, 2])
        #expect(result.catalogSize == 6)
        #expect(!result.items.contains { $0.explorePool })
    }

    @Test func deltasUpdateInOrderAndBumpTheVersion() {
        let index = index()
        let before = index.version
        index.apply(keys: [6, 7], values: [10, 0, 0.5, 0])
        #expect(index.version == before + 1)
        #expect(index.count == 7)
        #expect(index.vector(for: 6) == [10, 0])
        let result = index.score(query: [1, 0], k: 2, excluding: [], explorePool: 0, seed: 1, group: 0)
        #expect(result.items.map(\.key) == [6, 5])
    }

    @Test func deltaReadsTheSourceUnderTheLock() {
        let index = ServingIndex(dim: 1)
        var source: [UInt64: Float] = [1: 3]
        index.apply(keys: [1]) { keys in keys.map { source[$0] ?? 0 } }
        source[1] = 4
        index.apply(keys: [1]) { keys in keys.map { source[$0] ?? 0 } }
        #expect(index.vector(for: 1) == [4])
    }

    @Test func countersAreKeptPerItemAndGroupEvenBeforeTheItemIsIndexed() {
        let index = index()
        index.addCounts([(key: 3, group: 1, impressions: 10, clicks: 2), (key: 3, group: 2, impressions: 5, clicks: 0),
                         (key: 9, group: 1, impressions: 4, clicks: 1)])
        #expect(index.counters(for: 3, group: 1) == (ServingIndex.Counter(impressions: 15, clicks: 2), ServingIndex.Counter(impressions: 10, clicks: 2)))
        #expect(index.totals == ServingIndex.Counter(impressions: 19, clicks: 3))
        index.apply(keys: [9], values: [100, 0])
        let top = index.score(query: [1, 0], k: 1, excluding: [], explorePool: 0, seed: 1, group: 1)
        #expect(top.items.first?.key == 9)
        #expect(top.items.first?.counter == ServingIndex.Counter(impressions: 4, clicks: 1))
    }

    @Test func explorationPoolHoldsColdAndRandomItemsOutsideTheTop() {
        let index = index()
        index.addCounts((1...5).map { (key: UInt64($0), group: 0, impressions: UInt64(100 * $0), clicks: 0) })
        let result = index.score(query: [1, 0], k: 2, excluding: [4], explorePool: 1, seed: 3, group: 0)
        let top = result.items.filter { !$0.explorePool }.map(\.key)
        let pool = result.items.filter(\.explorePool).map(\.key)
        #expect(top == [5, 3])
        // Item 6 has no impressions: it is the coldest. Item 1 has the best observed
        // click rate of the rest ((0+1)/(100+2)); a random one joins them.
        #expect(pool.first == 6)
        #expect(pool.dropFirst().first == 1)
        #expect(pool.count == 3)
        #expect(Set(pool).isDisjoint(with: [5, 3, 4]))
        // Seeded: the same seed draws the same pool.
        let again = index.score(query: [1, 0], k: 2, excluding: [4], explorePool: 1, seed: 3, group: 0)
        #expect(again.items.map(\.key) == result.items.map(\.key))
    }

    @Test func userGroupsAreStableAndSeparateOpposites() {
        let groups = UserGroups(bits: 3, dim: 4, seed: 5)
        #expect(groups.count == 8 && groups.coldGroup == 8)
        let v: [Float] = [1, -2, 0.5, 3]
        #expect(groups.group(of: v[...]) == groups.group(of: v.map { $0 * 2 }[...]))
        #expect(groups.group(of: v[...]) != groups.group(of: v.map { -$0 }[...]))
        #expect(groups.group(of: nil) == 8)
        #expect(groups.group(of: [0, 0, 0, 0][...]) == 8)
        #expect(UserGroups(bits: 3, dim: 4, seed: 5).group(of: v[...]) == groups.group(of: v[...]))
    }
}
