import Testing
import TesseraCore

/// The scheduler's protocol, driven event by event without any process or socket.
@Suite struct TrainingCoordinatorTests {
    func coordinator(shards: Int = 2, workers: Int = 2, epochs: Int = 3, batch: Int = 10) -> TrainingCoordinator {
        TrainingCoordinator(shards: shards, workers: workers, epochs: epochs, batchSize: batch, ring: RingSettings())
    }

    /// Registers every member, loads data, and returns the coordinator in epoch 1.
    func started(examples: [Int] = [25, 40]) throws -> TrainingCoordinator {
        var c = coordinator(workers: examples.count)
        _ = try c.register(role: .server, address: "h:1", pid: 1, host: "h", now: 0)
        _ = try c.register(role: .server, address: "h:2", pid: 2, host: "h", now: 0)
        for (i, _) in examples.enumerated() { _ = try c.register(role: .worker, address: "", pid: Int64(10 + i), host: "h", now: 0) }
        _ = c.schedulerDataReady()
        for (i, n) in examples.enumerated() { _ = c.workerLoaded(id: UInt32(i), examples: n, now: 1) }
        return c
    }

    @Test func shardMapIsPublishedWhenTheLastShardJoins() throws {
        var c = coordinator()
        let first = try c.register(role: .server, address: "a:1", pid: 1, host: "a", now: 0)
        #expect(first.id == 0 && first.directives.isEmpty && c.routing == nil)
        let second = try c.register(role: .server, address: "b:2", pid: 2, host: "b", now: 0)
        #expect(second.id == 1)
        guard case .publishShardMap(let routing)? = second.directives.first else {
            Issue.record("expected the shard map, got \(second.directives)")
            return
        }
        #expect(routing.version == 1)
        #expect(routing.addresses == [0: "a:1", 1: "b:2"])
        #expect(c.routing == routing)
    }

