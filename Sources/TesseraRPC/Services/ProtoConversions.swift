import TesseraCore

extension ShardRouting {
    /// Most virtual nodes per shard and most shards a map may have: the bounds a config
    /// accepts (`ring.virtual_nodes`, `shards`). A map beyond them would make every member
    /// build a ring of billions of points, so it is refused rather than trusted.
    public static let mapLimits = (virtualNodes: 4096, shards: 1024)

    /// The routing described by a `ShardMap` message.
    public init(_ map: Tessera_V1_ShardMap) throws {
        guard !map.shards.isEmpty else { throw RPCError(.failedPrecondition, "the shard map lists no shards") }
        guard map.virtualNodes <= Self.mapLimits.virtualNodes else {
            throw RPCError(.invalidArgument, "the shard map asks for \(map.virtualNodes) virtual nodes per shard; at most \(Self.mapLimits.virtualNodes)")
        }
        var addresses: [UInt32: String] = [:]
        var followers: [UInt32: String] = [:]
        for shard in map.shards {
            addresses[shard.shardID] = shard.address
            if !shard.followerAddress.isEmpty { followers[shard.shardID] = shard.followerAddress }
        }
        guard addresses.count <= Self.mapLimits.shards else {
            throw RPCError(.invalidArgument, "the shard map lists \(addresses.count) shards; at most \(Self.mapLimits.shards)")
        }
        self.init(version: map.version, addresses: addresses, followers: followers, virtualNodes: Int(max(1, map.virtualNodes)), seed: map.ringSeed)
    }

    /// This routing as a `ShardMap` message.
    public var message: Tessera_V1_ShardMap {
        var map = Tessera_V1_ShardMap()
        map.version = version
        map.virtualNodes = UInt32(ring.virtualNodes)
        map.ringSeed = ring.seed
        map.shards = shardIDs.map { id in
            var endpoint = Tessera_V1_ShardEndpoint()
            endpoint.shardID = id
            endpoint.address = addresses[id] ?? ""
            endpoint.followerAddress = followers[id] ?? ""
            return endpoint
        }
        return map
    }
}

extension Tessera_V1_MigrateRequest {
    /// Sets the target map fields (a `ShardMap`, inlined) from `routing`.
    public mutating func setTarget(_ routing: ShardRouting) {
        targetVersion = routing.version
        targetShardIds = routing.shardIDs
        targetAddresses = routing.shardIDs.map { routing.addresses[$0] ?? "" }
        targetVirtualNodes = UInt32(routing.ring.virtualNodes)
        targetRingSeed = routing.ring.seed
    }

    /// The target map; throws `RPCError` as for a `ShardMap`, or when ids and addresses differ in number.
    public func targetRouting() throws -> ShardRouting {
        guard targetShardIds.count == targetAddresses.count else {
            throw RPCError(.invalidArgument, "target_addresses: \(targetAddresses.count) addresses for \(targetShardIds.count) target_shard_ids")
        }
        var map = Tessera_V1_ShardMap()
        map.version = targetVersion
        map.virtualNodes = targetVirtualNodes
        map.ringSeed = targetRingSeed
        map.shards = zip(targetShardIds, targetAddresses).map { id, address in
            var endpoint = Tessera_V1_ShardEndpoint()
            endpoint.shardID = id
            endpoint.address = address
            return endpoint
        }
        return try ShardRouting(map)
    }
}
