import Foundation
import Logging
import TesseraCore
import TesseraObservability
import TesseraRPC

/// The `tessera worker` process: trains on its data shard, epoch by epoch, as the scheduler directs.
///
/// It joins the cluster, reads its users' interactions, reports how many it
/// has, then asks for tasks. Each epoch runs the number of steps the scheduler
/// names; under BSP every step ends at a barrier, under ASP workers never wait.
/// Heartbeats run alongside: a shutdown request or a lost scheduler ends it.
public struct WorkerRole: Sendable {
    public var schedulerAddress: String
    /// The data-shard index to ask for; nil takes any free one.
    public var workerID: UInt32?
    /// Where to serve Prometheus metrics (`/metrics`); its address is sent when registering.
    public var metrics = MetricsSettings()
    /// Token and TLS for its calls (`ResolvedSecurity.fromEnvironment()` in `tessera worker`).
    public var security: ClientSecurity = .insecure

    public init(schedulerAddress: String, workerID: UInt32? = nil) {
        self.schedulerAddress = schedulerAddress
        self.workerID = workerID
    }

    public func run(logger: Logger) async throws {
        try await WorkerSession.run(role: .worker, name: "worker", schedulerAddress: schedulerAddress, workerID: workerID,
                                    metrics: metrics, security: security, logger: logger) { session, metrics, logger in
            try await Self.train(session: session, metrics: metrics, logger: logger)
        }
    }

    private static func train(session: MemberSession, metrics: WorkerMetrics, logger: Logger) async throws {
        let membership = session.membership
        let config = membership.config
        let sharding = DataSharding(index: Int(membership.memberID), count: Int(membership.memberCount))
        let routing = try await session.shardMap()
        let parameters = try session.parameterClient(routing: routing)

        let clock = ContinuousClock()
        let loadStart = clock.now
        let data = try PreparedData.load(config.data, split: config.split, keepUser: sharding.owns(user:), heldOut: false)
        var dims: [String: Int] = [:]
        for table in config.tables { dims[table.name] = table.dim }
        let model = try RetrievalModel.make(config: config, data: data)
        var trainer = model.trainer(config: config, data: data, dims: dims, seed: config.training.seed,
                                    workerID: Int(membership.memberID))
        logger.info("loaded data", metadata: [
            "examples": "\(data.train.count)", "items": "\(data.items.count)", "skipped_lines": "\(data.skippedLines)",
            "seconds": "\(String(format: "%.2f", (clock.now - loadStart).seconds))",
        ])
        var loaded = Tessera_V1_ProgressReport()
        loaded.workerID = membership.memberID
        loaded.loadedExamples = UInt64(trainer.exampleCount)
        loaded.stepsPerEpoch = UInt32(clamping: trainer.stepsPerEpoch)
        loaded.skippedLines = UInt64(data.skippedLines)
        loaded.seconds = (clock.now - loadStart).seconds
        _ = try await session.scheduler.reportProgress(loaded)

        var completedEpoch: UInt32 = 0
        var attempt: UInt32 = 0
        /// When and why the epoch in progress failed (a shard or worker died): the
        /// worker then waits for the scheduler to restart training, for a bounded time.
        var interruption: (since: ContinuousClock.Instant, error: any Error)?
        let patience = Duration.seconds(2 * config.scheduler.heartbeatTimeout + config.scheduler.registrationTimeout)
        let synchronous = config.training.consistency == .bsp
        let reportEvery = Duration.seconds(config.training.progressInterval)
        while true {
            if let interruption, clock.now - interruption.since > patience {
                throw RPCError(.unavailable, "epoch \(completedEpoch) failed (\(interruption.error)) and the scheduler did not restart training within \(patience)")
            }
            var request = Tessera_V1_TaskRequest()
            request.workerID = membership.memberID
            request.completedEpoch = completedEpoch
            request.attempt = attempt
            let task: Tessera_V1_Task
            do {
                task = try await session.scheduler.getTask(request, options: CallOptions(timeout: .seconds(interruption == nil ? 30 : 5)))
            } catch let error as RPCError where error.code == .deadlineExceeded {
                continue
            }
            switch task.kind {
            case .stop:
                logger.info("training finished", metadata: ["reason": "\(task.reason)"])
                return
            case .trainEpoch:
                break
            default:
                throw RPCError(.internal, "the scheduler sent an unknown task kind \(task.kind.rawValue)")
            }

            if interruption != nil {
                logger.info("training restarts", metadata: ["epoch": "\(task.epoch)", "attempt": "\(task.attempt)"])
                interruption = nil
            }
            attempt = task.attempt
            if task.shardMapVersion > parameters.routing.version {
                let routing = try await session.shardMap(minVersion: task.shardMapVersion)
                try parameters.update(routing: routing)
                logger.info("new shard map", metadata: ["version": "\(routing.version)"])
            }
            do {
                try await runEpoch(task, trainer: &trainer, parameters: parameters, session: session, synchronous: synchronous,
                                   reportEvery: reportEvery, metrics: metrics, logger: logger)
            } catch let error as RPCError where Self.mayBeMemberLoss(error) {
                // A shard or worker died, or the scheduler abandoned the epoch: give it up and ask
                // for the next task, which comes once the scheduler restarts training (a new attempt).
                logger.warning("epoch interrupted; waiting for the scheduler to restart training",
                               metadata: ["epoch": "\(task.epoch)", "error": "\(error)"])
                interruption = (clock.now, error)
            }
            completedEpoch = task.epoch
        }
    }

