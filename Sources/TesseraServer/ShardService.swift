import Foundation
import Synchronization
import TesseraCore
import TesseraRPC

/// One parameter-server shard: the tables' rows this shard owns, served over
/// `tessera.v1.ParameterServer`.
///
/// Thread-safe. Each table locks stripes of rows, so pulls and pushes on
/// different rows proceed in parallel. Requests are checked before any row is
/// touched: the table must exist, the shard-map version must be this shard's,
/// and every key must be owned by this shard under that map.
public final class ShardService: ParameterServerService {
    public let shardID: UInt32
    /// Largest row payload one Pull may ask for or one Push may carry (the gRPC message limit).
    public let maxPayloadBytes: Int
    private let tables: [String: EmbeddingTable]
    private let routing = Mutex<ShardRouting?>(nil)
    private let pullRequests = Atomic<UInt64>(0)
    private let pulledRows = Atomic<UInt64>(0)
    private let pushRequests = Atomic<UInt64>(0)
    private let pushedRows = Atomic<UInt64>(0)

    public init(shardID: UInt32, tables specs: [TableSpec], maxPayloadBytes: Int = 64 << 20) throws {
        self.shardID = shardID
        self.maxPayloadBytes = maxPayloadBytes
        var tables: [String: EmbeddingTable] = [:]
        for spec in specs {
            tables[spec.name] = try EmbeddingTable(spec: spec)
        }
        self.tables = tables
    }

    /// Starts serving under `routing` (the shard map); requests routed with another version are refused.
    public func update(routing: ShardRouting) {
        self.routing.withLock { $0 = routing }
    }

    /// The shard-map version served, or nil before the first map.
    public var routingVersion: UInt64? {
        routing.withLock { $0?.version }
    }

    /// The table named `name`, for in-process use (tests, checkpoints).
    public func table(named name: String) -> EmbeddingTable? {
        tables[name]
    }

    public func pull(_ request: Tessera_V1_PullRequest, context: ServerContext) async throws -> Tessera_V1_PullResponse {
        let table = try self.table(request.table)
        guard let width = RowPayload.bytesPerValue(request.encoding) else {
            throw RPCError(.invalidArgument, "encoding: unknown row encoding \(request.encoding.rawValue)")
        }
        let dim = table.dim
        let bytes = request.keys.count * dim * width
        guard bytes <= maxPayloadBytes - 1024 else {
            throw RPCError(.invalidArgument,
                           "keys: \(request.keys.count) rows of dimension \(dim) need \(bytes) bytes, over the \(maxPayloadBytes >> 20) MiB message limit; split the request")
        }
        try checkRouting(version: request.shardMapVersion, keys: request.keys)
        var response = Tessera_V1_PullResponse()
        response.dim = UInt32(dim)
        response.encoding = request.encoding
        var rows = [Float](repeating: 0, count: request.keys.count * dim)
        let created = try rows.withUnsafeMutableBufferPointer { output in
            try request.keys.withUnsafeBufferPointer { keys in
                try table.pull(keys: keys, into: output)
            }
        }
        response.values = try rows.withUnsafeBufferPointer { try RowPayload.encode($0, as: request.encoding) }
        response.created = UInt64(created)
        pullRequests.add(1, ordering: .relaxed)
        pulledRows.add(UInt64(request.keys.count), ordering: .relaxed)
        return response
    }

    public func push(_ request: Tessera_V1_PushRequest, context: ServerContext) async throws -> Tessera_V1_PushResponse {
        let table = try self.table(request.table)
        guard Int(request.dim) == table.dim else {
            throw RPCError(.invalidArgument, "dim: table '\(table.spec.name)' has dimension \(table.dim), the push says \(request.dim)")
        }
        try checkRouting(version: request.shardMapVersion, keys: request.keys)
        var gradients = [Float](repeating: 0, count: request.keys.count * table.dim)
        try gradients.withUnsafeMutableBufferPointer { output in
            try RowPayload.decode(request.gradients, as: request.encoding, into: output, field: "gradients")
        }
        for value in gradients where !value.isFinite {
            throw RPCError(.invalidArgument, "gradients: holds a non-finite value (\(value)); nothing was applied")
        }
        let applied = try gradients.withUnsafeBufferPointer { gradients in
            try request.keys.withUnsafeBufferPointer { keys in
                try table.push(keys: keys, gradients: gradients)
            }
        }
        pushRequests.add(1, ordering: .relaxed)
        pushedRows.add(UInt64(applied), ordering: .relaxed)
        var response = Tessera_V1_PushResponse()
        response.applied = UInt64(applied)
        return response
    }

    public func stats(_ request: Tessera_V1_ShardStatsRequest, context: ServerContext) async throws -> Tessera_V1_ShardStatsResponse {
        var response = Tessera_V1_ShardStatsResponse()
        response.shardID = shardID
        response.shardMapVersion = routing.withLock { $0?.version ?? 0 }
        response.tables = tables.keys.sorted().compactMap { name in
            guard let table = tables[name] else { return nil }
            var stats = Tessera_V1_TableStats()
            stats.name = name
            stats.dim = UInt32(table.dim)
            stats.rows = UInt64(table.rowCount)
            stats.bytes = UInt64(table.bytesUsed)
            return stats
        }
        response.pullRequests = pullRequests.load(ordering: .relaxed)
        response.pulledRows = pulledRows.load(ordering: .relaxed)
        response.pushRequests = pushRequests.load(ordering: .relaxed)
        response.pushedRows = pushedRows.load(ordering: .relaxed)
        return response
    }

    private func table(_ name: String) throws -> EmbeddingTable {
        guard let table = tables[name] else {
            let known = tables.keys.sorted().map { "'\($0)'" }.joined(separator: ", ")
            throw RPCError(.invalidArgument, "table: unknown table '\(name)' (this cluster has \(known))")
        }
        return table
    }

    private func checkRouting(version: UInt64, keys: [UInt64]) throws {
        guard let routing = routing.withLock({ $0 }) else {
            throw RPCError(.unavailable, "shard \(shardID) has no shard map yet; retry shortly")
        }
        guard version == routing.version else {
            throw RPCError(.failedPrecondition,
                           "shard_map_version: the request was routed with shard map version \(version), but shard \(shardID) serves version \(routing.version); fetch the current map and retry")
        }
        for key in keys {
            let owner = routing.ring.shard(for: key)
            if owner != shardID {
                throw RPCError(.failedPrecondition,
                               "keys: key \(key) belongs to shard \(owner) under shard map version \(version), not to shard \(shardID)")
            }
        }
    }
}
