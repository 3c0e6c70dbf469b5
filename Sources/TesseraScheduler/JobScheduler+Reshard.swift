import Foundation
import TesseraCore
import TesseraRPC

/// Live resharding: `Reshard` starts it, new shards join (the launcher starts
/// them), the old owners copy the moving rows while training goes on (and
/// forward every acknowledged change to a moving key), and at the next epoch
/// boundary — no push in flight — every shard commits and the new map is
/// published; workers take it with their next task. The pause is the commit
/// and publication, measured from holding the boundary to releasing it.
extension JobScheduler {
    public func reshard(_ request: Tessera_V1_ReshardRequest, context: ServerContext) async throws -> Tessera_V1_ReshardResponse {
        guard reshardWaiter == nil else {
            throw RPCError(.failedPrecondition, "a live reshard is already under way; wait for it to finish")
        }
        let from = coordinator.shardCount, to = Int(request.targetShards)
        let directives: [TrainingCoordinator.Directive]
        do {
            directives = try coordinator.beginReshard(toShards: to, now: now)
        } catch {
            throw RPCError(error.reason == .outOfRange ? .invalidArgument : .failedPrecondition, error.message)
        }
        reshardSerial += 1
        let serial = reshardSerial
        reshardResult = Tessera_V1_ReshardResponse()
        reshardResult.fromShards = UInt32(from)
        reshardResult.toShards = UInt32(to)
        reshardResult.idealFraction = ReshardPlan.idealMovedFraction(from: from, to: to)
        console.line("reshard: live from \(from) to \(to) shards" + (to > from ? "; waiting for shards \(from)...\(to - 1) to join" : ""))
        logger.info("live reshard requested", metadata: ["from": "\(from)", "to": "\(to)"])
        let timeout = request.timeoutSeconds > 0 ? request.timeoutSeconds : 600
        return try await withCheckedThrowingContinuation { continuation in
            reshardWaiter = continuation
            apply(directives)
            Task {
                try? await Task.sleep(for: .seconds(timeout))
                await self.expireReshard(serial: serial, after: timeout)
            }
        }
    }

    private func expireReshard(serial: Int, after seconds: Double) {
        guard serial == reshardSerial, reshardWaiter != nil, coordinator.reshard != nil else { return }
        apply(coordinator.abortReshard(reason: "the reshard did not finish within \(Int(seconds)) s (new shards joining, copying, or the next epoch boundary)"))
    }

    /// Clients of every shard taking part in `plan`.
    private func migrationClients(_ plan: ReshardPlan) throws -> [UInt32: ParameterServerClient] {
        var clients: [UInt32: ParameterServerClient] = [:]
        for id in plan.participants {
            guard let address = plan.target.addresses[id] ?? plan.source.addresses[id] else { continue }
            clients[id] = ParameterServerClient(channel: try GRPCChannel(target: address, security: security))
        }
        return clients
    }

    /// Calls `phase` on the shards `ids` at once; answers by shard id, or throws naming the first shard that failed.
    private func migrate(_ phase: Tessera_V1_MigratePhase, plan: ReshardPlan, on ids: [UInt32],
                         clients: [UInt32: ParameterServerClient], timeout: Duration) async throws -> [UInt32: Tessera_V1_MigrateResponse] {
        var request = Tessera_V1_MigrateRequest()
        request.phase = phase
        request.setTarget(plan.target)
        let sent = request
        return try await withThrowingTaskGroup(of: (UInt32, Tessera_V1_MigrateResponse).self) { group in
            for id in ids {
                guard let client = clients[id] else { continue }
                group.addTask {
                    // A shard that just joined answers UNAVAILABLE until its tables exist: wait for it (up to ~15 s).
                    var attempt = 0
                    while true {
                        do {
                            return (id, try await client.migrate(sent, options: CallOptions(timeout: timeout)))
                        } catch let error as RPCError where error.code == .unavailable && phase == .prepare && attempt < 60 {
                            attempt += 1
                            try await Task.sleep(for: .milliseconds(250))
                        } catch {
                            throw RPCError((error as? RPCError)?.code ?? .internal, "\(phase) on shard \(id): \(error)", cause: error)
                        }
                    }
                }
            }
            var answers: [UInt32: Tessera_V1_MigrateResponse] = [:]
            for try await (id, answer) in group { answers[id] = answer }
            return answers
        }
    }

