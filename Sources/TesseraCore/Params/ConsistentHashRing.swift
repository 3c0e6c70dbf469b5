/// Which server shard owns a key: a consistent-hash ring with virtual nodes.
///
/// Each shard places `virtualNodes` points on a 64-bit circle at
/// `Hashing.combine(Hashing.combine(seed, shard), vnode)`; a key belongs to the
/// first point at or after its hash (wrapping around). Adding a shard therefore
/// moves only the keys that the new shard's points capture — about 1/(N+1) of
/// them, all to the new shard — and removing one moves only its own keys.
///
/// The key hash is salted differently from `EmbeddingTable`'s stripes and from
/// `DataSharding`, so the three assignments are independent. A value type:
/// equal (and hashing equal) when built from the same shard set, virtual node
/// count and seed. Lookups are O(1) expected (a bucket table over the top bits
/// of the hash, then a binary search within one bucket).
public struct ConsistentHashRing: Sendable, Hashable {
    /// The shards on the ring, ascending, without duplicates.
    public let shardIDs: [UInt32]
    public let virtualNodes: Int
    public let seed: UInt64

    /// Ring points ascending, and the position in `shardIDs` of the shard owning each.
    private let points: [UInt64]
    private let ownerPositions: [Int32]
    /// `bucketStarts[b]` is the first point index whose top `bucketBits` bits are >= b.
    private let bucketStarts: [Int32]
    private let bucketShift: UInt64

    /// Salt of the key hash ("ringkeys").
    private static let keySalt: UInt64 = 0x7269_6E67_6B65_7973

    /// Preconditions: at least one shard; `virtualNodes >= 1`. Duplicate ids are ignored.
    public init(shardIDs: [UInt32], virtualNodes: Int = 128, seed: UInt64) {
        let shards = Array(Set(shardIDs)).sorted()
        precondition(!shards.isEmpty, "a ring needs at least one shard")
        precondition(virtualNodes >= 1, "virtualNodes must be at least 1, got \(virtualNodes)")
        self.shardIDs = shards
        self.virtualNodes = virtualNodes
        self.seed = seed

        var placed: [(point: UInt64, position: Int32)] = []
        placed.reserveCapacity(shards.count * virtualNodes)
        for (position, shard) in shards.enumerated() {
            let base = Hashing.combine(seed, UInt64(shard))
            for vnode in 0..<virtualNodes {
                placed.append((Hashing.combine(base, UInt64(vnode)), Int32(position)))
            }
        }
        // Ties (astronomically unlikely) break by shard id so every process agrees.
        placed.sort { $0.point != $1.point ? $0.point < $1.point : $0.position < $1.position }
        points = placed.map(\.point)
        ownerPositions = placed.map(\.position)

        // About one point per bucket, at most 2^16 buckets.
        var bits = 1
        while bits < 16 && (1 << bits) < placed.count { bits += 1 }
        bucketShift = UInt64(64 - bits)
        var starts = [Int32](repeating: 0, count: (1 << bits) + 1)
        var p = 0
        for b in 0..<(1 << bits) {
            while p < points.count && Int(points[p] >> bucketShift) < b { p += 1 }
            starts[b] = Int32(p)
        }
        starts[1 << bits] = Int32(points.count)
        bucketStarts = starts
    }

    /// The shard that owns `key`.
    @inline(__always)
    public func shard(for key: UInt64) -> UInt32 {
        shardIDs[Int(ownerPositions[pointIndex(forHash: Self.keyHash(key))])]
    }

    /// A ring with `shard` added (same virtual nodes and seed).
    public func adding(shard: UInt32) -> ConsistentHashRing {
        ConsistentHashRing(shardIDs: shardIDs + [shard], virtualNodes: virtualNodes, seed: seed)
    }

    /// A ring without `shard`. Precondition: another shard remains.
    public func removing(shard: UInt32) -> ConsistentHashRing {
        ConsistentHashRing(shardIDs: shardIDs.filter { $0 != shard }, virtualNodes: virtualNodes, seed: seed)
    }

