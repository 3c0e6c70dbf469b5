import Foundation
import Logging
import TesseraCore
import TesseraRPC

/// The scheduler: the actor that carries out `TrainingCoordinator`'s
/// directives — long-polls, barriers, evaluation, serving — and answers
/// `tessera.v1.Scheduler`.
public actor JobScheduler: SchedulerService {
    /// Files a run writes at the end of training.
    public struct Outputs: Sendable {
        /// `--summary`: metrics, throughput and timings as JSON.
        public var summaryPath: String?
        /// `--export-recs`: every test user's top-K as `user rank item score` lines.
        public var recommendationsPath: String?

        public init(summaryPath: String? = nil, recommendationsPath: String? = nil) {
            self.summaryPath = summaryPath
            self.recommendationsPath = recommendationsPath
        }
    }

    /// The best model so far, with every vector an evaluation needs.
    private struct Snapshot: Sendable {
        var epoch: Int
        /// Item vectors in `data.items` order.
        var itemVectors: [Float]
        /// Query vectors per evaluation part, one row per row of the part's set.
        var queries: [String: [Float]]
    }

    public let config: ClusterConfig
    public let runID: String
    /// Recommend, Score and Feedback.
    public let inference: OnlineServing
    /// The durable feedback log and the online workers' progress.
    public let feedback: FeedbackHub
    private let configJSON: Data
    private let outputs: Outputs
    let console: Console
    let logger: Logger
    let clock = ContinuousClock()
    private let started: ContinuousClock.Instant

    var coordinator: TrainingCoordinator
    private var mapWaiters = Waitlist<Int, ShardRouting>()
    private var barrierWaiters = Waitlist<UInt64, UInt64>()
    private var taskWaiters = Waitlist<UInt32, Tessera_V1_Task>()
    var parameters: ShardedParameterClient?
    /// Token and TLS of the scheduler's calls to shards.
    let security: ClientSecurity
    private let stateDirectory: String
    private var epochsTrained = 0
    private var context: Task<EvaluationContext, Error>?
    private var loadedContext: EvaluationContext?
    private var servingStarted = false
    private var modelPrepared = false

    private(set) var summary = RunSummary()
    /// Members' metrics addresses (JobScheduler+Observability.swift).
    var observed = ObservedMembers()
    private var epochExamples = 0
    private var epochLoss = 0.0
    private var epochCommunication = 0.0
    private var epochStarted: ContinuousClock.Instant?
    private var lastProgressLine: ContinuousClock.Instant?
    private var lastEpochSeconds = 0.0
    private var best: Snapshot?
    private var bestScore = -Double.infinity
    private var latestEvaluation: Tessera_V1_Evaluation?
    private var bestEvaluation: Tessera_V1_Evaluation?
    private var testEvaluation: Tessera_V1_Evaluation?
    private var sampleUser = ""
    /// The test evaluation, exports and summary after training are done.
    private var finalReportDone = false
    private var exitCode: Int32?
    private var exitWaiters: [CheckedContinuation<Int32, Never>] = []
    /// Where shard checkpoints and job.json go (nil: no checkpoints).
    private let checkpointRoot: String?
    var checkpointsTaken = 0
    /// `tessera checkpoint` calls waiting for the next epoch boundary.
    private var checkpointWaiters: [UInt64: CheckedContinuation<Tessera_V1_CheckpointJobResponse, Error>] = [:]
    private var nextCheckpointWaiter: UInt64 = 0
    private var lastCheckpoint: Tessera_V1_CheckpointJobResponse?
    /// The newest complete checkpoint, which recovery rolls every shard back to.
    var rollbackTarget: (root: String, record: JobCheckpoint)?
    /// The `tessera reshard` call waiting for the live reshard under way, its serial, and its figures so far.
    var reshardWaiter: CheckedContinuation<Tessera_V1_ReshardResponse, Error>?
    var reshardSerial = 0
    var reshardResult = Tessera_V1_ReshardResponse()
    /// Whether the epoch of the latest `startEpoch` has ended (its evaluation began).
    private var epochEnded = false
    /// Epochs of work the recovery under way redoes (nil when none is under way).
    private var redoneThisRecovery: Double?

    /// - Parameters:
    ///   - stateDirectory: where the feedback log, consumer states and job state live (kept across restarts).
    ///   - recover: continue the job recorded in `stateDirectory` (same run id, members and shard map):
    ///     serving and online learning resume; offline training is not repeated.
    ///   - checkpointRoot: where checkpoints go (periodic ones per `checkpoint.every_epochs`, and `tessera checkpoint`).
    ///   - resumed: the checkpoint the shards restored (`tessera launch --resume`): training continues after its epoch.
    ///   - resumedRoot: where `resumed` lives (recovery rolls back to it until this run checkpoints).
    public init(config: ClusterConfig, stateDirectory: String, recover: Bool = false, outputs: Outputs = Outputs(),
                checkpointRoot: String? = nil, resumed: JobCheckpoint? = nil, resumedRoot: String? = nil,
                console: Console = Console(), logger: Logger, security: ClientSecurity = .insecure) throws {
        self.config = config
        self.checkpointRoot = checkpointRoot
        self.security = security
        self.outputs = outputs
        self.console = console
        self.logger = logger
        self.started = clock.now
        self.stateDirectory = stateDirectory
        let recorded: JobState? = recover ? try DurableState(path: JobState.path(in: stateDirectory)).load(JobState.self) : nil
        if recover && recorded == nil {
            throw RPCError(.failedPrecondition, "--recover: no job is recorded in \(stateDirectory) (job.json is missing)")
        }
        runID = recorded?.runID ?? "\(config.name)-\(UInt64(Date().timeIntervalSince1970))-\(UInt32.random(in: 0...UInt32.max))"
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        configJSON = try encoder.encode(config)
        coordinator = TrainingCoordinator(config: config)
        if let resumed {
            coordinator.firstEpoch = resumed.epoch + 1
            epochsTrained = resumed.epoch
            if let resumedRoot {
                coordinator.lastCheckpointEpoch = resumed.epoch
                rollbackTarget = (resumedRoot, resumed)
            }
        }
        feedback = try FeedbackHub(directory: stateDirectory, onlineWorkers: config.online.workers, fsync: config.online.fsync)
        inference = try OnlineServing(config: config, hub: feedback, logger: logger)
        if let recorded {
            coordinator.restore(servers: recorded.servers, onlineWorkers: recorded.onlineWorkers, routing: recorded.routing, now: 0)
            parameters = try ShardedParameterClient(routing: recorded.routing, security: security)
            epochsTrained = recorded.epochsTrained
            inference.setModelVersion(UInt64(recorded.epochsTrained))
            finalReportDone = true
            summary.state = "recovered"
            console.line("recovered run \(runID) from \(stateDirectory): \(recorded.servers.count) shards, \(recorded.onlineWorkers.count) online workers, \(recorded.epochsTrained) epochs trained\(recorded.trainingFinished ? "" : " (offline training had not finished; it is not resumed)")")
        }
        if let resumed {
            console.line("resuming from the checkpoint of epoch \(resumed.epoch) (run \(resumed.runID), \(resumed.shards) shards): training continues at epoch \(resumed.epoch + 1)")
        }
        summary.job = config.name
        summary.runID = runID
        let userTable = config.table(named: config.model.userTable)
        summary.cluster = .init(shards: config.shards, workers: config.workers, consistency: config.training.consistency.rawValue,
                                model: config.model.kind.rawValue, dim: userTable?.dim ?? 0,
                                optimizer: userTable?.optimizer.name ?? "", batchSize: config.training.batchSize)
    }

    /// Starts loading data and watching members. Call once, after the server listens.
    public func start() {
        let config = self.config
        let loadStart = clock.now
        let loading = Task.detached { () throws -> EvaluationContext in
            let data = try PreparedData.load(config.data, split: config.split)
            return try EvaluationContext(data: data, config: config)
        }
        context = loading
        Task {
            do {
                let context = try await loading.value
                self.dataLoaded(context, seconds: (ContinuousClock.now - loadStart).seconds)
            } catch {
                self.apply(self.coordinator.fail("cannot load the data: \(error)"))
            }
        }
        Task { await self.watch() }
    }

    /// Waits until the scheduler should exit; returns the exit status.
    public func waitForExit() async -> Int32 {
        if let exitCode { return exitCode }
        return await withCheckedContinuation { exitWaiters.append($0) }
    }

    var now: Double { (clock.now - started).seconds }

    // MARK: SchedulerService

    public func register(_ request: Tessera_V1_RegisterRequest, context: ServerContext) async throws -> Tessera_V1_RegisterResponse {
        let role = try Self.role(request.role)
        if (role == .server || role == .follower) && request.address.isEmpty {
            throw RPCError(.invalidArgument, "address: a server must say where it serves")
        }
        let (id, directives): (UInt32, [TrainingCoordinator.Directive])
        do {
            (id, directives) = try coordinator.register(role: role, address: request.address, pid: request.pid,
                                                        host: request.hostname,
                                                        requestedID: request.hasRequestedID ? request.requestedID : nil, now: now)
        } catch {
            let code: RPCStatusCode = switch error.reason {
            case .full: .alreadyExists
            case .outOfRange: .invalidArgument
            default: .failedPrecondition
            }
            if role == .follower { logger.warning("follower refused", metadata: ["reason": "\(error.message)"]) }
            throw RPCError(code, error.message)
        }
        logger.info("member joined", metadata: ["role": "\(role.rawValue)", "id": "\(id)", "pid": "\(request.pid)",
                                                 "address": "\(request.address)", "metrics_address": "\(request.metricsAddress)"])
        recordMetricsAddress(request.metricsAddress, role: role, id: id)
        var response = Tessera_V1_RegisterResponse()
        response.memberID = id
        response.memberCount = UInt32(coordinatorCapacity(role))
        response.clusterConfigJson = configJSON
        response.runID = runID
        apply(directives)
        if role == .onlineWorker { saveJobState() }
        return response
    }

    public func heartbeat(_ request: Tessera_V1_HeartbeatRequest, context: ServerContext) async throws -> Tessera_V1_HeartbeatResponse {
        guard request.runID == runID else {
            throw RPCError(.failedPrecondition, "run_id: '\(request.runID)' is not this scheduler's run ('\(runID)'); register again")
        }
        let role = try Self.role(request.role)
        do {
            let answer = try coordinator.heartbeat(role: role, id: request.memberID, now: now)
            var response = Tessera_V1_HeartbeatResponse()
            response.shutdown = answer.stop
            response.reason = answer.reason
            response.shardMapVersion = coordinator.routing?.version ?? 0
            return response
        } catch {
            throw RPCError(.failedPrecondition, error.message)
        }
    }

    public func getShardMap(_ request: Tessera_V1_ShardMapRequest, context: ServerContext) async throws -> Tessera_V1_ShardMap {
        if let routing = coordinator.routing, routing.version >= request.minVersion {
            return routing.message
        }
        let budget = context.waitBudget()
        let routing = try await withCheckedThrowingContinuation { continuation in
            let id = mapWaiters.park(0, continuation)
            mapWaiters.setTimer(expire(after: budget) { $0.mapWaiters.expire(id: id) }, for: id)
        }
        return routing.message
    }

    public func barrier(_ request: Tessera_V1_BarrierRequest, context: ServerContext) async throws -> Tessera_V1_BarrierResponse {
        guard !coordinator.isOver else { throw RPCError(.aborted, "the job is over (\(coordinator.phaseDescription))") }
        if let refusal = coordinator.barrierRefusal(generation: request.generation) { throw RPCError(.aborted, refusal) }
        let directives = coordinator.arrive(generation: request.generation, worker: request.memberID)
        var response = Tessera_V1_BarrierResponse()
        response.generation = request.generation
        if directives.contains(.releaseBarrier(generation: request.generation)) {
            apply(directives)
            return response
        }
        let budget = context.waitBudget()
        _ = try await withCheckedThrowingContinuation { continuation in
            let id = barrierWaiters.park(request.generation, continuation)
            barrierWaiters.setTimer(expire(after: budget) { $0.barrierWaiters.expire(id: id) }, for: id)
        }
        return response
    }

    public func getTask(_ request: Tessera_V1_TaskRequest, context: ServerContext) async throws -> Tessera_V1_Task {
        if let directive = coordinator.task(afterEpoch: Int(request.completedEpoch), attempt: Int(request.attempt)) {
            return task(for: directive, worker: request.workerID)
        }
        let budget = context.waitBudget()
        return try await withCheckedThrowingContinuation { continuation in
            let id = taskWaiters.park(request.workerID, continuation)
            taskWaiters.setTimer(expire(after: budget) { $0.taskWaiters.expire(id: id) }, for: id)
        }
    }

    public func reportProgress(_ request: Tessera_V1_ProgressReport, context: ServerContext) async throws -> Tessera_V1_ProgressAck {
        if request.epoch == 0 {
            if request.skippedLines > 0 {
                console.line("worker \(request.workerID): skipped \(request.skippedLines) malformed lines (on_bad_line: skip)")
            }
            apply(coordinator.workerLoaded(id: request.workerID, examples: Int(request.loadedExamples),
                                           steps: request.stepsPerEpoch > 0 ? Int(request.stepsPerEpoch) : nil, now: now))
            return Tessera_V1_ProgressAck()
        }
        guard case .training(let epoch) = coordinator.phase, epoch == Int(request.epoch),
              request.attempt == 0 || Int(request.attempt) == coordinator.attempt else {
            return Tessera_V1_ProgressAck()
        }
        epochExamples += Int(request.examples)
        epochLoss += request.lossSum
        epochCommunication += request.communicationSeconds
        printProgressIfDue(epoch: epoch)
        if request.epochDone {
            apply(coordinator.workerFinished(id: request.workerID, epoch: epoch, attempt: Int(request.attempt), now: now))
        }
        return Tessera_V1_ProgressAck()
    }

    public func reportFailure(_ request: Tessera_V1_FailureReport, context: ServerContext) async throws -> Tessera_V1_FailureAck {
        let role = try Self.role(request.role)
        if role == .follower {
            // A leader lost its follower: that shard goes on alone and its follower is never promoted.
            if coordinator.followersInSync.contains(request.memberID) {
                console.line("replication: the follower of shard \(request.memberID) is out of sync; shard \(request.memberID) goes on without replication (\(request.message))")
                logger.warning("follower lost", metadata: ["shard": "\(request.memberID)", "reason": "\(request.message)"])
            }
            coordinator.followerLost(shard: request.memberID)
            return Tessera_V1_FailureAck()
        }
        if role == .server, coordinator.followersInSync.contains(request.memberID) {
            // A leader that cannot go on (or the launcher, which saw it exit): its follower takes over at once.
            apply(coordinator.memberLost(role: .server, id: request.memberID, reason: request.message, now: now))
            return Tessera_V1_FailureAck()
        }
        apply(coordinator.memberFailed(role: role, id: request.memberID, message: request.message))
        return Tessera_V1_FailureAck()
    }

    public func getJobStatus(_ request: Tessera_V1_JobStatusRequest, context: ServerContext) async throws -> Tessera_V1_JobStatus {
        var status = Tessera_V1_JobStatus()
        switch coordinator.phase {
        case .starting: status.state = .starting
        case .training, .evaluating, .recovering: status.state = .training
        case .finished: status.state = finalReportDone ? .serving : .training
        case .failed: status.state = .failed
        case .stopping: status.state = .stopping
        }
        status.message = coordinator.phaseDescription
        status.epoch = UInt32(summary.epochs.last?.epoch ?? 0)
        status.epochs = UInt32(config.training.epochs)
        if let latestEvaluation { status.latest = latestEvaluation }
        if let bestEvaluation { status.best = bestEvaluation }
        if let testEvaluation { status.test = testEvaluation }
        status.examplesPerSecond = summary.epochs.last?.examplesPerSecond ?? 0
        status.sampleUserID = sampleUser
        status.reshardTargetShards = UInt32(coordinator.reshard?.toShards ?? 0)
        describeCluster(into: &status)
        return status
    }

    // MARK: Feedback consumers

    public func readFeedback(_ request: Tessera_V1_ReadFeedbackRequest, context: ServerContext) async throws -> Tessera_V1_ReadFeedbackResponse {
        let hub = feedback
        let wait = context.waitBudget(cap: .seconds(1))
        let maxEvents = request.maxEvents == 0 ? 512 : Int(min(request.maxEvents, 65_536))
        var response = Tessera_V1_ReadFeedbackResponse()
        response.events = try await hub.read(from: max(1, request.fromOffset), maxEvents: maxEvents, wait: wait)
        response.endOffset = hub.log.endOffset
        return response
    }

    public func getConsumer(_ request: Tessera_V1_GetConsumerRequest, context: ServerContext) async throws -> Tessera_V1_ConsumerState {
        try feedback.consumer(request.consumer)
    }

    public func commitConsumer(_ request: Tessera_V1_ConsumerState, context: ServerContext) async throws -> Tessera_V1_ConsumerState {
        try feedback.commit(request)
    }

    public func shutdown(_ request: Tessera_V1_ShutdownRequest, context: ServerContext) async throws -> Tessera_V1_ShutdownResponse {
        stop(reason: request.reason.isEmpty ? "shutdown requested" : request.reason)
        return Tessera_V1_ShutdownResponse()
    }

    /// Stops the job (Ctrl-C, SIGTERM, or a Shutdown call): members are told to exit, then the scheduler exits.
    public func stop(reason: String) {
        let wasOver = coordinator.isOver
        apply(coordinator.stop(reason: reason))
        if !wasOver {
            console.line("stopping: \(reason)")
            summary.state = "stopped"
            summary.failure = reason
            writeSummary()
        }
        beginExit(code: 0)
    }

    // MARK: Directives

    func apply(_ directives: [TrainingCoordinator.Directive]) {
        for directive in directives {
            switch directive {
            case .publishShardMap(let routing):
                if let parameters {
                    // A replaced shard: the same client (serving holds it too) routes to its new address.
                    do {
                        try parameters.update(routing: routing)
                    } catch {
                        apply(coordinator.fail("cannot open channels to the shards: \(error)"))
                        return
                    }
                    console.line("shard map version \(routing.version): \(routing.shardIDs.map { "shard \($0) at \(routing.addresses[$0] ?? "?")" }.joined(separator: ", "))")
                    saveJobState()
                    mapWaiters.resumeAll { _ in routing }
                    continue
                }
                do {
                    let client = try ShardedParameterClient(routing: routing, security: security)
                    if config.replication.enabled {
                        // Evaluation and model setup ride out a promotion (the map arrives through this directive).
                        client.enableFailover(.init(patience: .seconds(2 * config.scheduler.heartbeatTimeout + 10)))
                    }
                    parameters = client
                } catch {
                    apply(coordinator.fail("cannot open channels to the shards: \(error)"))
                    return
                }
                summary.timings.membersReadySeconds = now
                saveJobState()
                startServingIfReady()
                prepareModelIfReady()
                console.line("shards: \(routing.shardIDs.count) registered (\(routing.shardIDs.map { routing.addresses[$0] ?? "?" }.joined(separator: ", "))); shard map version \(routing.version)")
                mapWaiters.resumeAll { _ in routing }
            case .releaseBarrier(let generation):
                barrierWaiters.resume(key: generation, with: generation)
            case .startEpoch(let epoch, let steps):
                reportRecoveryIfResumed(epoch: epoch)
                epochEnded = false
                epochExamples = 0
                epochLoss = 0
                epochCommunication = 0
                epochStarted = clock.now
                lastProgressLine = clock.now
                if epoch == 1 {
                    let examples = coordinator.loadedExamples.values.reduce(0, +)
                    console.line("training: \(config.workers) workers, \(Format.count(Double(examples))) examples, \(steps) steps of \(config.training.batchSize) per worker per epoch, \(config.training.consistency.rawValue.uppercased())")
                }
                let task = trainTask(epoch: epoch, steps: steps)
                taskWaiters.resumeAll { _ in task }
            case .evaluate(let epoch):
                epochEnded = true
                let trainSeconds = epochStarted.map { (clock.now - $0).seconds } ?? 0
                lastEpochSeconds = trainSeconds
                Task { await self.evaluate(epoch: epoch, trainSeconds: trainSeconds) }
            case .stopWorkers(let reason):
                let stopTask = Tessera_V1_Task.with {
                    $0.kind = .stop
                    $0.reason = reason
                }
                taskWaiters.resumeAll { worker in
                    self.coordinator.markToldToStop(role: .worker, id: worker)
                    return stopTask
                }
                barrierWaiters.failAll(RPCError(.aborted, "the job is over: \(reason)"))
            case .fail(let reason):
                console.line("job failed: \(reason)")
                logger.error("job failed", metadata: ["reason": "\(reason)"])
                summary.state = "failed"
                summary.failure = reason
                writeSummary()
                beginExit(code: 1)
            case .abandonEpoch(let reason, let restartEpoch):
                abandon(reason: reason, restartEpoch: restartEpoch)
            case .restoreShards(let epoch, let attempt):
                Task { await self.restoreShards(epoch: epoch, attempt: attempt) }
            case .promoteFollower(let shard, let address, let routing, let reason):
                console.line("member lost: \(reason)")
                console.line("replication: promoting the follower of shard \(shard) at \(address) (no rollback, training goes on)")
                logger.warning("promoting follower", metadata: ["shard": "\(shard)", "address": "\(address)", "reason": "\(reason)"])
                Task { await self.promote(shard: shard, address: address, routing: routing) }
            case .copyForReshard(let plan):
                Task { await self.copyForReshard(plan) }
            case .abortReshard(let reason, let plan):
                reshardAborted(reason: reason, plan: plan)
            }
        }
    }

    /// A train-epoch task of the current attempt.
    private func trainTask(epoch: Int, steps: Int) -> Tessera_V1_Task {
        Tessera_V1_Task.with {
            $0.kind = .trainEpoch
            $0.epoch = UInt32(epoch)
            $0.steps = UInt32(steps)
            $0.attempt = UInt32(coordinator.attempt)
            $0.barrierBase = coordinator.barrierBase
            $0.shardMapVersion = coordinator.routing?.version ?? 0
        }
    }

    private func task(for directive: TrainingCoordinator.Directive, worker: UInt32) -> Tessera_V1_Task {
        var task = Tessera_V1_Task()
        switch directive {
        case .startEpoch(let epoch, let steps):
            task = trainTask(epoch: epoch, steps: steps)
        case .stopWorkers(let reason):
            task.kind = .stop
            task.reason = reason
            coordinator.markToldToStop(role: .worker, id: worker)
        default:
            task.kind = .unspecified
        }
        return task
    }

    /// Runs `body` on this actor after `delay` (to end a long-poll), unless the returned task is cancelled first.
    private nonisolated func expire(after delay: Duration,
                                    _ body: @escaping @Sendable (isolated JobScheduler) -> Void) -> Task<Void, Never> {
        Task {
            guard (try? await Task.sleep(for: delay)) != nil else { return }
            await self.run(body)
        }
    }

    private func run(_ body: @Sendable (isolated JobScheduler) -> Void) {
        body(self)
    }

    // MARK: Data and progress

    /// Recommend, Score and Feedback answer once the shards and the data are both there.
    private func startServingIfReady() {
        guard !servingStarted, let parameters, let context = loadedContext else { return }
        servingStarted = true
        let clicks: [(user: UInt64, item: UInt64)]
        do {
            clicks = try feedback.clicks()
        } catch {
            apply(coordinator.fail("cannot read the feedback log: \(error)"))
            return
        }
        inference.start(parameters: parameters, data: context.data, retrieval: context.model, clicks: clicks)
        console.line("serving Recommend, Score and Feedback (feedback log at \(feedback.log.endOffset) events, \(config.online.workers) online workers)")
    }

    private func dataLoaded(_ context: EvaluationContext, seconds: Double) {
        loadedContext = context
        startServingIfReady()
        let data = context.data
        summary.timings.dataLoadSeconds = seconds
        summary.data = .init(source: data.description, trainInteractions: data.train.count, validInteractions: data.valid.count,
                             testInteractions: data.test.count, users: context.userCount, items: data.items.count,
                             skippedLines: data.skippedLines)
        sampleUser = context.trainUsers.first.map { data.rawID(for: $0) } ?? ""
        console.line("data: \(data.description)")
        console.line("      \(Format.count(Double(data.train.count))) train / \(Format.count(Double(data.valid.count))) valid / \(Format.count(Double(data.test.count))) test interactions, \(Format.count(Double(context.userCount))) users, \(Format.count(Double(data.items.count))) items (loaded in \(Format.seconds(seconds)))")
        if data.skippedLines > 0 {
            console.line("      skipped \(data.skippedLines) malformed lines (on_bad_line: skip), e.g. \(data.skippedExamples.first ?? "")")
        }
        let k = config.evaluation.k
        for part in ["valid", "test"] {
            guard let result = context.popularity[part] else { continue }
            summary.popularity[part] = result.metrics
            console.line("popularity baseline, \(part): \(Format.metrics(result.metrics, k: k, keys: Self.accuracyKeys(config)))")
        }
        prepareModelIfReady()
    }

    /// Writes the models' initial dense weights (once: rows that exist are kept), then lets training start.
    private func prepareModelIfReady() {
        guard !modelPrepared, let parameters, let context = loadedContext else { return }
        modelPrepared = true
        let config = self.config
        Task {
            do {
                if let ranker = Ranker.make(config: config, train: context.data.train, scenarios: max(1, context.data.scenarioNames.count)) {
                    try await parameters.assign(table: ranker.dense.table, keys: ranker.dense.keys,
                                                values: ranker.dense.blocks(ranker.initialParameters(seed: config.training.seed)),
                                                dim: ranker.dense.blockSize, onlyIfAbsent: true)
                }
                if let (blocks, rows) = context.model.initialDense(seed: config.training.seed) {
                    try await parameters.assign(table: blocks.table, keys: blocks.keys, values: rows, dim: blocks.blockSize,
                                                onlyIfAbsent: true)
                }
                self.apply(self.coordinator.schedulerDataReady())
            } catch {
                self.apply(self.coordinator.fail("cannot initialize the model's dense weights: \(error)"))
            }
        }
    }

    private func printProgressIfDue(epoch: Int) {
        guard let last = lastProgressLine, let started = epochStarted,
              clock.now - last >= .seconds(config.training.progressInterval) else { return }
        lastProgressLine = clock.now
        let total = coordinator.loadedExamples.values.reduce(0, +)
        let elapsed = (clock.now - started).seconds
        let percent = total > 0 ? 100 * Double(epochExamples) / Double(total) : 0
        console.line(String(format: "  epoch %d: %3.0f%%  %@ examples  %@ ex/s  loss %.4f", epoch, percent,
                            Format.count(Double(epochExamples)), Format.count(Double(epochExamples) / max(elapsed, 1e-9)),
                            epochExamples > 0 ? epochLoss / Double(epochExamples) : 0))
    }

    // MARK: Evaluation

    private func evaluate(epoch: Int, trainSeconds: Double) async {
        guard let loading = context, let parameters else { return }
        let evalStart = clock.now
        do {
            let context = try await loading.value
            guard coordinator.phase == .evaluating(epoch: epoch) else { return }
            if epoch % config.evaluation.every != 0 && epoch < config.training.epochs {
                recordEpoch(epoch: epoch, result: nil, snapshot: nil, context: context, trainSeconds: trainSeconds, evalSeconds: 0)
                try await checkpointIfDue(epoch: epoch)
                try await switchReshardIfDue(epoch: epoch)
                advance(after: epoch, context: context)
                return
            }
            // The test parts' vectors are kept with the snapshot, so the best epoch can be tested at the end.
            let snapshot = try await Self.pullSnapshot(epoch: epoch, parts: context.monitor + (context.valid.isEmpty ? [] : context.test),
                                                       context: context, parameters: parameters, config: config)
            try await publishItemVectors(snapshot, context: context, parameters: parameters)
            var results: [EvaluationResult] = []
            for part in context.monitor {
                results.append(try await Self.score(part, snapshot: snapshot, context: context, k: config.evaluation.k))
            }
            // A member died meanwhile: this epoch is redone, and so is its evaluation.
            guard coordinator.phase == .evaluating(epoch: epoch) else { return }
            recordEpoch(epoch: epoch, result: EvaluationContext.mean(results), snapshot: snapshot, context: context,
                        trainSeconds: trainSeconds, evalSeconds: (clock.now - evalStart).seconds)
            try await checkpointIfDue(epoch: epoch)
            try await switchReshardIfDue(epoch: epoch)
            advance(after: epoch, context: context)
        } catch {
            if await recoveryUnderway(instead: epoch, error: error) { return }
            apply(coordinator.fail("evaluation after epoch \(epoch) failed: \(error)"))
        }
    }

    /// Whether evaluating `epoch` failed because a member died: the phase moved
    /// on already, or a shard is unreachable and the loss is noticed (heartbeats,
    /// or its replacement registering) within the heartbeat timeout.
    private func recoveryUnderway(instead epoch: Int, error: any Error) async -> Bool {
        let deadline = clock.now + .seconds(config.scheduler.heartbeatTimeout + 2)
        let code = (error as? RPCError)?.code
        let mayBeLoss = (error as? RPCError)?.isTransient == true || code == .failedPrecondition
        repeat {
            if coordinator.phase != .evaluating(epoch: epoch) { return true }
            guard mayBeLoss else { return false }
            try? await Task.sleep(for: .milliseconds(100))
        } while clock.now < deadline
        return coordinator.phase != .evaluating(epoch: epoch)
    }

    /// Two-tower item vectors are tower outputs: serving scores them from their own table.
    private func publishItemVectors(_ snapshot: Snapshot, context: EvaluationContext, parameters: ShardedParameterClient) async throws {
        guard case .twoTower = context.model else { return }
        try await parameters.assign(table: config.servingTable, keys: context.data.items, values: snapshot.itemVectors,
                                    dim: context.model.vectorDim, onlyIfAbsent: false)
    }

    /// Fits the ranking stage on the validation users' candidates under `snapshot` and
    /// writes the kept weights to the shards (serving uses them from then on).
    private func fitRankingStage(_ ranker: Ranker, snapshot: Snapshot, context: EvaluationContext,
                                 parameters: ShardedParameterClient) async throws {
        guard let part = context.valid.first, context.valid.count == 1, let users = snapshot.queries[part.name] else {
            console.line("ranking stage: not fitted (it needs one full-ranking validation split)")
            return
        }
        let lists = try RankingStage.candidateLists(part, userVectors: users, itemVectors: snapshot.itemVectors,
                                                    candidates: config.ranking.candidates, dim: context.model.vectorDim)
        var fitting = RankerFitting()
        fitting.epochs = config.ranking.epochs
        fitting.k = config.evaluation.k
        fitting.seed = config.training.seed
        if let dense = config.table(named: ranker.dense.table) { fitting.optimizer = dense.optimizer }
        let (weights, report) = try await fitting.fit(ranker, initial: ranker.initialParameters(seed: config.training.seed), lists: lists)
        try await parameters.assign(table: ranker.dense.table, keys: ranker.dense.keys, values: ranker.dense.blocks(weights),
                                    dim: ranker.dense.blockSize, onlyIfAbsent: false)
        let curve = report.checkNDCG.map { String(format: "%.4f", $0) }.joined(separator: " ")
        console.line("ranking stage: fitted on \(report.fitLists) validation users' top \(config.ranking.candidates), checked on \(report.checkLists); check ndcg@\(fitting.k) by epoch (0 = retrieval order): \(curve); kept epoch \(report.bestEpoch)")
    }

    /// Two-stage metrics: each user's top `candidates` by retrieval score, re-scored by the ranker.
    @concurrent
    private static func twoStage(_ part: EvaluationPart, snapshot: Snapshot, ranker: Ranker, candidates: Int, k: Int, dim: Int,
                                 parameters: ShardedParameterClient) async throws -> [String: Double] {
        guard case .full(let set) = part.scoring, let userVectors = snapshot.queries[part.name] else { return [:] }
        let blocks = try await parameters.pull(table: ranker.dense.table, keys: ranker.dense.keys, dim: ranker.dense.blockSize)
        let weights = ranker.dense.flatten(blocks)
        let retrieval = try FullRankingEvaluator(k: candidates)
        var average = RankingMetrics.Average()
        retrieval.forEachTopK(set, scorer: DotProductScorer(userVectors: userVectors, itemVectors: snapshot.itemVectors, dim: dim),
                              onlyEvaluatedUsers: true) { row, list in
            let items = list.map { set.items[$0.index] }
            var vectors: [Float] = []
            vectors.reserveCapacity(list.count * dim)
            for entry in list { vectors += snapshot.itemVectors[entry.index * dim..<(entry.index + 1) * dim] }
            let scores = ranker.score(user: Array(userVectors[row * dim..<(row + 1) * dim]), items: items, itemVectors: vectors,
                                      scenario: 0, parameters: weights)
            let reranked = list.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }.prefix(k)
            let relevant = Set(set.relevant(ofUser: row))
            let hits = reranked.enumerated().filter { relevant.contains(Int32(list[$0.element].index)) }.map { $0.offset + 1 }
            average.add(RankingMetrics.scores(hitRanks: hits, relevantCount: set.relevant(ofUser: row).count, k: k))
        }
        return average.metrics(k: k)
    }

    /// The metrics of `snapshot` on `part`, computed off the actor.
    @concurrent
    private static func score(_ part: EvaluationPart, snapshot: Snapshot, context: EvaluationContext, k: Int,
                              keepLists: Bool = false) async throws -> EvaluationResult {
        guard let queries = snapshot.queries[part.name] else { throw ModelError("no query vectors for \(part.name)") }
        let dim = context.model.vectorDim
        switch part.scoring {
        case .full(let set):
            // Coverage, novelty and intra-list diversity (in the model's item space) beside accuracy.
            let evaluator = try FullRankingEvaluator(k: k, beyondAccuracy: true)
            var itemVectors = snapshot.itemVectors
            if let indices = part.itemIndices {
                itemVectors = []
                itemVectors.reserveCapacity(indices.count * dim)
                for i in indices { itemVectors += snapshot.itemVectors[i * dim..<(i + 1) * dim] }
            }
            return evaluator.evaluate(set, userVectors: queries, itemVectors: itemVectors, dim: dim, keepLists: keepLists)
        case .sampled(let set, let evaluator):
            return evaluator.evaluate(userVectors: queries, candidates: set.candidates, itemKeys: context.data.items,
                                      itemRows: snapshot.itemVectors, dim: dim)
        }
    }

    /// Item vectors and the query vectors of `parts`, from the shards' current rows.
    @concurrent
    private static func pullSnapshot(epoch: Int, parts: [EvaluationPart], context: EvaluationContext,
                                     parameters: ShardedParameterClient, config: ClusterConfig) async throws -> Snapshot {
        var dims: [String: Int] = [:]
        for table in config.tables { dims[table.name] = table.dim }
        let model = context.model
        let items = context.data.items
        let itemRows = try await parameters.pull(model.itemKeys(items), dims: dims)
        var snapshot = Snapshot(epoch: epoch, itemVectors: try model.itemVectors(items, rows: itemRows), queries: [:])
        let dim = model.vectorDim
        for part in parts {
            let asked = part.queries.compactMap { $0 }
            let rows = try await parameters.pull(model.queryKeys(asked), dims: dims)
            let vectors = try model.queryVectors(asked, rows: rows)
            var all = [Float](repeating: 0, count: part.queries.count * dim)
            var next = 0
            for (row, query) in part.queries.enumerated() where query != nil {
                all.replaceSubrange(row * dim..<(row + 1) * dim, with: vectors[next * dim..<(next + 1) * dim])
                next += 1
            }
            snapshot.queries[part.name] = all
        }
        return snapshot
    }

    /// The accuracy metrics a run prints: HR and NDCG for the sampled protocol, recall and NDCG otherwise.
    static func accuracyKeys(_ config: ClusterConfig) -> [String] {
        config.evaluation.protocol == .sampled ? ["hit", "ndcg"] : ["recall", "ndcg", "hit"]
    }

    /// Records epoch `epoch`; `result` and `snapshot` are nil for an epoch `evaluation.every` skips.
    private func recordEpoch(epoch: Int, result: EvaluationResult?, snapshot: Snapshot?,
                                  context: EvaluationContext, trainSeconds: Double, evalSeconds: Double) {
        let k = config.evaluation.k
        let score = result?.metrics["ndcg@\(k)"] ?? 0
        let improved = result != nil && score > bestScore
        if improved {
            bestScore = score
            best = snapshot
        }
        // Recommend serves the live parameters; its answers name the epochs trained so far.
        inference.setModelVersion(UInt64(epoch))
        epochsTrained = epoch
        saveJobState()
        var record = RunSummary.Epoch()
        record.epoch = epoch
        record.examples = epochExamples
        record.loss = epochExamples > 0 ? epochLoss / Double(epochExamples) : 0
        record.trainSeconds = trainSeconds
        record.examplesPerSecond = trainSeconds > 0 ? Double(epochExamples) / trainSeconds : 0
        record.communicationSeconds = epochCommunication
        record.evaluationSeconds = evalSeconds
        record.metrics = result?.metrics ?? [:]
        summary.epochs.append(record)
        logger.info("epoch finished", metadata: [
            "epoch": "\(epoch)", "loss": "\(record.loss)", "examples_per_second": "\(record.examplesPerSecond)",
            "train_seconds": "\(trainSeconds)", "eval_seconds": "\(evalSeconds)",
            "ndcg": "\(result?.metrics["ndcg@\(config.evaluation.k)"].map { "\($0)" } ?? "")",
        ])
        summary.timings.trainingSeconds += trainSeconds
        summary.timings.evaluationSeconds += evalSeconds

        if let result {
            let evaluation = Self.message(epoch: epoch, split: context.monitorName, result: result)
            latestEvaluation = evaluation
            if improved { bestEvaluation = evaluation }
            console.line(String(format: "epoch %d/%d  loss %.4f  %@ ex/s  train %@  eval %@  %@ %@%@", epoch, config.training.epochs,
                                record.loss, Format.count(record.examplesPerSecond), Format.seconds(trainSeconds),
                                Format.seconds(evalSeconds), context.monitorName,
                                Format.metrics(result.metrics, k: k, keys: Array(Self.accuracyKeys(config).prefix(2))), improved ? "  *" : ""))
        } else {
            console.line(String(format: "epoch %d/%d  loss %.4f  %@ ex/s  train %@  (evaluated every %d epochs)", epoch, config.training.epochs,
                                record.loss, Format.count(record.examplesPerSecond), Format.seconds(trainSeconds), config.evaluation.every))
        }

    }

    /// Starts the next epoch, or ends training (early stop, or the last epoch).
    private func advance(after epoch: Int, context: EvaluationContext) {
        let k = config.evaluation.k
        let bestEpoch = best?.epoch ?? epoch
        let patience = config.training.patience
        let earlyStop = !context.valid.isEmpty && patience > 0 && epoch - bestEpoch >= patience
        let directives = coordinator.evaluationFinished(epoch: epoch, stop: earlyStop)
        if coordinator.phase == .finished {
            if earlyStop {
                console.line("early stop: no better validation ndcg@\(k) for \(patience) epochs; keeping epoch \(bestEpoch)")
            }
            Task { await self.finishTraining(context: context) }
        }
        apply(directives)
    }

    private func finishTraining(context: EvaluationContext) async {
        guard var best, let parameters else { return }
        let k = config.evaluation.k
        do {
            if context.valid.isEmpty {
                // Judged on test all along: the snapshot holds the test vectors already.
            } else if best.queries[context.test.first?.name ?? ""] == nil {
                best = try await Self.pullSnapshot(epoch: best.epoch, parts: context.test, context: context, parameters: parameters, config: config)
            }
            let single = context.singleTestSet
            var results: [EvaluationResult] = []
            for part in context.test {
                let result = try await Self.score(part, snapshot: best, context: context, k: k,
                                                  keepLists: single != nil && outputs.recommendationsPath != nil)
                results.append(result)
                if context.test.count > 1 {
                    summary.testByPart[part.name] = result.metrics
                    summary.popularityByPart[part.name] = part.popularity.metrics
                }
            }
            let result = EvaluationContext.mean(results)
            testEvaluation = Self.message(epoch: best.epoch, split: "test", result: result)
            summary.bestEpoch = best.epoch
            summary.test = result.metrics
            let rates = summary.epochs.map(\.examplesPerSecond).sorted()
            summary.examplesPerSecond = rates.isEmpty ? 0 : rates[rates.count / 2]
            summary.state = "finished"
            let keys = Self.accuracyKeys(config)
            if context.test.count > 1 {
                for (part, partResult) in zip(context.test, results) {
                    console.line("test \(part.name.dropFirst(5)) (epoch \(best.epoch)): \(Format.metrics(partResult.metrics, k: k, keys: keys)); popularity \(Format.metrics(part.popularity.metrics, k: k, keys: keys))")
                }
                console.line("test, mean over \(context.test.count) scenarios (epoch \(best.epoch)): \(Format.metrics(result.metrics, k: k))")
            } else {
                console.line("test (epoch \(best.epoch)): \(Format.metrics(result.metrics, k: k))")
            }
            if config.evaluation.protocol == .full {
                console.line("      beyond accuracy: \(Format.metrics(result.metrics, k: k, keys: ["coverage", "novelty", "diversity"]))")
            }
            if let ranker = Ranker.make(config: config, train: context.data.train, scenarios: max(1, context.data.scenarioNames.count)),
               let part = context.test.first, context.test.count == 1 {
                try await fitRankingStage(ranker, snapshot: best, context: context, parameters: parameters)
                let twoStage = try await Self.twoStage(part, snapshot: best, ranker: ranker, candidates: config.ranking.candidates,
                                                       k: k, dim: context.model.vectorDim, parameters: parameters)
                summary.testTwoStage = twoStage
                console.line("test, retrieval + ranking of the top \(config.ranking.candidates): \(Format.metrics(twoStage, k: k))")
            }
            if let popular = context.popularity["test"] {
                console.line("test, popularity:  \(Format.metrics(popular.metrics, k: k, keys: config.evaluation.protocol == .full ? ["recall", "ndcg", "hit", "mrr", "precision"] : keys))")
                if config.evaluation.protocol == .full {
                    console.line("      beyond accuracy: \(Format.metrics(popular.metrics, k: k, keys: ["coverage", "novelty", "diversity"]))")
                }
            }
            if let path = outputs.recommendationsPath {
                guard let set = single, let lists = results.first?.lists else {
                    throw ModelError("--export-recs needs one full-ranking test set (not per-scenario or sampled evaluation)")
                }
                let recommendations = RecommendationList.lists(
                    from: lists, of: set, userName: context.data.rawID(for:), itemName: context.data.rawID(for:))
                try RecommendationFile.write(recommendations, to: URL(fileURLWithPath: path))
                console.line("wrote \(recommendations.count) users' top-\(k) lists to \(path)")
            }
        } catch {
            apply(coordinator.fail("final test evaluation failed: \(error)"))
            return
        }
        writeSummary()
        finalReportDone = true
        saveJobState()
        console.line("serving Recommend from the live model (epoch \(summary.epochs.last?.epoch ?? 0)\(config.online.workers > 0 ? " and online updates" : ""))")
    }

    /// Records what a restarted scheduler needs (`--recover`).
    private func saveJobState() {
        guard let routing = coordinator.routing else { return }
        let state = JobState(runID: runID, servers: coordinator.servers, onlineWorkers: coordinator.onlineWorkers,
                             routingVersion: routing.version, virtualNodes: routing.ring.virtualNodes, ringSeed: routing.ring.seed,
                             epochsTrained: epochsTrained, trainingFinished: coordinator.phase == .finished)
        do {
            try DurableState(path: JobState.path(in: stateDirectory)).save(state)
        } catch {
            logger.error("cannot save the job state", metadata: ["error": "\(error)"])
        }
    }

    private func writeSummary() {
        summary.timings.totalSeconds = now
        summary.attempts = coordinator.attempt
        guard let path = outputs.summaryPath else { return }
        do {
            try summary.write(to: path)
        } catch {
            logger.error("cannot write the summary", metadata: ["path": "\(path)", "error": "\(error)"])
        }
    }

    private static func message(epoch: Int, split: String, result: EvaluationResult) -> Tessera_V1_Evaluation {
        var evaluation = Tessera_V1_Evaluation()
        evaluation.epoch = UInt32(epoch)
        evaluation.split = split
        evaluation.users = UInt32(result.users)
        evaluation.metrics = result.metrics
        return evaluation
    }

    // MARK: Checkpoints

    /// Checkpoints at the end of `epoch` when the schedule or a `tessera checkpoint` call asks.
    /// Runs between epochs: every worker has finished and nothing is being pushed.
    private func checkpointIfDue(epoch: Int) async throws {
        guard checkpointRoot != nil, coordinator.phase == .evaluating(epoch: epoch) else { return }
        let every = config.checkpoint.everyEpochs
        let periodic = every > 0 && (epoch % every == 0 || epoch == config.training.epochs)
        guard periodic || !checkpointWaiters.isEmpty else { return }
        do {
            let answer = try await takeCheckpoint(epoch: epoch)
            let waiters = checkpointWaiters
            checkpointWaiters = [:]
            for waiter in waiters.values { waiter.resume(returning: answer) }
        } catch {
            let waiters = checkpointWaiters
            checkpointWaiters = [:]
            for waiter in waiters.values { waiter.resume(throwing: error) }
            throw error
        }
    }

    /// Every shard writes its chain (full every `checkpoint.full_every` checkpoints), then job.json records it.
    private func takeCheckpoint(epoch: Int) async throws -> Tessera_V1_CheckpointJobResponse {
        guard let root = checkpointRoot, let parameters, let routing = coordinator.routing else {
            throw RPCError(.failedPrecondition, "no checkpoint directory or no shards yet")
        }
        let start = clock.now
        let incremental = checkpointsTaken % config.checkpoint.fullEvery != 0
        let answers = try await parameters.checkpoint(directory: root, incremental: incremental, options: CallOptions(timeout: .seconds(600)))
        checkpointsTaken += 1
        let seconds = (clock.now - start).seconds
        let rows = answers.values.reduce(0) { $0 + Int($1.rows) }
        let bytes = answers.values.reduce(Int64(0)) { $0 + Int64($1.bytes) }
        let record = JobCheckpoint(job: config.name, runID: runID, epoch: epoch, shards: answers.count,
                                   virtualNodes: routing.ring.virtualNodes, ringSeed: routing.ring.seed,
                                   shardSequences: Dictionary(uniqueKeysWithValues: answers.map { ("\($0.key)", $0.value.sequence) }), rows: rows, bytes: bytes,
                                   seconds: seconds, writtenAt: Date().timeIntervalSince1970)
        try record.save(root: root)
        rollbackTarget = (root, record)
        if epoch >= coordinator.lastCheckpointEpoch ?? 0 { coordinator.lastCheckpointEpoch = epoch }
        let wroteIncremental = answers.values.allSatisfy(\.incremental)
        console.line(String(format: "checkpoint after epoch %d: %@ rows, %@ in %@ (%@) -> %@", epoch, Format.count(Double(rows)),
                            Format.bytes(Double(bytes)), Format.seconds(seconds), wroteIncremental ? "incremental" : "full", root))
        var response = Tessera_V1_CheckpointJobResponse()
        response.directory = root
        response.epoch = UInt32(epoch)
        response.rows = UInt64(rows)
        response.bytes = UInt64(bytes)
        response.seconds = seconds
        response.incremental = wroteIncremental
        lastCheckpoint = response
        return response
    }

    public func checkpoint(_ request: Tessera_V1_CheckpointJobRequest, context: ServerContext) async throws -> Tessera_V1_CheckpointJobResponse {
        guard checkpointRoot != nil else {
            throw RPCError(.failedPrecondition, "this job has no checkpoint directory (set checkpoint.directory, or run it with tessera launch)")
        }
        switch coordinator.phase {
        case .finished:
            return try await takeCheckpoint(epoch: epochsTrained)
        case .failed, .stopping:
            throw RPCError(.failedPrecondition, "the job is over (\(coordinator.phaseDescription)); nothing to checkpoint")
        default:
            let timeout = request.timeoutSeconds > 0 ? request.timeoutSeconds : 600
            nextCheckpointWaiter += 1
            let id = nextCheckpointWaiter
            return try await withCheckedThrowingContinuation { continuation in
                checkpointWaiters[id] = continuation
                Task {
                    try? await Task.sleep(for: .seconds(timeout))
                    await self.expireCheckpointWaiter(id, after: timeout)
                }
            }
        }
    }

    private func expireCheckpointWaiter(_ id: UInt64, after seconds: Double) {
        checkpointWaiters.removeValue(forKey: id)?.resume(
            throwing: RPCError(.deadlineExceeded, "no epoch ended within \(Int(seconds)) s; no checkpoint was taken"))
    }

    // MARK: Recovery

    /// A member died: the epoch in progress is abandoned until its replacement is ready.
    private func abandon(reason: String, restartEpoch: Int) {
        barrierWaiters.failAll(RPCError(.aborted, "epoch abandoned: \(reason)"))
        guard let recovery = coordinator.recovery else { return }
        if redoneThisRecovery == nil {
            // Work thrown away: whole epochs after the checkpoint, plus the part of the epoch in progress
            // (by BSP steps passed, examples reported, or time up to the lost member's last heartbeat,
            // whichever is most: workers report examples only every progress_interval).
            let total = coordinator.loadedExamples.values.reduce(0, +)
            let reported = total > 0 ? Double(epochExamples) / Double(total) : 0
            let elapsed = epochStarted.map { recovery.lastSeen - ($0 - started).seconds } ?? 0
            let timed = lastEpochSeconds > 0 ? elapsed / lastEpochSeconds : 0
            let stepped = Double(recovery.stepsDone) / Double(max(1, coordinator.stepsPerEpoch))
            let partial = epochEnded ? 1 : min(1, max(0, reported, timed, stepped))
            redoneThisRecovery = max(0, Double(recovery.interruptedEpoch - restartEpoch) + partial)
            summary.epochs.removeAll { $0.epoch >= restartEpoch }
        }
        let target = recovery.rollsBack ? "rolling every shard back to the checkpoint of epoch \(restartEpoch - 1)" : "no checkpoint yet: the epoch is redone on the current rows"
        console.line("member lost: \(reason)")
        console.line("recovery: epoch \(recovery.interruptedEpoch) abandoned; waiting for a replacement, then \(target) and restarting at epoch \(restartEpoch) (attempt \(coordinator.attempt))")
        logger.warning("member lost", metadata: ["reason": "\(reason)", "restart_epoch": "\(restartEpoch)"])
    }

    /// Rolls every shard back to `rollbackTarget` once they all serve the current map.
    private func restoreShards(epoch: Int, attempt: Int) async {
        guard let (root, record) = rollbackTarget, record.epoch == epoch, let parameters, let routing = coordinator.routing else {
            apply(coordinator.fail("recovery: no record of the checkpoint of epoch \(epoch) to roll back to"))
            return
        }
        let start = clock.now
        do {
            // A surviving shard learns the new map from its next heartbeat; pulls with it would be refused until then.
            let deadline = clock.now + .seconds(max(10, 10 * config.scheduler.heartbeatInterval))
            while true {
                let stats = try? await parameters.stats()
                if let stats, stats.count == routing.shardIDs.count, stats.values.allSatisfy({ $0.shardMapVersion == routing.version }) { break }
                guard clock.now < deadline else {
                    throw RPCError(.deadlineExceeded, "not every shard took up shard map version \(routing.version) in time")
                }
                try await Task.sleep(for: .milliseconds(50))
            }
            var sequences: [UInt32: UInt64] = [:]
            for (id, sequence) in record.shardSequences { if let id = UInt32(id) { sequences[id] = sequence } }
            let answers = try await parameters.restore(directory: root, sequences: sequences, options: CallOptions(timeout: .seconds(600)))
            let rows = answers.values.reduce(0) { $0 + Int($1.rows) }
            console.line(String(format: "recovery: %d shards rolled back to the checkpoint of epoch %d (%@ rows) in %@", answers.count, epoch,
                                Format.count(Double(rows)), Format.seconds((clock.now - start).seconds)))
        } catch {
            guard coordinator.attempt == attempt else { return }
            apply(coordinator.fail("recovery: cannot roll the shards back to the checkpoint of epoch \(epoch) in \(root): \(error)"))
            return
        }
        epochsTrained = epoch
        inference.setModelVersion(UInt64(epoch))
        apply(coordinator.shardsRestored(attempt: attempt, now: now))
    }

    /// Tells the follower of `shard` to serve under `routing`, then publishes the map.
    private func promote(shard: UInt32, address: String, routing: ShardRouting) async {
        let start = clock.now
        var request = Tessera_V1_PromoteRequest()
        request.shardID = shard
        request.shardMapVersion = routing.version
        var failure: (any Error)?
        for attempt in 1...3 {
            do {
                let channel = try GRPCChannel(target: address, security: security)
                let answer = try await ParameterServerClient(channel: channel).promote(request, options: CallOptions(timeout: .seconds(5)))
                failure = nil
                console.line(String(format: "replication: shard %d is served by its promoted follower at %@ (%@ rows) in %@; shard map version %llu",
                                    shard, address, Format.count(Double(answer.rows)), Format.seconds((clock.now - start).seconds), routing.version))
                break
            } catch {
                failure = error
                if attempt < 3 { try? await Task.sleep(for: .milliseconds(200)) }
            }
        }
        if let failure {
            guard coordinator.routing == routing else { return }
            apply(coordinator.promotionFailed(shard: shard, reason: "the promoted follower of shard \(shard) at \(address) did not answer: \(failure)", now: now))
            return
        }
        coordinator.promotionFinished(shard: shard, now: now)
        if let promotion = coordinator.promotions.last(where: { $0.shard == shard }) {
            var record = RunSummary.Promotion()
            record.shard = Int(shard)
            record.leader = promotion.leader
            record.follower = promotion.follower
            record.reason = promotion.reason
            record.detectionSeconds = promotion.detected - promotion.lastSeen
            record.secondsToServing = (promotion.serving ?? now) - promotion.lastSeen
            record.attempt = coordinator.attempt
            summary.promotions.append(record)
            console.line(String(format: "replication: shard %d served again %.2f s after the last heartbeat of its leader (noticed after %.2f s); no epoch redone",
                                shard, record.secondsToServing, record.detectionSeconds))
        }
        guard coordinator.routing == routing else { return }
        apply([.publishShardMap(routing)])
    }

    /// Reports a recovery that just ended (training restarts at `epoch`), on the console and in the summary.
    private func reportRecoveryIfResumed(epoch: Int) {
        guard let recovery = coordinator.recoveries.last, summary.recoveries.count < coordinator.recoveries.count,
              let resumed = recovery.resumed else { return }
        let redone = redoneThisRecovery ?? 0
        redoneThisRecovery = nil
        var record = RunSummary.Recovery()
        record.lost = recovery.lost
        record.reason = recovery.reason
        record.interruptedEpoch = recovery.interruptedEpoch
        record.restartEpoch = recovery.restartEpoch
        record.detectionSeconds = recovery.detected - recovery.lastSeen
        record.secondsToResume = resumed - recovery.lastSeen
        record.epochsRedone = redone
        summary.recoveries.append(record)
        summary.epochsRedone += redone
        summary.redoneFraction = summary.epochsRedone / Double(max(1, config.training.epochs))
        console.line(String(format: "recovery: training resumed at epoch %d, %.2f s after the last heartbeat of %@ (noticed after %.2f s); %.2f epochs of work redone (%.1f%% of %d)",
                            epoch, record.secondsToResume, recovery.lost.joined(separator: ", "), record.detectionSeconds, redone,
                            100 * redone / Double(max(1, config.training.epochs)), config.training.epochs))
    }

    // MARK: Liveness and exit

    private func watch() async {
        let interval = Duration.seconds(config.scheduler.heartbeatInterval)
        while exitCode == nil {
            try? await Task.sleep(for: interval)
            apply(coordinator.checkRegistration(now: now, deadline: config.scheduler.registrationTimeout))
            apply(coordinator.checkLiveness(now: now, timeout: config.scheduler.heartbeatTimeout))
        }
    }

    /// Exits with `code` once every member has heard it should stop, or after a grace period.
    private func beginExit(code: Int32) {
        guard exitCode == nil, !exitPending else { return }
        exitPending = true
        let grace = Duration.seconds(3 * config.scheduler.heartbeatInterval + 2)
        Task {
            let deadline = ContinuousClock.now + grace
            while ContinuousClock.now < deadline, !self.allMembersTold() {
                try? await Task.sleep(for: .milliseconds(100))
            }
            self.exit(code: code)
        }
    }

    private var exitPending = false

    private func allMembersTold() -> Bool {
        coordinator.membersNotYetStopped.isEmpty
    }

    private func exit(code: Int32) {
        exitCode = code
        mapWaiters.failAll(RPCError(.aborted, "the scheduler is exiting"))
        taskWaiters.resumeAll { _ in Tessera_V1_Task.with { $0.kind = .stop; $0.reason = "the scheduler is exiting" } }
        barrierWaiters.failAll(RPCError(.aborted, "the scheduler is exiting"))
        reshardWaiter?.resume(throwing: RPCError(.aborted, "the scheduler is exiting; the live reshard did not finish"))
        reshardWaiter = nil
        for waiter in exitWaiters { waiter.resume(returning: code) }
        exitWaiters = []
    }

    private func coordinatorCapacity(_ role: TrainingCoordinator.MemberRole) -> Int {
        switch role {
        // A live reshard changes the shard count: a joining shard is told the target's.
        case .server: max(coordinator.shardCount, coordinator.reshard?.toShards ?? 0)
        case .worker: config.workers
        case .onlineWorker: config.online.workers
        case .follower: config.shards
        }
    }

    private static func role(_ role: Tessera_V1_Role) throws -> TrainingCoordinator.MemberRole {
        switch role {
        case .server: .server
        case .worker: .worker
        case .onlineWorker: .onlineWorker
        case .follower: .follower
        default: throw RPCError(.invalidArgument, "role: must be ROLE_SERVER, ROLE_WORKER, ROLE_ONLINE_WORKER or ROLE_FOLLOWER, got \(role.rawValue)")
        }
    }
}
