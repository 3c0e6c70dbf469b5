import Testing
import TesseraCore

/// Followers in the scheduler's protocol: they join before the first map, appear in it,
/// and take over a dead leader's shard with no rollback.
@Suite struct ReplicationCoordinatorTests {
    /// 2 shards with followers, 2 workers, checkpoints after epoch 1, training epoch 2.
    func training() throws -> TrainingCoordinator {
        var c = TrainingCoordinator(shards: 2, workers: 2, followers: 1, epochs: 4, batchSize: 10, ring: RingSettings())
        _ = try c.register(role: .server, address: "s:0", pid: 1, host: "h", requestedID: 0, now: 0)
        _ = try c.register(role: .server, address: "s:1", pid: 2, host: "h", requestedID: 1, now: 0)
        #expect(c.routing == nil, "the map waits for the followers")
        _ = try c.register(role: .follower, address: "f:0", pid: 3, host: "h", requestedID: 0, now: 0)
        let last = try c.register(role: .follower, address: "f:1", pid: 4, host: "h", requestedID: 1, now: 0)
        guard case .publishShardMap(let routing)? = last.directives.first else {
            Issue.record("expected the shard map, got \(last.directives)")
            return c
        }
        #expect(routing.addresses == [0: "s:0", 1: "s:1"] && routing.followers == [0: "f:0", 1: "f:1"])
        for worker in 0..<2 { _ = try c.register(role: .worker, address: "", pid: Int64(10 + worker), host: "h", now: 0) }
        _ = c.schedulerDataReady()
        _ = c.workerLoaded(id: 0, examples: 30, now: 1)
        _ = c.workerLoaded(id: 1, examples: 30, now: 1)
        c.lastCheckpointEpoch = 1
        _ = c.workerFinished(id: 0, epoch: 1, now: 2)
        _ = c.workerFinished(id: 1, epoch: 1, now: 2)
        _ = c.evaluationFinished(epoch: 1, stop: false)
        #expect(c.phase == .training(epoch: 2))
        return c
    }

    @Test func aDeadLeaderIsReplacedByItsFollowerWithoutRollback() throws {
        var c = try training()
        let before = try #require(c.routing)
        for member in c.servers + c.followers + c.workers where member.address != "s:1" {
            _ = try c.heartbeat(role: member.role, id: member.id, now: 9)
        }
        let directives = c.checkLiveness(now: 10, timeout: 5)
        guard case .promoteFollower(let shard, let address, let routing, _)? = directives.first, directives.count == 1 else {
            Issue.record("expected a promotion, got \(directives)")
            return
        }
        #expect(shard == 1 && address == "f:1")
        #expect(routing.version == before.version + 1 && routing.addresses == [0: "s:0", 1: "f:1"])
        #expect(routing.followers == [0: "f:0"], "the promoted follower's shard has no follower now")
        #expect(routing.placesKeysLike(before))
        #expect(c.phase == .training(epoch: 2) && c.attempt == 1 && c.recovery == nil)
        #expect(c.servers.first { $0.id == 1 }?.pid == 4)
        // The promoted process still heartbeats as a follower; that counts for shard 1.
        #expect(try c.heartbeat(role: .follower, id: 1, now: 11).stop == false)
        #expect(c.servers.first { $0.id == 1 }?.lastSeen == 11)
        c.promotionFinished(shard: 1, now: 11.5)
        #expect(c.promotions.first?.serving == 11.5 && c.promotions.first?.lastSeen == 0)
    }

    @Test func aFollowerOutOfSyncIsNotPromotedAndTheOldRecoveryRuns() throws {
        var c = try training()
        c.followerLost(shard: 1)
        #expect(!c.followersInSync.contains(1) && c.followersInSync.contains(0))
        let directives = c.memberLost(role: .server, id: 1, reason: "killed", now: 10)
        guard case .abandonEpoch(_, let restart)? = directives.first else {
            Issue.record("expected the rollback path, got \(directives)")
            return
        }
        #expect(restart == 2 && c.attempt == 2 && c.promotions.isEmpty)
    }

    @Test func aSilentFollowerIsDroppedAndTheJobGoesOn() throws {
        var c = try training()
        for member in c.servers + c.workers { _ = try c.heartbeat(role: member.role, id: member.id, now: 9) }
        _ = try c.heartbeat(role: .follower, id: 1, now: 9)
        #expect(c.checkLiveness(now: 10, timeout: 5).isEmpty)
        #expect(c.followers.map(\.id) == [1] && c.followersInSync == [1])
        #expect(c.phase == .training(epoch: 2))
    }

    @Test func followersJoinOnlyBeforeTheFirstMapAndOnlyWithReplication() throws {
        var c = try training()
        let late = #expect(throws: TrainingCoordinator.Refusal.self) {
            _ = try c.register(role: .follower, address: "f:9", pid: 9, host: "h", requestedID: 0, now: 5)
        }
        #expect(late?.reason == .full || late?.reason == .tooLate)
        var plain = TrainingCoordinator(shards: 1, workers: 1, epochs: 1, batchSize: 10, ring: RingSettings())
        let none = #expect(throws: TrainingCoordinator.Refusal.self) {
            _ = try plain.register(role: .follower, address: "f:0", pid: 3, host: "h", requestedID: 0, now: 0)
        }
        #expect(none?.message.contains("replication.followers") == true)
        var fresh = TrainingCoordinator(shards: 1, workers: 1, followers: 1, epochs: 1, batchSize: 10, ring: RingSettings())
        let unnamed = #expect(throws: TrainingCoordinator.Refusal.self) {
            _ = try fresh.register(role: .follower, address: "f:0", pid: 3, host: "h", now: 0)
        }
        #expect(unnamed?.message.contains("name the shard") == true)
    }

    @Test func afterTrainingAReportedDeadLeaderIsStillReplaced() throws {
        var c = try training()
        for epoch in 2...4 {
            _ = c.workerFinished(id: 0, epoch: epoch, now: 3)
            _ = c.workerFinished(id: 1, epoch: epoch, now: 3)
            _ = c.evaluationFinished(epoch: epoch, stop: false)
        }
        #expect(c.phase == .finished)
        let directives = c.memberLost(role: .server, id: 0, reason: "server 0 exited (seen by the launcher)", now: 20)
        guard case .promoteFollower(0, "f:0", let routing, _)? = directives.first else {
            Issue.record("expected a promotion, got \(directives)")
            return
        }
        #expect(routing.addresses[0] == "f:0" && c.phase == .finished)
        // Without a follower left for that shard, a second death changes nothing after training (as before).
        #expect(c.memberLost(role: .server, id: 0, reason: "again", now: 21).isEmpty)
    }
}