    /// Errors that a member's death causes (unreachable shard, stale shard map, aborted barrier).
    static func mayBeMemberLoss(_ error: RPCError) -> Bool {
        error.isTransient || error.code == .failedPrecondition
    }

    /// Runs the `task.steps` steps of one epoch, reporting progress.
    private static func runEpoch(_ task: Tessera_V1_Task, trainer: inout any EpochTrainer, parameters: ShardedParameterClient,
                                 session: MemberSession, synchronous: Bool, reportEvery: Duration, metrics: WorkerMetrics,
                                 logger: Logger) async throws {
        let membership = session.membership
        let clock = ContinuousClock()
        var barrierGeneration = task.barrierBase
        trainer.beginEpoch(Int(task.epoch))
        var pending = StepStats()
        var lastReport = clock.now
        let epochStart = clock.now
        for step in 0..<Int(task.steps) {
            try Task.checkCancellation()
            if let stats = try await trainer.trainStep(step, on: parameters) {
                pending.add(stats)
            }
            if synchronous {
                barrierGeneration += 1
                let waited = clock.now
                try await barrier(session: session, generation: barrierGeneration)
                pending.communicationSeconds += (clock.now - waited).seconds
            }
            let last = step == Int(task.steps) - 1
            if last || clock.now - lastReport >= reportEvery {
                var report = Tessera_V1_ProgressReport()
                report.workerID = membership.memberID
                report.epoch = task.epoch
                report.examples = UInt64(pending.examples)
                report.lossSum = pending.lossSum
                report.communicationSeconds = pending.communicationSeconds
                report.seconds = (clock.now - lastReport).seconds
                report.epochDone = last
                report.attempt = task.attempt
                _ = try await session.scheduler.reportProgress(report)
                metrics.recordProgress(epoch: Int(task.epoch), examples: pending.examples, lossSum: pending.lossSum,
                                       seconds: report.seconds, barrierSeconds: pending.communicationSeconds)
                pending = StepStats()
                lastReport = clock.now
            }
        }
        if task.steps == 0 {
            var report = Tessera_V1_ProgressReport()
            report.workerID = membership.memberID
            report.epoch = task.epoch
            report.epochDone = true
            report.attempt = task.attempt
            _ = try await session.scheduler.reportProgress(report)
        }
        logger.debug("epoch done", metadata: ["epoch": "\(task.epoch)", "seconds": "\((clock.now - epochStart).seconds)"])
    }

    private static func barrier(session: MemberSession, generation: UInt64) async throws {
        var request = Tessera_V1_BarrierRequest()
        request.name = "step"
        request.generation = generation
        request.memberID = session.membership.memberID
        while true {
            do {
                _ = try await session.scheduler.barrier(request, options: CallOptions(timeout: .seconds(30)))
                return
            } catch let error as RPCError where error.code == .deadlineExceeded {
                continue
            }
        }
    }
}
