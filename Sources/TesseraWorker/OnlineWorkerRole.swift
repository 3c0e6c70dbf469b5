import Foundation
import Logging
import TesseraCore
import TesseraObservability
import TesseraRPC

/// The `tessera worker --online` process: learns from the feedback log, in
/// log order, while the cluster serves.
///
/// Each batch is applied exactly once, whatever restarts happen: the worker
/// durably records the batch it is about to apply (its offsets and a sequence
/// number) with the scheduler, pushes gradients and counters tagged with that
/// sequence (shards skip a sequence they already applied), then commits the
/// batch's last offset. After a restart it redoes the recorded batch first.
public struct OnlineWorkerRole: Sendable {
    public var schedulerAddress: String
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
        try await WorkerSession.run(role: .onlineWorker, name: "online worker", schedulerAddress: schedulerAddress,
                                    workerID: workerID, metrics: metrics, security: security, logger: logger) { session, metrics, logger in
            var learner = try await OnlineLearner(session: session, logger: logger)
            learner.metrics = metrics
            try await learner.run()
        }
    }
}

/// The learning loop of one online worker.
struct OnlineLearner {
    let session: MemberSession
    let logger: Logger
    let config: ClusterConfig
    let consumer: String
    let parameters: ShardedParameterClient
    let sampler: NegativeSampler
    let sharding: DataSharding
    let groups: UserGroups
    let dim: Int
    var state: Tessera_V1_ConsumerState
    var rng: SplitMix64
    var metrics: WorkerMetrics?
    /// How long to keep retrying the scheduler (it may be restarting) before giving up.
    var patience: Duration { .seconds(2 * config.scheduler.heartbeatTimeout) }

    init(session: MemberSession, logger: Logger) async throws {
        self.session = session
        self.logger = logger
        let membership = session.membership
        config = membership.config
        consumer = "online-\(membership.memberID)"
        sharding = DataSharding(index: Int(membership.memberID), count: Int(membership.memberCount))
        guard let userTable = config.table(named: config.model.userTable) else {
            throw RPCError(.failedPrecondition, "the config has no table '\(config.model.userTable)'")
        }
        dim = userTable.dim
        groups = UserGroups(bits: config.serving.userGroupBits, dim: dim, seed: config.serving.seed)
        parameters = try session.parameterClient(routing: try await session.shardMap())
        // The item universe and each user's training items, for negative sampling.
        let data = try PreparedData.load(config.data, split: config.split, heldOut: false)
        sampler = NegativeSampler(items: data.items, train: data.train)
        var request = Tessera_V1_GetConsumerRequest()
        request.consumer = consumer
        let scheduler = session.scheduler
        let patience = Duration.seconds(2 * config.scheduler.heartbeatTimeout)
        let ask = request
        state = try await retryingTransient(for: patience) { try await scheduler.getConsumer(ask) }
        state.consumer = consumer
        rng = SplitMix64(seed: Hashing.combine(config.training.seed, Hashing.hash(consumer)))
        logger.info("online learning", metadata: [
            "consumer": "\(consumer)", "committed": "\(state.committedOffset)", "inflight": "\(state.inflightSequence)",
        ])
    }

    mutating func run() async throws {
        if state.inflightSequence > 0 {
            // A batch was recorded but maybe not fully applied before a restart: redo it.
            let events = try await read(from: state.inflightFirst, through: state.inflightLast)
            logger.info("redoing batch", metadata: ["sequence": "\(state.inflightSequence)",
                                                    "first": "\(state.inflightFirst)", "last": "\(state.inflightLast)"])
            try await apply(events, sequence: state.inflightSequence)
            try await commit(through: state.inflightLast)
        }
        while true {
            try Task.checkCancellation()
            var request = Tessera_V1_ReadFeedbackRequest()
            request.fromOffset = state.committedOffset + 1
            request.maxEvents = UInt32(config.online.batchSize)
            let response: Tessera_V1_ReadFeedbackResponse
            let scheduler = session.scheduler
            do {
                let ask = request
                response = try await retryingTransient(for: patience) {
                    try await scheduler.readFeedback(ask, options: CallOptions(timeout: .seconds(2)))
                }
            } catch let error as RPCError where error.code == .deadlineExceeded {
                continue
            }
            guard let first = response.events.first?.offset, let last = response.events.last?.offset else { continue }
            let sequence = state.lastSequence + 1
            var intent = state
            intent.inflightSequence = sequence
            intent.inflightFirst = first
            intent.inflightLast = last
            intent.lastSequence = sequence
            let recorded = intent
            state = try await retryingTransient(for: patience) { try await scheduler.commitConsumer(recorded) }
            try await apply(response.events, sequence: sequence)
            try await commit(through: last)
            metrics?.recordFeedback(events: response.events.count, committedOffset: last)
        }
    }

