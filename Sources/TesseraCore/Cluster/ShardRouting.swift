/// A versioned shard map: where each shard serves and which keys it owns.
///
/// Every process routes with the same value, so key placement agrees
/// cluster-wide; requests carry `version` so a shard can refuse stale routing.
public struct ShardRouting: Sendable, Hashable {
    public var version: UInt64
    /// Shard id → "host:port".
    public var addresses: [UInt32: String]
    public var ring: ConsistentHashRing

    public init(version: UInt64, addresses: [UInt32: String], virtualNodes: Int, seed: UInt64) {
        self.version = version
        self.addresses = addresses
        self.ring = ConsistentHashRing(shardIDs: addresses.keys.sorted(), virtualNodes: virtualNodes, seed: seed)
    }

    /// Shard ids, ascending.
    public var shardIDs: [UInt32] { ring.shardIDs }
}