    @Test func requestedIDsAreHonouredAndConflictsRefused() throws {
        var c = coordinator()
        #expect(try c.register(role: .server, address: "b:2", pid: 2, host: "b", requestedID: 1, now: 0).id == 1)
        #expect(throws: TrainingCoordinator.Refusal.self) {
            _ = try c.register(role: .server, address: "c:3", pid: 3, host: "c", requestedID: 1, now: 0)
        }
        #expect(throws: TrainingCoordinator.Refusal.self) {
            _ = try c.register(role: .server, address: "c:3", pid: 3, host: "c", requestedID: 5, now: 0)
        }
        #expect(try c.register(role: .server, address: "a:1", pid: 1, host: "a", now: 0).id == 0)
        #expect(c.routing?.addresses == [0: "a:1", 1: "b:2"])
        let full = #expect(throws: TrainingCoordinator.Refusal.self) {
            _ = try c.register(role: .server, address: "d:4", pid: 4, host: "d", now: 0)
        }
        #expect(full?.reason == .full)
    }

    @Test func trainingStartsOnlyWhenEverythingIsReady() throws {
        var c = coordinator()
        _ = try c.register(role: .server, address: "a:1", pid: 1, host: "a", now: 0)
        _ = try c.register(role: .server, address: "b:2", pid: 2, host: "b", now: 0)
        _ = try c.register(role: .worker, address: "", pid: 3, host: "a", now: 0)
        _ = try c.register(role: .worker, address: "", pid: 4, host: "a", now: 0)
        #expect(c.workerLoaded(id: 0, examples: 25, now: 1).isEmpty)
        #expect(c.workerLoaded(id: 1, examples: 40, now: 1).isEmpty)  // the scheduler's data is not ready
        #expect(c.task(afterEpoch: 0) == nil)
        // The largest shard (40 examples, batch 10) sets the steps every worker runs.
        #expect(c.schedulerDataReady() == [.startEpoch(epoch: 1, steps: 4)])
        #expect(c.phase == .training(epoch: 1))
        #expect(c.task(afterEpoch: 0) == .startEpoch(epoch: 1, steps: 4))
        #expect(c.task(afterEpoch: 1) == nil)
    }

    @Test func epochsAdvanceThroughEvaluationToTheEnd() throws {
        var c = try started()
        #expect(c.workerFinished(id: 0, epoch: 1, now: 2).isEmpty)
        #expect(c.workerFinished(id: 1, epoch: 1, now: 2) == [.evaluate(epoch: 1)])
        #expect(c.task(afterEpoch: 1) == nil)  // workers wait while the scheduler evaluates
        #expect(c.evaluationFinished(epoch: 1, stop: false) == [.startEpoch(epoch: 2, steps: 4)])
        _ = c.workerFinished(id: 0, epoch: 2, now: 3)
        _ = c.workerFinished(id: 1, epoch: 2, now: 3)
        _ = c.evaluationFinished(epoch: 2, stop: false)
        _ = c.workerFinished(id: 0, epoch: 3, now: 4)
        _ = c.workerFinished(id: 1, epoch: 3, now: 4)
        #expect(c.evaluationFinished(epoch: 3, stop: false) == [.stopWorkers(reason: "trained 3 epochs")])
        #expect(c.phase == .finished)
        #expect(c.task(afterEpoch: 3) == .stopWorkers(reason: "training finished"))
    }

    @Test func earlyStopEndsTraining() throws {
        var c = try started()
        _ = c.workerFinished(id: 0, epoch: 1, now: 2)
        _ = c.workerFinished(id: 1, epoch: 1, now: 2)
        #expect(c.evaluationFinished(epoch: 1, stop: true) == [.stopWorkers(reason: "early stop after epoch 1")])
        #expect(c.phase == .finished)
    }

    @Test func aReportForAnotherEpochIsIgnored() throws {
        var c = try started()
        #expect(c.workerFinished(id: 0, epoch: 2, now: 2).isEmpty)
        #expect(c.workerFinished(id: 0, epoch: 1, now: 2).isEmpty)
        #expect(c.workerFinished(id: 0, epoch: 1, now: 2).isEmpty)  // a duplicate counts once
        #expect(c.workerFinished(id: 1, epoch: 1, now: 2) == [.evaluate(epoch: 1)])
    }

    @Test func barrierReleasesWhenEveryWorkerArrives() throws {
        var c = try started()
        #expect(c.arrive(generation: 1, worker: 0).isEmpty)
        #expect(c.arrive(generation: 1, worker: 0).isEmpty)  // arriving twice is not two workers
        #expect(c.arrive(generation: 1, worker: 1) == [.releaseBarrier(generation: 1)])
        // A late duplicate of a released generation is released at once.
        #expect(c.arrive(generation: 1, worker: 0) == [.releaseBarrier(generation: 1)])
        #expect(c.arrive(generation: 2, worker: 1).isEmpty)
    }

    @Test func silentMemberWithoutReplacementFailsTheJobAndEveryoneIsToldToStop() throws {
        var c = try started()
        c.replacementTimeout = 5
        _ = try c.heartbeat(role: .server, id: 0, now: 9)
        _ = try c.heartbeat(role: .server, id: 1, now: 9)
        _ = try c.heartbeat(role: .worker, id: 0, now: 9)
        #expect(c.checkLiveness(now: 10, timeout: 10).isEmpty)
        // Worker 1 was last seen at 1: training waits for a replacement.
        guard case .abandonEpoch(let lost, 1)? = c.checkLiveness(now: 12, timeout: 10).first else {
            Issue.record("expected the epoch to be abandoned, got \(c.phase)")
            return
        }
        #expect(lost.contains("worker 1 (pid 11)") && c.phase == .recovering(epoch: 1))
        #expect(c.checkLiveness(now: 16, timeout: 10).isEmpty)
        let directives = c.checkLiveness(now: 18, timeout: 10)
        guard case .fail(let reason)? = directives.first else {
            Issue.record("expected a failure, got \(directives)")
            return
        }
        #expect(reason.contains("worker 1 (pid 11)") && reason.contains("no replacement for worker 1"), "\(reason)")
        #expect(directives.contains(.stopWorkers(reason: reason)))
        #expect(try c.heartbeat(role: .server, id: 0, now: 19).stop)
        #expect(c.membersNotYetStopped.map(\.name).count == 2)  // server 1 and worker 0; worker 1 left
        // The first failure wins.
        #expect(c.memberFailed(role: .worker, id: 0, message: "later").isEmpty)
    }

    @Test func aLostShardIsReplacedAndEveryShardRollsBackBeforeTheEpochRestarts() throws {
        var c = try started()
        c.lastCheckpointEpoch = 1
        _ = c.workerFinished(id: 0, epoch: 1, now: 2)
        _ = c.workerFinished(id: 1, epoch: 1, now: 2)
        _ = c.evaluationFinished(epoch: 1, stop: false)
        #expect(c.phase == .training(epoch: 2) && c.attempt == 1)
        let base = c.barrierBase
        _ = c.workerFinished(id: 0, epoch: 2, now: 3)  // worker 0 is done with epoch 2, worker 1 is not

        // The restarted shard registers with its id at a new address before heartbeats notice.
        let (id, directives) = try c.register(role: .server, address: "h:9", pid: 99, host: "h", requestedID: 1, now: 4)
        #expect(id == 1)
        guard directives.count == 3, case .abandonEpoch(let reason, 2) = directives[0],
              case .publishShardMap(let routing) = directives[1], directives[2] == .restoreShards(epoch: 1, attempt: 2) else {
            Issue.record("expected abandon, a new map and a rollback, got \(directives)")
            return
        }
        #expect(reason.contains("shard") || reason.contains("server 1"))
        #expect(routing.version == 2 && routing.addresses == [0: "h:1", 1: "h:9"])
        #expect(c.phase == .recovering(epoch: 2) && c.attempt == 2)
        // Meanwhile: barriers are refused, stale reports ignored, nobody gets a task.
        #expect(c.barrierRefusal(generation: base + 3) != nil)
        #expect(c.workerFinished(id: 1, epoch: 2, attempt: 1, now: 5).isEmpty)
        #expect(c.task(afterEpoch: 2, attempt: 1) == nil)
        // A rollback of an older attempt does not count.
        #expect(c.shardsRestored(attempt: 1, now: 5).isEmpty)
        #expect(c.shardsRestored(attempt: 2, now: 6) == [.startEpoch(epoch: 2, steps: 4)])
        #expect(c.phase == .training(epoch: 2) && c.barrierBase > base)
        // Worker 0 finished epoch 2 in attempt 1, and still gets epoch 2 of attempt 2.
        #expect(c.task(afterEpoch: 2, attempt: 1) == .startEpoch(epoch: 2, steps: 4))
        #expect(c.task(afterEpoch: 2, attempt: 2) == nil)
        #expect(c.barrierRefusal(generation: base + 1) != nil && c.barrierRefusal(generation: c.barrierBase + 1) == nil)
        let recovery = try #require(c.recoveries.first)
        #expect(recovery.interruptedEpoch == 2 && recovery.restartEpoch == 2 && recovery.resumed == 6 && recovery.detected == 4)
        _ = c.workerFinished(id: 0, epoch: 2, attempt: 2, now: 7)
        #expect(c.workerFinished(id: 1, epoch: 2, attempt: 2, now: 7) == [.evaluate(epoch: 2)])
    }

    @Test func aShardLostBeforeAnyCheckpointFailsTheJobClearly() throws {
        var c = try started()
        _ = try c.heartbeat(role: .worker, id: 0, now: 9)
        _ = try c.heartbeat(role: .worker, id: 1, now: 9)
        _ = try c.heartbeat(role: .server, id: 1, now: 9)
        guard case .fail(let reason)? = c.checkLiveness(now: 12, timeout: 10).first else {
            Issue.record("expected a failure, got \(c.phase)")
            return
        }
        #expect(reason.contains("server 0") && reason.contains("no checkpoint"), "\(reason)")
    }

    @Test func aLostWorkerRejoinsAndWithoutACheckpointItsEpochIsRedoneInPlace() throws {
        var c = try started()
        _ = c.workerFinished(id: 0, epoch: 1, now: 2)
        let lost = c.memberLost(role: .worker, id: 1, reason: "worker 1 died", now: 3)
        #expect(lost == [.abandonEpoch(reason: "worker 1 died", restartEpoch: 1)])
        // The replacement registers with the same data shard, then loads it.
        let (id, directives) = try c.register(role: .worker, address: "", pid: 50, host: "h", requestedID: 1, now: 4)
        #expect(id == 1 && directives.isEmpty && c.phase == .recovering(epoch: 1))
        #expect(c.workerLoaded(id: 1, examples: 40, now: 5) == [.startEpoch(epoch: 1, steps: 4)])
        #expect(c.attempt == 2 && c.recoveries.count == 1 && c.recoveries[0].rollsBack == false)
    }

    @Test func aSecondLossDuringRecoveryRestartsTheRollback() throws {
        var c = try started()
        c.lastCheckpointEpoch = 0
        _ = c.memberLost(role: .server, id: 0, reason: "shard 0 died", now: 3)
        _ = try c.register(role: .server, address: "h:7", pid: 70, host: "h", requestedID: 0, now: 4)
        #expect(c.attempt == 2)
        // Before the rollback ends, a worker dies too.
        _ = c.memberLost(role: .worker, id: 0, reason: "worker 0 died", now: 5)
        #expect(c.attempt == 3 && c.shardsRestored(attempt: 2, now: 6).isEmpty)
        _ = try c.register(role: .worker, address: "", pid: 80, host: "h", requestedID: 0, now: 6)
        #expect(c.workerLoaded(id: 0, examples: 25, now: 7) == [.restoreShards(epoch: 0, attempt: 3)])
        #expect(c.shardsRestored(attempt: 3, now: 8) == [.startEpoch(epoch: 1, steps: 4)])
        #expect(c.recoveries.first?.lost.count == 2)
    }

    @Test func serversKeepServingAfterTrainingWhileWorkersStop() throws {
        var c = try started(examples: [5])
        _ = c.workerFinished(id: 0, epoch: 1, now: 2)
        _ = c.evaluationFinished(epoch: 1, stop: true)
        #expect(try c.heartbeat(role: .server, id: 0, now: 3).stop == false)
        #expect(try c.heartbeat(role: .worker, id: 0, now: 3).stop == true)
        _ = c.stop(reason: "bye")
        #expect(try c.heartbeat(role: .server, id: 0, now: 4) == (true, "stopping"))
    }

    @Test func registrationDeadlineFailsAnIncompleteCluster() throws {
        var c = coordinator()
        _ = try c.register(role: .server, address: "a:1", pid: 1, host: "a", now: 0)
        #expect(c.checkRegistration(now: 5, deadline: 10).isEmpty)
        let directives = c.checkRegistration(now: 11, deadline: 10)
        guard case .fail(let reason)? = directives.first else {
            Issue.record("expected a failure")
            return
        }
        #expect(reason.contains("1 of 2 shards"))
        #expect(throws: TrainingCoordinator.Refusal.self) {
            _ = try c.register(role: .server, address: "b:2", pid: 2, host: "b", now: 12)
        }
    }

    @Test func unknownMemberHeartbeatIsRefused() {
        var c = coordinator()
        let refusal = #expect(throws: TrainingCoordinator.Refusal.self) { _ = try c.heartbeat(role: .worker, id: 3, now: 0) }
        #expect(refusal?.reason == .unknownMember)
    }

    @Test func noTrainingDataFailsClearly() throws {
        var c = coordinator(workers: 1)
        _ = try c.register(role: .server, address: "a:1", pid: 1, host: "a", now: 0)
        _ = try c.register(role: .server, address: "b:2", pid: 2, host: "b", now: 0)
        _ = try c.register(role: .worker, address: "", pid: 3, host: "a", now: 0)
        _ = c.schedulerDataReady()
        let directives = c.workerLoaded(id: 0, examples: 0, now: 1)
        #expect(directives.first == .fail(reason: "no worker has any training examples; check the data settings"))
    }
}

