import TesseraCore

extension ShardRouting {
    /// The routing described by a `ShardMap` message.
    public init(_ map: Tessera_V1_ShardMap) throws {
        guard !map.shards.isEmpty else { throw RPCError(.failedPrecondition, "the shard map lists no shards") }
        var addresses: [UInt32: String] = [:]
        for shard in map.shards { addresses[shard.shardID] = shard.address }
        self.init(version: map.version, addresses: addresses, virtualNodes: Int(max(1, map.virtualNodes)), seed: map.ringSeed)
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
            return endpoint
        }
        return map
    }
}