    /// The fraction of the hash space each shard owns (sums to 1): the expected
    /// share of keys, for balance reports and tests.
    public func ownership() -> [UInt32: Double] {
        var share: [UInt32: Double] = [:]
        for shard in shardIDs { share[shard] = 0 }
        let scale = 1.0 / 18_446_744_073_709_551_616.0  // 2^-64
        for i in points.indices {
            // Point i owns the arc (previous point, point i]; point 0 also owns the wrap-around.
            let arc = i == 0 ? points[0] &- points[points.count - 1] : points[i] - points[i - 1]
            share[shardIDs[Int(ownerPositions[i])], default: 0] += Double(arc) * scale
        }
        if points.count == 1 { share[shardIDs[0]] = 1 }
        return share
    }

    // MARK: Grouping keys by shard

    /// The indices of `keys` owned by each shard, ascending within a shard.
    /// Shards owning none of the keys are absent.
    public func group(keys: [UInt64]) -> [UInt32: [Int]] {
        let partition = self.partition(keys: keys)
        var groups: [UInt32: [Int]] = [:]
        for g in partition.shards.indices {
            groups[partition.shards[g]] = Array(partition.indices(ofGroup: g))
        }
        return groups
    }

    /// Groups `keys` by owning shard in one pass (counting sort, stable); see `KeyPartition`.
    public func partition(keys: UnsafeBufferPointer<UInt64>) -> KeyPartition {
        let shardCount = shardIDs.count
        var counts = [Int](repeating: 0, count: shardCount + 1)
        var ownerPosition = [Int32](repeating: 0, count: keys.count)
        for (i, key) in keys.enumerated() {
            let position = ownerPositions[pointIndex(forHash: Self.keyHash(key))]
            ownerPosition[i] = position
            counts[Int(position) + 1] += 1
        }
        for p in 0..<shardCount { counts[p + 1] += counts[p] }  // counts[p] = start of position p
        var next = counts
        var order = [Int](repeating: 0, count: keys.count)
        for i in 0..<keys.count {
            let p = Int(ownerPosition[i])
            order[next[p]] = i
            next[p] += 1
        }
        var shards: [UInt32] = [], bounds: [Int] = [0]
        for p in 0..<shardCount where counts[p + 1] > counts[p] {
            shards.append(shardIDs[p])
            bounds.append(counts[p + 1])
        }
        return KeyPartition(shards: shards, order: order, bounds: bounds)
    }

    /// Array form of `partition(keys:)`.
    public func partition(keys: [UInt64]) -> KeyPartition {
        keys.withUnsafeBufferPointer { partition(keys: $0) }
    }

    // MARK: Equality and lookup

    public static func == (a: ConsistentHashRing, b: ConsistentHashRing) -> Bool {
        a.shardIDs == b.shardIDs && a.virtualNodes == b.virtualNodes && a.seed == b.seed
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(shardIDs)
        hasher.combine(virtualNodes)
        hasher.combine(seed)
    }

    @inline(__always)
    static func keyHash(_ key: UInt64) -> UInt64 {
        Hashing.combine(key, keySalt)
    }

    /// Index of the first point >= `hash`, wrapping to 0 past the last point.
    @inline(__always)
    private func pointIndex(forHash hash: UInt64) -> Int {
        let b = Int(hash >> bucketShift)
        var lo = Int(bucketStarts[b]), hi = Int(bucketStarts[b + 1])
        // Lower bound within the bucket; if every point there is < hash, the
        // answer is the first point of a later bucket, which is `hi`.
        while lo < hi {
            let mid = (lo + hi) >> 1
            if points[mid] < hash { lo = mid + 1 } else { hi = mid }
        }
        return lo == points.count ? 0 : lo
    }
}

/// Keys of one batch grouped by owning shard, as index lists into the batch.
///
/// `order[bounds[g] ..< bounds[g + 1]]` are the (ascending) indices of the keys
/// owned by `shards[g]`. Only shards owning at least one key appear, ascending.
public struct KeyPartition: Sendable, Hashable {
    public var shards: [UInt32]
    public var order: [Int]
    public var bounds: [Int]

    public init(shards: [UInt32], order: [Int], bounds: [Int]) {
        self.shards = shards
        self.order = order
        self.bounds = bounds
    }

    /// The indices of the keys owned by `shards[group]`.
    public func indices(ofGroup group: Int) -> ArraySlice<Int> {
        order[bounds[group]..<bounds[group + 1]]
    }
}
