/// A versioned shard map: where each shard serves and which keys it owns.
///
/// Every process routes with the same value, so key placement agrees
/// cluster-wide; requests carry `version` so a shard can refuse stale routing.
public struct ShardRouting: Sendable, Hashable {
    public var version: UInt64
    /// Shard id → "host:port".
    public var addresses: [UInt32: String]
    public var ring: ConsistentHashRing
    /// Shard id → "host:port" of its follower (replication), for shards that have one in sync.
    public var followers: [UInt32: String]

    public init(version: UInt64, addresses: [UInt32: String], followers: [UInt32: String] = [:], virtualNodes: Int, seed: UInt64) {
        self.version = version
        self.addresses = addresses
        self.followers = followers
        self.ring = ConsistentHashRing(shardIDs: addresses.keys.sorted(), virtualNodes: virtualNodes, seed: seed)
    }

    /// Shard ids, ascending.
    public var shardIDs: [UInt32] { ring.shardIDs }

    /// Whether `other` places keys exactly as this routing does (same shards, virtual nodes and seed).
    public func placesKeysLike(_ other: ShardRouting) -> Bool {
        shardIDs == other.shardIDs && ring.virtualNodes == other.ring.virtualNodes && ring.seed == other.ring.seed
    }
}