extension TrainingCoordinatorTests {
    @Test func aRestartedOnlineWorkerTakesOverItsID() throws {
        var c = TrainingCoordinator(shards: 1, workers: 1, onlineWorkers: 1, epochs: 1, batchSize: 10, ring: RingSettings())
        _ = try c.register(role: .onlineWorker, address: "", pid: 5, host: "h", requestedID: 0, now: 0)
        _ = try c.register(role: .worker, address: "", pid: 7, host: "h", requestedID: 0, now: 1)
        let again = try c.register(role: .onlineWorker, address: "", pid: 6, host: "h", requestedID: 0, now: 1)
        #expect(again.id == 0)
        #expect(c.onlineWorkers.map(\.pid) == [6])
        // It may rejoin after offline training too, while the cluster serves.
        _ = try c.register(role: .server, address: "a:1", pid: 1, host: "a", now: 0)
        _ = c.schedulerDataReady()
        _ = c.workerLoaded(id: 0, examples: 5, now: 1)
        _ = c.workerFinished(id: 0, epoch: 1, now: 2)
        _ = c.evaluationFinished(epoch: 1, stop: false)
        #expect(c.phase == .finished)
        #expect(try c.register(role: .onlineWorker, address: "", pid: 9, host: "h", requestedID: 0, now: 3).id == 0)
        // Other roles keep their ids exclusive.
        #expect(throws: TrainingCoordinator.Refusal.self) {
            _ = try c.register(role: .worker, address: "", pid: 8, host: "h", requestedID: 0, now: 4)
        }
    }

    @Test func restoredJobServesWithTheRecordedMembers() throws {
        var c = coordinator()
        _ = try c.register(role: .server, address: "a:1", pid: 1, host: "a", now: 0)
        _ = try c.register(role: .server, address: "b:2", pid: 2, host: "b", now: 0)
        let routing = try #require(c.routing)
        var restored = coordinator()
        restored.restore(servers: c.servers, onlineWorkers: [], routing: routing, now: 50)
        #expect(restored.phase == .finished)
        #expect(restored.routing == routing)
        #expect(try restored.heartbeat(role: .server, id: 1, now: 51).stop == false)
        #expect(restored.checkLiveness(now: 52, timeout: 10).isEmpty)
    }
}
