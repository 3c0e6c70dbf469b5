import Testing
import TesseraCore

/// Live resharding's pure parts: which keys move where, the scheduler's protocol
/// (joining shards, copy, switch, abort), and versions ordering copies and forwards.
@Suite struct ReshardTests {
    static func routing(shards: Int, version: UInt64 = 3) -> ShardRouting {
        var addresses: [UInt32: String] = [:]
        for id in 0..<UInt32(shards) { addresses[id] = "s:\(id)" }
        return ShardRouting(version: version, addresses: addresses, virtualNodes: 64, seed: 11)
    }

    static func joined(_ from: Int, _ to: Int) -> [UInt32: String] {
        var addresses: [UInt32: String] = [:]
        for id in UInt32(from)..<UInt32(max(from, to)) { addresses[id] = "n:\(id)" }
        return addresses
    }

    @Test(arguments: [(2, 4), (4, 2), (3, 5), (5, 1)])
    func onlyKeysWhoseOwnerChangesMoveAndAboutTheIdealFraction(from: Int, to: Int) throws {
        let plan = try ReshardPlan(from: Self.routing(shards: from), toShards: to, addresses: Self.joined(from, to))
        #expect(plan.target.version == 4 && plan.target.shardIDs == (0..<UInt32(to)).map { $0 })
        #expect(plan.target.ring.virtualNodes == 64 && plan.target.ring.seed == 11)
        let keys = (0..<20_000).map { UInt64($0) &* 0x9E37_79B9_7F4A_7C15 }
        let moves = plan.moves(keys)
        var moved = 0
        for (to, group) in moves {
            for key in group {
                #expect(plan.target.ring.shard(for: key) == to && plan.source.ring.shard(for: key) != to)
            }
            moved += group.count
        }
        for key in keys where plan.destination(of: key) == nil {
            #expect(plan.source.ring.shard(for: key) == plan.target.ring.shard(for: key))
        }
        // Consistent hashing: growing moves keys only onto joining shards; shrinking only off leaving ones.
        if to > from {
            #expect(Set(moves.keys).isSubset(of: Set(plan.joining)))
        } else {
            for group in moves.values { for key in group { #expect(plan.leaving.contains(plan.source.ring.shard(for: key))) } }
        }
        let fraction = Double(moved) / Double(keys.count), ideal = ReshardPlan.idealMovedFraction(from: from, to: to)
        #expect(abs(fraction - ideal) < 0.1, "moved \(fraction), ideal \(ideal)")
    }

    @Test func refusesNonsense() throws {
        #expect(throws: ReshardPlan.Refusal.self) { try ReshardPlan(from: Self.routing(shards: 2), toShards: 2, addresses: [:]) }
        #expect(throws: ReshardPlan.Refusal.self) { try ReshardPlan(from: Self.routing(shards: 2), toShards: 0, addresses: [:]) }
        // A joining shard that has not registered has no address.
        let missing = #expect(throws: ReshardPlan.Refusal.self) { try ReshardPlan(from: Self.routing(shards: 2), toShards: 3, addresses: [:]) }
        #expect(missing?.message.contains("shard 2") == true)
    }

    /// A copy read before a push, arriving after the push was forwarded, does not undo it.
    @Test func aLateCopyDoesNotOverwriteAForwardedChange() throws {
        let spec = TableSpec(name: "user", dim: 2, optimizer: .adagrad(learningRate: 0.1), initializer: .normal(std: 0.1), seed: 1)
        let old = try EmbeddingTable(spec: spec), new = try EmbeddingTable(spec: spec)
        _ = try old.pull(keys: [7, 8])
        let copy = old.replicaBatch(keys: [7, 8])
        _ = try old.push(keys: [7], gradients: [1, -1])
        let forward = old.replicaBatch(keys: [7])
        #expect(try new.applyReplica(forward) == 1)
        #expect(try new.applyReplica(copy) == 1, "only key 8 is new; key 7's copy is older than the forward")
        #expect(new.checksum() == old.checksum())
        #expect(new.checksum().rows == 2)
        // A changed optimizer state changes the checksum.
        _ = try old.push(keys: [8], gradients: [0.5, 0.5])
        #expect(new.checksum() != old.checksum())
    }

    /// Scheduler protocol: 2 shards training epoch 1.
    func training() throws -> TrainingCoordinator {
        var c = TrainingCoordinator(shards: 2, workers: 1, epochs: 4, batchSize: 10, ring: RingSettings())
        _ = try c.register(role: .server, address: "s:0", pid: 1, host: "h", requestedID: 0, now: 0)
        _ = try c.register(role: .server, address: "s:1", pid: 2, host: "h", requestedID: 1, now: 0)
        _ = try c.register(role: .worker, address: "", pid: 10, host: "h", now: 0)
        _ = c.schedulerDataReady()
        _ = c.workerLoaded(id: 0, examples: 30, now: 1)
        #expect(c.phase == .training(epoch: 1))
        return c
    }

    @Test func growingWaitsForTheNewShardsThenSwitchesToTheTargetMap() throws {
        var c = try training()
        let before = try #require(c.routing)
        #expect(try c.beginReshard(toShards: 4, now: 2).isEmpty, "the new shards have not joined")
        #expect(throws: TrainingCoordinator.Refusal.self) { _ = try c.beginReshard(toShards: 3, now: 2) }
        let first = try c.register(role: .server, address: "s:2", pid: 3, host: "h", requestedID: 2, now: 3)
        #expect(first.id == 2 && first.directives.isEmpty && c.routing == before, "no map until every new shard joined")
        let second = try c.register(role: .server, address: "s:3", pid: 4, host: "h", requestedID: 3, now: 3)
        guard case .copyForReshard(let plan)? = second.directives.first else {
            Issue.record("expected the copy, got \(second.directives)")
            return
        }
        #expect(plan.source == before && plan.target.addresses == [0: "s:0", 1: "s:1", 2: "s:2", 3: "s:3"])
        #expect(c.commitReshard() == nil, "not before the copy is done")
        c.reshardCopied()
        #expect(c.reshardReadyToSwitch)
        let committed = c.commitReshard()
        let routing = try #require(committed)
        #expect(routing == plan.target && c.routing == routing && c.shardCount == 4 && c.reshard == nil)
        #expect(c.phase == .training(epoch: 1))
        // Every shard heartbeats on as a member.
        for id in 0..<UInt32(4) { #expect(try c.heartbeat(role: .server, id: id, now: 5).stop == false) }
    }

    @Test func shrinkingCopiesAtOnceAndRetiresTheLeavingShards() throws {
        var c = try training()
        let directives = try c.beginReshard(toShards: 1, now: 2)
        guard case .copyForReshard(let plan)? = directives.first else {
            Issue.record("expected the copy at once, got \(directives)")
            return
        }
        #expect(plan.leaving == [1])
        c.reshardCopied()
        let committed = c.commitReshard()
        let routing = try #require(committed)
        #expect(routing.shardIDs == [0] && c.servers.map(\.id) == [0] && c.shardCount == 1)
        let answer = try c.heartbeat(role: .server, id: 1, now: 5)
        #expect(answer.stop && answer.reason.contains("live reshard"))
        // A retired shard that goes silent is no loss.
        _ = try c.heartbeat(role: .server, id: 0, now: 30)
        _ = try c.heartbeat(role: .worker, id: 0, now: 30)
        #expect(c.checkLiveness(now: 31, timeout: 5).isEmpty && c.phase == .training(epoch: 1))
    }

    @Test func aMemberLostMidReshardAbortsItAndKeepsTheOldMap() throws {
        var c = try training()
        let before = try #require(c.routing)
        _ = try c.beginReshard(toShards: 3, now: 2)
        _ = try c.register(role: .server, address: "s:2", pid: 3, host: "h", requestedID: 2, now: 3)
        let directives = c.memberLost(role: .server, id: 2, reason: "shard 2 died", now: 4)
        guard case .abortReshard(let reason, let plan)? = directives.first else {
            Issue.record("expected an abort, got \(directives)")
            return
        }
        #expect(reason.contains("shard 2 died") && plan != nil)
        #expect(c.reshard == nil && c.routing == before && c.shardCount == 2 && c.servers.count == 2)
        #expect(c.phase == .training(epoch: 1), "losing a joining shard costs no epoch")
        // A reshard outside training is refused.
        var idle = TrainingCoordinator(shards: 2, workers: 1, epochs: 1, batchSize: 10, ring: RingSettings())
        #expect(throws: TrainingCoordinator.Refusal.self) { _ = try idle.beginReshard(toShards: 4, now: 0) }
        // Online workers push between epochs too: no boundary is free of pushes, so it is refused.
        var online = TrainingCoordinator(shards: 2, workers: 1, onlineWorkers: 1, epochs: 4, batchSize: 10, ring: RingSettings())
        _ = try online.register(role: .server, address: "s:0", pid: 1, host: "h", requestedID: 0, now: 0)
        _ = try online.register(role: .server, address: "s:1", pid: 2, host: "h", requestedID: 1, now: 0)
        _ = try online.register(role: .worker, address: "", pid: 10, host: "h", now: 0)
        _ = try online.register(role: .onlineWorker, address: "", pid: 11, host: "h", now: 0)
        _ = online.schedulerDataReady()
        _ = online.workerLoaded(id: 0, examples: 30, now: 1)
        #expect(online.phase == .training(epoch: 1))
        let refused = #expect(throws: TrainingCoordinator.Refusal.self) { _ = try online.beginReshard(toShards: 4, now: 2) }
        #expect(refused?.message.contains("online workers") == true)
    }
}