    /// Prepares every shard, then has the old owners copy the moving rows.
    func copyForReshard(_ plan: ReshardPlan) async {
        do {
            let clients = try migrationClients(plan)
            _ = try await migrate(.prepare, plan: plan, on: plan.participants, clients: clients, timeout: .seconds(30))
            let start = clock.now
            console.line("reshard: \(plan.target.shardIDs.count) shards ready; copying rows to their new owners while training goes on")
            let answers = try await migrate(.copy, plan: plan, on: plan.source.shardIDs, clients: clients, timeout: .seconds(3600))
            guard coordinator.reshard?.plan == plan else { return }
            let seconds = (clock.now - start).seconds
            let rows = answers.values.reduce(UInt64(0)) { $0 + $1.rows }
            let bytes = answers.values.reduce(UInt64(0)) { $0 + $1.bytes }
            let held = answers.values.reduce(UInt64(0)) { $0 + $1.rowsBefore }
            reshardResult.movedRows = rows
            reshardResult.totalRows = held
            reshardResult.copySeconds = seconds
            reshardResult.rowsPerSecond = seconds > 0 ? Double(rows) / seconds : 0
            coordinator.reshardCopied()
            console.line(String(format: "reshard: copied %@ of %@ rows (%@) in %@ (%@ rows/s); old owners forward every change to a moving row until the switch at the next epoch boundary",
                                Format.count(Double(rows)), Format.count(Double(held)), Format.bytes(Double(bytes)), Format.seconds(seconds),
                                Format.count(reshardResult.rowsPerSecond)))
            switch coordinator.phase {
            case .training, .evaluating, .recovering: break
            default:
                // Training is over: no epoch boundary will come, and no worker pushes any more.
                try await switchReshardIfDue(epoch: nil)
            }
        } catch {
            guard coordinator.reshard?.plan == plan else { return }
            apply(coordinator.abortReshard(reason: "copying rows to their new owners failed: \(error)"))
        }
    }

    /// At an epoch boundary (no push in flight): switches a copied reshard to its target map.
    func switchReshardIfDue(epoch: Int?) async throws {
        guard coordinator.reshardReadyToSwitch, let plan = coordinator.reshard?.plan else { return }
        let held = clock.now
        let clients = try migrationClients(plan)
        var answers: [UInt32: Tessera_V1_MigrateResponse] = [:]
        var failure: (any Error)?
        for attempt in 1...3 {
            do {
                // COMMIT is idempotent: a shard that already switched answers again.
                answers = try await migrate(.commit, plan: plan, on: plan.participants, clients: clients, timeout: .seconds(30))
                failure = nil
                break
            } catch {
                failure = error
                if attempt < 3 { try? await Task.sleep(for: .milliseconds(200)) }
            }
        }
        if let failure {
            // Some shards may have switched and dropped moved rows: the old map no longer holds every row.
            let reason = "the live reshard could not switch every shard to shard map version \(plan.target.version): \(failure)"
            reshardWaiter?.resume(throwing: RPCError(.internal, reason))
            reshardWaiter = nil
            apply(coordinator.fail(reason))
            return
        }
        guard let routing = coordinator.commitReshard() else { return }
        apply([.publishShardMap(routing)])
        let pause = (clock.now - held).seconds
        // Checkpoints of the old layout cannot roll this one back; the next checkpoint is full.
        checkpointsTaken = 0
        rollbackTarget = nil
        coordinator.lastCheckpointEpoch = nil
        let sumBefore = answers.values.reduce(UInt64(0)) { $0 &+ $1.checksumBefore }
        let sumAfter = answers.values.reduce(UInt64(0)) { $0 &+ $1.checksumAfter }
        let rowsBefore = answers.values.reduce(UInt64(0)) { $0 + $1.rowsBefore }
        let rowsAfter = answers.values.reduce(UInt64(0)) { $0 + $1.heldRows }
        reshardResult.checksumBefore = sumBefore
        reshardResult.checksumAfter = sumAfter
        reshardResult.rowsBefore = rowsBefore
        reshardResult.rowsAfter = rowsAfter
        reshardResult.pauseSeconds = pause
        reshardResult.shardMapVersion = routing.version
        let fraction = reshardResult.totalRows > 0 ? Double(reshardResult.movedRows) / Double(reshardResult.totalRows) : 0
        let when = epoch.map { "at the end of epoch \($0)" } ?? "after training"
        console.line(String(format: "reshard: switched from %d to %d shards %@ (shard map version %llu): moved %.3f of the rows (ideal %.3f), paused training %.1f ms; rows %llu before, %llu after, checksums %@",
                            Int(reshardResult.fromShards), Int(reshardResult.toShards), when, routing.version, fraction,
                            reshardResult.idealFraction, pause * 1000, rowsBefore, rowsAfter,
                            sumBefore == sumAfter && rowsBefore == rowsAfter ? "equal before and after" : "DIFFER (\(String(sumBefore, radix: 16)) before, \(String(sumAfter, radix: 16)) after)"))
        logger.info("live reshard switched", metadata: ["to": "\(routing.shardIDs.count)", "pause_ms": "\(pause * 1000)",
                                                        "moved_rows": "\(reshardResult.movedRows)"])
        reshardWaiter?.resume(returning: reshardResult)
        reshardWaiter = nil
    }

    /// The reshard was given up: shards stop forwarding and drop what they received; the caller hears why.
    func reshardAborted(reason: String, plan: ReshardPlan?) {
        console.line("reshard: given up: \(reason)")
        logger.warning("live reshard given up", metadata: ["reason": "\(reason)"])
        reshardWaiter?.resume(throwing: RPCError(.aborted, "live reshard given up: \(reason)"))
        reshardWaiter = nil
        guard let plan else { return }
        Task {
            guard let clients = try? self.migrationClients(plan) else { return }
            _ = try? await self.migrate(.abort, plan: plan, on: plan.participants, clients: clients, timeout: .seconds(10))
        }
    }
}
