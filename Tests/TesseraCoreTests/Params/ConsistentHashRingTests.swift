import Testing
import TesseraCore

@Suite struct ConsistentHashRingTests {
    /// 100k distinct pseudo-random keys.
    static let keys: [UInt64] = {
        var rng = SplitMix64(seed: 2024)
        return (0..<100_000).map { _ in rng.next() }
    }()

    func owners(_ ring: ConsistentHashRing) -> [UInt32] {
        Self.keys.map { ring.shard(for: $0) }
    }

    @Test func deterministicAndIndependentOfShardOrder() {
        let a = ConsistentHashRing(shardIDs: [0, 1, 2, 3], seed: 11)
        let b = ConsistentHashRing(shardIDs: [3, 1, 2, 0, 2], seed: 11)
        #expect(a == b && a.hashValue == b.hashValue)
        #expect(b.shardIDs == [0, 1, 2, 3])
        #expect(owners(a) == owners(b))
        // Another seed gives another (still valid) assignment.
        let c = ConsistentHashRing(shardIDs: [0, 1, 2, 3], seed: 12)
        #expect(a != c)
        let differ = zip(owners(a), owners(c)).filter { $0 != $1 }.count
        #expect(differ > Self.keys.count / 2)
    }

    /// Largest relative deviation of a shard's key share from 1/N, and checks
    /// that key counts follow the ring's hash-space shares.
    func spread(_ ring: ConsistentHashRing) -> Double {
        var counts: [UInt32: Int] = [:]
        for shard in owners(ring) { counts[shard, default: 0] += 1 }
        let ownership = ring.ownership()
        #expect(abs(ownership.values.reduce(0, +) - 1) < 1e-9)
        let n = Double(ring.shardIDs.count)
        var worst = 0.0
        for shard in ring.shardIDs {
            let share = Double(counts[shard, default: 0]) / Double(Self.keys.count)
            // Keys land on arcs in proportion to arc length, up to sampling noise (σ ≈ 0.0014).
            #expect(abs(share - ownership[shard]!) < 0.006)
            worst = max(worst, abs(share * n - 1))
        }
        return worst
    }

    @Test func balancedWithVirtualNodes() {
        // A shard's share is a sum of V random arcs, so its relative spread is
        // about 1/sqrt(V) (8.8% for V = 128). Over 1000 seeds with 4 shards, the
        // worst shard deviated from 1/4 by (median / p99 / max): V = 128: 9.9% /
        // 23.7% / 27.0%; V = 1024: 3.6% / 8.6% / 10.3%. The bounds sit above the
        // maxima, so they hold for any seed, yet catch a skewed lookup.
        // (Measured here, seed 1: 15.6% with V = 128.)
        #expect(spread(ConsistentHashRing(shardIDs: [0, 1, 2, 3], virtualNodes: 128, seed: 1)) < 0.30)
        #expect(spread(ConsistentHashRing(shardIDs: [0, 1, 2, 3], virtualNodes: 1024, seed: 1)) < 0.12)
    }

    @Test func addingAShardMovesAboutOneOverNPlusOneAllToTheNewShard() {
        for n in 1...7 {
            let old = ConsistentHashRing(shardIDs: (0..<UInt32(n)).map { $0 }, seed: 99)
            let new = old.adding(shard: UInt32(n))
            let before = owners(old), after = owners(new)
            var moved = 0
            for (b, a) in zip(before, after) where a != b {
                moved += 1
                #expect(a == UInt32(n), "key moved from \(b) to \(a), not to the new shard")
            }
            let fraction = Double(moved) / Double(Self.keys.count)
            // The new shard's share of the circle is a Beta(V, nV) variable (V = 128
            // of its points among (n+1)V): mean p = 1/(n+1), σ = sqrt(p(1-p) / ((n+1)V + 1)),
            // 0.031 for n = 1 down to 0.010 for n = 7. Allow 3.5σ plus key-sampling
            // noise (over 1000 seeds the p99 deviation was 0.087 for n = 1, 0.026 for n = 7).
            let p = 1 / Double(n + 1)
            let sigma = (p * (1 - p) / Double((n + 1) * 128 + 1)).squareRoot()
            #expect(abs(fraction - p) < 3.5 * sigma + 0.005, "n = \(n): moved \(fraction), expected ≈ \(p)")
            // Exactly the keys on the new shard's arcs moved: the fraction matches
            // its share of the hash space up to sampling noise (σ ≤ 0.0016).
            #expect(abs(fraction - new.ownership()[UInt32(n)]!) < 0.006)
        }
    }

    @Test func removingAShardMovesOnlyItsKeys() {
        let ring = ConsistentHashRing(shardIDs: Array(0..<8), seed: 5)
        let smaller = ring.removing(shard: 3)
        #expect(smaller.shardIDs == [0, 1, 2, 4, 5, 6, 7])
        var receivers = Set<UInt32>()
        for (b, a) in zip(owners(ring), owners(smaller)) {
            if b == 3 {
                #expect(a != 3)
                receivers.insert(a)
            } else {
                #expect(a == b)
            }
        }
        #expect(receivers.count >= 5)  // its keys spread over the others
        #expect(smaller.adding(shard: 3) == ring)
    }

    @Test func partitionGroupsIndicesByShardInOrder() {
        let ring = ConsistentHashRing(shardIDs: [4, 9, 2], virtualNodes: 64, seed: 3)
        let keys = Array(Self.keys.prefix(5_000)) + Array(Self.keys.prefix(10))  // repeats allowed
        let partition = ring.partition(keys: keys)
        #expect(partition.shards == [2, 4, 9])
        #expect(partition.bounds.first == 0 && partition.bounds.last == keys.count)
        #expect(partition.order.sorted() == Array(0..<keys.count))
        for g in partition.shards.indices {
            let indices = Array(partition.indices(ofGroup: g))
            #expect(indices == indices.sorted())
            #expect(indices.allSatisfy { ring.shard(for: keys[$0]) == partition.shards[g] })
        }
        let groups = ring.group(keys: keys)
        #expect(groups.count == 3)
        #expect(groups[9] == Array(partition.indices(ofGroup: 2)))

        let one = ConsistentHashRing(shardIDs: [7], virtualNodes: 1, seed: 0)
        #expect(keys.allSatisfy { one.shard(for: $0) == 7 })
        #expect(one.ownership() == [7: 1])
        #expect(ring.partition(keys: []).shards.isEmpty)
    }
}
