import Foundation
import Testing
import TesseraCore
import TesseraRPC

/// A `ShardMap` from the wire becomes a `ShardRouting` only within the bounds a config
/// allows. Found by `tessera-fuzz messages`: a map asking for 126016 virtual nodes took
/// seconds to build, and one asking for 2^32-1 would need ~64 GB.
@Suite struct ShardMapDecodingTests {
    static func map(virtualNodes: UInt32, shards: Int) -> Tessera_V1_ShardMap {
        Tessera_V1_ShardMap.with { map in
            map.version = 3
            map.virtualNodes = virtualNodes
            map.shards = (0..<shards).map { id in
                Tessera_V1_ShardEndpoint.with { $0.shardID = UInt32(id); $0.address = "h\(id):7071" }
            }
        }
    }

    @Test func aMapWithTooManyVirtualNodesIsRefused() throws {
        // The fuzzer's input, decoded from its bytes.
        let bytes: [UInt8] = [0x08, 0x03, 0x12, 0x11, 0x08, 0x46, 0x12, 0x0d] + Array("10.0.0.1:7071".utf8)
            + [0x12, 0x07, 0x08, 0x01, 0x12, 0x03] + Array("h:1".utf8) + [0x18, 0xc0, 0xd8, 0x07]
        let decoded = try Tessera_V1_ShardMap(serializedBytes: bytes)
        #expect(decoded.virtualNodes == 126_016)
        #expect(throws: RPCError.self) { try ShardRouting(decoded) }
        #expect(throws: RPCError.self) { try ShardRouting(Self.map(virtualNodes: .max, shards: 1)) }
    }

    @Test func aMapWithTooManyShardsIsRefused() {
        #expect(throws: RPCError.self) { try ShardRouting(Self.map(virtualNodes: 1, shards: ShardRouting.mapLimits.shards + 1)) }
    }

    @Test func mapsWithinTheConfigBoundsStillWork() throws {
        let routing = try ShardRouting(Self.map(virtualNodes: UInt32(ShardRouting.mapLimits.virtualNodes), shards: 4))
        #expect(routing.shardIDs == [0, 1, 2, 3])
        #expect(routing.ring.virtualNodes == ShardRouting.mapLimits.virtualNodes)
        #expect(try ShardRouting(Self.map(virtualNodes: 0, shards: 2)).ring.virtualNodes == 1)
        #expect(try ShardRouting(routing.message) == routing)
    }
}