    /// The events from `first` through `last`, read again from the log.
    private func read(from first: UInt64, through last: UInt64) async throws -> [Tessera_V1_LoggedFeedback] {
        var events: [Tessera_V1_LoggedFeedback] = []
        var next = first
        while next <= last {
            var request = Tessera_V1_ReadFeedbackRequest()
            request.fromOffset = next
            request.maxEvents = UInt32(min(Int(last - next + 1), 4096))
            let scheduler = session.scheduler
            let ask = request
            let response = try await retryingTransient(for: patience) {
                try await scheduler.readFeedback(ask, options: CallOptions(timeout: .seconds(10)))
            }
            guard let lastRead = response.events.last?.offset else {
                throw RPCError(.dataLoss, "the feedback log ends before offset \(next) of the batch being redone")
            }
            events += response.events.filter { $0.offset <= last }
            next = lastRead + 1
        }
        return events
    }

    private mutating func commit(through last: UInt64) async throws {
        var done = state
        done.committedOffset = last
        done.inflightSequence = 0
        done.inflightFirst = 0
        done.inflightLast = 0
        let scheduler = session.scheduler
        let committed = done
        state = try await retryingTransient(for: patience) { try await scheduler.commitConsumer(committed) }
    }

    /// Learns from this worker's share of `events` (its users), tagged with `sequence`.
    private mutating func apply(_ events: [Tessera_V1_LoggedFeedback], sequence: UInt64) async throws {
        let mine = events.map(\.event).filter { sharding.owns(user: EntityKey.key(for: $0.userID)) }
        var positives: [Interaction] = []
        var counterEvents: [(user: UInt64, item: UInt64, impressions: UInt64, clicks: UInt64)] = []
        for event in mine {
            let user = EntityKey.key(for: event.userID)
            let item = EntityKey.key(for: event.itemID)
            switch event.event {
            case .impression:
                counterEvents.append((user, item, 1, 0))
            case .click:
                counterEvents.append((user, item, 0, 1))
                positives.append(Interaction(user: user, item: item))
            case .rating where Float(event.value) >= config.online.positiveRating:
                positives.append(Interaction(user: user, item: item, rating: Float(event.value)))
            default:
                continue
            }
        }
        let producer = consumer
        if !positives.isEmpty {
            let batch = sampler.batch(positives[...], negatives: config.model.negatives, using: &rng)
            async let userRows = parameters.pull(table: config.model.userTable, keys: batch.userKeys, dim: dim)
            async let itemRows = parameters.pull(table: config.model.itemTable, keys: batch.itemKeys, dim: dim)
            let gradients = MatrixFactorization.gradients(kind: config.model.kind, batch: batch, userRows: try await userRows,
                                                          itemRows: try await itemRows, dim: dim, l2: config.model.l2)
            async let pushUsers: Void = parameters.push(table: config.model.userTable, keys: batch.userKeys,
                                                        gradients: gradients.users, dim: dim, producer: producer, sequence: sequence)
            async let pushItems: Void = parameters.push(table: config.model.itemTable, keys: batch.itemKeys,
                                                        gradients: gradients.items, dim: dim, producer: producer, sequence: sequence)
            _ = try await (pushUsers, pushItems)
        }
        if !counterEvents.isEmpty {
            let users = Array(Set(counterEvents.map(\.user)))
            let (rows, missing) = try await parameters.lookup(table: config.model.userTable, keys: users, dim: dim)
            let missingSet = Set(missing)
            var groupOf: [UInt64: UInt32] = [:]
            for (i, user) in users.enumerated() {
                groupOf[user] = missingSet.contains(i) ? groups.coldGroup : groups.group(of: rows[i * dim..<(i + 1) * dim])
            }
            var merged: [GroupItem: Tessera_V1_CounterDelta] = [:]
            for event in counterEvents {
                let group = groupOf[event.user] ?? groups.coldGroup
                var delta = merged[GroupItem(group: group, item: event.item)] ?? Tessera_V1_CounterDelta()
                delta.key = event.item
                delta.userGroup = group
                delta.impressions += event.impressions
                delta.clicks += event.clicks
                merged[GroupItem(group: group, item: event.item)] = delta
            }
            try await parameters.updateCounters(table: config.model.itemTable, deltas: Array(merged.values),
                                                producer: producer, sequence: sequence)
        }
    }

    private struct GroupItem: Hashable {
        var group: UInt32
        var item: UInt64
    }
}

/// Runs `call`, retrying UNAVAILABLE (a restarting scheduler) with backoff for up to `patience`.
func retryingTransient<R: Sendable>(for patience: Duration, _ call: @Sendable () async throws -> R) async throws -> R {
    let deadline = ContinuousClock.now + patience
    var delay = Duration.milliseconds(50)
    while true {
        do {
            return try await call()
        } catch let error as RPCError where error.code == .unavailable && ContinuousClock.now < deadline {
            try await Task.sleep(for: delay)
            delay = min(delay * 2, .seconds(1))
        }
    }
}
