/// Where rows go when a running cluster changes its shard count (live resharding).
///
/// Both maps place keys with the same virtual nodes and seed; the target has
/// shard ids `0..<M`. Because the ring is consistent, scaling up moves only the
/// keys the joining shards capture, and scaling down only the leaving shards'
/// keys. A value type: no I/O, the same answer in every process.
public struct ReshardPlan: Sendable, Equatable {
    /// The map served now, and the one being moved to (one version above).
    public let source: ShardRouting
    public let target: ShardRouting

    /// Why a reshard cannot be planned.
    public struct Refusal: Error, Sendable, Equatable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// The plan from `source` to `targetShards` shards (ids `0..<targetShards`).
    ///
    /// - Parameter addresses: where every shard of the target serves; shards of
    ///   the source keep their addresses unless given here.
    /// - Throws: `Refusal` when the count is below 1, equals the current one,
    ///   the source's ids are not `0..<N`, or a target shard has no address.
    public init(from source: ShardRouting, toShards targetShards: Int, addresses: [UInt32: String]) throws(Refusal) {
        let current = source.shardIDs.count
        guard targetShards >= 1 else {
            throw Refusal(message: "shards: a cluster needs at least 1 shard, not \(targetShards)")
        }
        guard targetShards != current else {
            throw Refusal(message: "shards: the cluster already has \(current) shards")
        }
        guard source.shardIDs == (0..<UInt32(current)).map({ $0 }) else {
            throw Refusal(message: "shard ids \(source.shardIDs) are not 0...\(current - 1); a live reshard needs contiguous ids")
        }
        var targetAddresses: [UInt32: String] = [:]
        for id in 0..<UInt32(targetShards) {
            guard let address = addresses[id] ?? source.addresses[id] else {
                throw Refusal(message: "shard \(id) of the target map has no address yet (has it registered?)")
            }
            targetAddresses[id] = address
        }
        self.source = source
        self.target = ShardRouting(version: source.version + 1, addresses: targetAddresses,
                                   virtualNodes: source.ring.virtualNodes, seed: source.ring.seed)
    }

    /// Shards only in the target (scaling up) and only in the source (scaling down).
    public var joining: [UInt32] { target.shardIDs.filter { source.addresses[$0] == nil } }
    public var leaving: [UInt32] { source.shardIDs.filter { target.addresses[$0] == nil } }

    /// Every shard that takes part: the union of both maps, ascending.
    public var participants: [UInt32] { Array(Set(source.shardIDs + target.shardIDs)).sorted() }

    /// The new owner of `key` if it moves away from its current owner; nil if it stays.
    @inline(__always)
    public func destination(of key: UInt64) -> UInt32? {
        let to = target.ring.shard(for: key)
        return to == source.ring.shard(for: key) ? nil : to
    }

    /// The keys among `keys` that move, grouped by their new owner (each group in input order).
    public func moves(_ keys: [UInt64]) -> [UInt32: [UInt64]] {
        var groups: [UInt32: [UInt64]] = [:]
        for key in keys {
            if let to = destination(of: key) { groups[to, default: []].append(key) }
        }
        return groups
    }

    /// The fraction of keys an ideal placement moves from `from` to `to` shards:
    /// the joining shards' share when growing, the leaving shards' when shrinking.
    public static func idealMovedFraction(from: Int, to: Int) -> Double {
        guard from > 0, to > 0 else { return 1 }
        return Double(abs(to - from)) / Double(max(from, to))
    }
}
