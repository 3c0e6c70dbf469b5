/// The scheduler's bookkeeping of a training job, as a value type: who joined,
/// the shard map, barriers, epochs and failures.
///
/// Every event is a mutating method that returns the `Directive`s the caller
/// (an actor doing the I/O) must carry out. Nothing here waits, sleeps or
/// talks to the network, so the whole protocol is tested without sockets.
public struct TrainingCoordinator: Sendable {
    /// Where the job is.
    public enum Phase: Sendable, Equatable {
        /// Members are joining and loading data.
        case starting
        /// Workers run this epoch.
        case training(epoch: Int)
        /// Every worker finished this epoch; the scheduler evaluates it.
        case evaluating(epoch: Int)
        /// A member died: waiting for its replacement, then rolling the shards
        /// back to the last checkpoint; training restarts at `epoch`.
        case recovering(epoch: Int)
        /// Training is over; the model serves.
        case finished
        /// The job cannot go on.
        case failed(String)
        /// Shutting down on request.
        case stopping
    }

    /// What the caller must do after an event.
    public enum Directive: Sendable, Equatable {
        /// Every shard registered: publish this map to waiting members.
        case publishShardMap(ShardRouting)
        /// Release everyone waiting at barrier `generation`.
        case releaseBarrier(generation: UInt64)
        /// Workers may start (or continue to) the epoch in `phase`.
        case startEpoch(epoch: Int, steps: Int)
        /// Evaluate the model after `epoch`.
        case evaluate(epoch: Int)
        /// Tell waiting workers to stop: training is over, failed or stopping.
        case stopWorkers(reason: String)
        /// The job failed; report `reason` and stop the cluster.
        case fail(reason: String)
        /// A member died (`reason`): abandon the epoch in progress — release
        /// waiting workers with ABORTED so they ask for their next task.
        case abandonEpoch(reason: String, restartEpoch: Int)
        /// Every member is back: roll every shard back to the checkpoint of
        /// `epoch`, then call `shardsRestored(attempt:)` (or `fail`).
        case restoreShards(epoch: Int, attempt: Int)
        /// A leader died and its follower (in sync) takes over: tell the follower
        /// at `address` to serve `shard` under `routing`, then publish `routing`.
        /// No rollback, no new attempt. If the follower cannot be reached, call
        /// `promotionFailed(shard:reason:now:)`.
        case promoteFollower(shard: UInt32, address: String, routing: ShardRouting, reason: String)
        /// Every shard of a live reshard's target has registered: prepare every
        /// shard of `plan`, have the old owners copy the moving rows, then call
        /// `reshardCopied()` (or `abortReshard(reason:)`).
        case copyForReshard(ReshardPlan)
        /// The live reshard was given up (`reason`): tell every shard to abort and the requester why.
        case abortReshard(reason: String, plan: ReshardPlan?)
    }

    /// One registered process.
    public struct Member: Sendable, Equatable, Codable {
        public var role: MemberRole
        public var id: UInt32
        public var address: String
        public var pid: Int64
        public var host: String
        /// Seconds (on the caller's clock) of the last sign of life.
        public var lastSeen: Double
        /// Whether it has been told to shut down.
        public var toldToStop = false

        public var name: String {
            "\(role.rawValue) \(id) (pid \(pid)\(address.isEmpty ? "" : " at \(address)"))"
        }
    }

    public enum MemberRole: String, Sendable, Equatable, Codable {
        case server, worker
        case onlineWorker = "online worker"
        /// A shard's follower (replication); its id is the shard it follows.
        case follower
    }

    /// Shards serving now (a live reshard changes it at its switch).
    public internal(set) var shardCount: Int
    public let workerCount: Int
    /// Online workers (learning from feedback); they take no part in epochs.
    public let onlineWorkerCount: Int
    /// Followers the job waits for before publishing the first shard map: one per shard with replication, else 0.
    public let followerCount: Int
    public let epochs: Int
    public let batchSize: Int
    public let ring: RingSettings

    public private(set) var phase = Phase.starting
    public internal(set) var servers: [Member] = []
    public private(set) var workers: [Member] = []
    public private(set) var onlineWorkers: [Member] = []
    /// Followers (replication), by the shard they follow.
    public private(set) var followers: [Member] = []
    /// Shards whose follower holds every acknowledged change (registered before
    /// the first map and not reported lost since).
    public private(set) var followersInSync: Set<UInt32> = []
    /// Shards served by a promoted follower (whose heartbeats still say "follower").
    private var promoted: Set<UInt32> = []
    /// Promotions so far, oldest first.
    public private(set) var promotions: [Promotion] = []
    public internal(set) var routing: ShardRouting?
    /// The live reshard under way, if any (`TrainingCoordinator+Reshard.swift`).
    public internal(set) var reshard: LiveReshard?
    /// Shards a live reshard took out of the map; told to stop at their next heartbeat.
    public internal(set) var retired: [Member] = []
    /// Training examples each worker loaded, by worker id.
    public private(set) var loadedExamples: [UInt32: Int] = [:]
    /// Steps each worker needs per epoch, by worker id.
    private var loadedSteps: [UInt32: Int] = [:]
    /// Steps every worker runs per epoch (the largest shard's batch count).
    public private(set) var stepsPerEpoch = 0
    private var epochDone: Set<UInt32> = []
    private var barrierArrivals: [UInt64: Set<UInt32>] = [:]
    private var releasedBarrier: UInt64 = 0
    private var schedulerReady = false
    /// The epoch training starts at: 1, or the one after a resumed checkpoint's.
    public var firstEpoch = 1
    /// The epoch of the newest complete checkpoint (job.json), which recovery
    /// rolls back to; nil when there is none (then a lost shard fails the job).
    public var lastCheckpointEpoch: Int?
    /// Seconds to wait for a lost member's replacement before failing the job.
    public var replacementTimeout = 60.0
    /// The training attempt: one more after each recovery. Tasks carry it, and
    /// reports of older attempts are ignored.
    public private(set) var attempt = 1
    /// Barrier generations of the current epoch count from here (`Task.barrier_base`).
    public private(set) var barrierBase: UInt64 = 0
    private var nextBarrierBase: UInt64 = 0
    /// The recovery under way, if any.
    public private(set) var recovery: Recovery?
    /// Recoveries completed so far, oldest first.
    public private(set) var recoveries: [Recovery] = []

    /// One recovery from dead members.
    public struct Recovery: Sendable, Equatable {
        /// The lost members, by name.
        public var lost: [String]
        /// What gave them away.
        public var reason: String
        /// When the first of them was last heard from (≈ its death), and when the loss was noticed.
        public var lastSeen: Double
        public var detected: Double
        /// The epoch in progress when it happened, and the epoch training restarts at.
        public var interruptedEpoch: Int
        public var restartEpoch: Int
        /// Steps of the interrupted epoch every worker had passed (BSP barriers released; 0 under ASP/SSP).
        public var stepsDone = 0
        /// Whether the shards roll back to `lastCheckpointEpoch` (false: no checkpoint; a lost worker's epoch is redone on the current rows).
        public var rollsBack: Bool
        /// When training resumed (nil until it has).
        public var resumed: Double?
        var restoring = false
    }

    /// A follower that took over its dead leader's shard.
    public struct Promotion: Sendable, Equatable {
        public var shard: UInt32
        /// The dead leader and the follower, by name.
        public var leader: String
        public var follower: String
        public var reason: String
        /// When the leader was last heard from (≈ its death) and when its loss was noticed.
        public var lastSeen: Double
        public var detected: Double
        /// When the follower answered that it serves (nil until then).
        public var serving: Double?
    }

    public init(shards: Int, workers: Int, onlineWorkers: Int = 0, followers: Int = 0, epochs: Int, batchSize: Int, ring: RingSettings) {
        shardCount = shards
        workerCount = workers
        onlineWorkerCount = onlineWorkers
        followerCount = followers > 0 ? shards : 0
        self.epochs = epochs
        self.batchSize = batchSize
        self.ring = ring
    }

    public init(config: ClusterConfig) {
        self.init(shards: config.shards, workers: config.workers, onlineWorkers: config.online.workers,
                  followers: config.replication.followers, epochs: config.training.epochs,
                  batchSize: config.training.batchSize, ring: config.ring)
        replacementTimeout = config.scheduler.registrationTimeout
    }

    /// Whether the job has ended one way or another.
    public var isOver: Bool {
        switch phase {
        case .finished, .failed, .stopping: true
        default: false
        }
    }

    // MARK: Membership

    /// A refusal of a member's request, with a gRPC-like reason.
    public struct Refusal: Error, Sendable, Equatable {
        public enum Reason: Sendable, Equatable { case full, outOfRange, unknownMember, over, tooLate }
        public var reason: Reason
        public var message: String
    }

    /// Admits a member and assigns its id: `requestedID` if given and free,
    /// else the lowest free id.
    public mutating func register(role: MemberRole, address: String, pid: Int64, host: String, requestedID: UInt32? = nil,
                                  now: Double) throws(Refusal) -> (id: UInt32, directives: [Directive]) {
        // After offline training the cluster still serves: an online worker may (re)join then.
        if isOver && !(role == .onlineWorker && phase == .finished) {
            throw Refusal(reason: .over, message: "the job is over (\(phaseDescription)); not admitting members")
        }
        if role == .follower {
            return (try registerFollower(address: address, pid: pid, host: host, requestedID: requestedID, now: now), publishIfComplete(now: now))
        }
        let capacity = switch role {
        case .server: max(shardCount, reshard?.toShards ?? 0)
        case .worker: workerCount
        case .onlineWorker: onlineWorkerCount
        case .follower: followerCount
        }
        var replaced: [Directive] = []
        if role != .onlineWorker, let requestedID, isTraining, let holder = self.members(role).first(where: { $0.id == requestedID }),
           holder.pid != pid || holder.address != address {
            // A live member never registers twice: its process died and the launcher restarted it.
            replaced = memberLost(role: role, id: requestedID,
                                  reason: "\(holder.name) was replaced by a new process (pid \(pid)) registering as \(role.rawValue) \(requestedID)", now: now)
            if isOver { return (requestedID, replaced) }
        }
        let members = self.members(role)
        let noun = role == .server ? "shards" : "\(role.rawValue)s"
        let replacing = role == .onlineWorker && requestedID.map { id in members.contains { $0.id == id } } == true
        guard members.count < capacity || replacing else {
            throw Refusal(reason: .full, message: "all \(capacity) \(noun) have registered; is a second cluster using this scheduler?")
        }
        let taken = Set(members.map(\.id))
        let id: UInt32
        if let requestedID {
            guard Int(requestedID) < capacity else {
                throw Refusal(reason: .outOfRange, message: "requested_id: \(role.rawValue) id \(requestedID) is out of range; this job has \(capacity) \(noun) (ids 0...\(capacity - 1))")
            }
            if let holder = members.first(where: { $0.id == requestedID }) {
                // An online worker keeps no state of its own (its progress is in the
                // feedback log), so a restarted one takes over its old id.
                guard role == .onlineWorker else {
                    throw Refusal(reason: .full, message: "requested_id: \(holder.name) already holds id \(requestedID)")
                }
                onlineWorkers.removeAll { $0.id == requestedID }
            }
            id = requestedID
        } else {
            id = (0..<UInt32(capacity)).first { !taken.contains($0) } ?? 0
        }
        let member = Member(role: role, id: id, address: address, pid: pid, host: host, lastSeen: now)
        switch role {
        case .worker:
            workers.append(member)
            return (id, replaced)
        case .onlineWorker:
            onlineWorkers.append(member)
            return (id, [])
        case .server, .follower:
            break
        }
        servers.append(member)
        if reshard != nil && Int(id) >= shardCount {
            // A shard joining for a live reshard: it serves nothing until the switch.
            return (id, replaced + reshardPlanIfReady())
        }
        return (id, replaced + publishIfComplete(now: now))
    }

    /// Publishes a new shard map once every shard (and, for the first map, every follower) has registered.
    private mutating func publishIfComplete(now: Double) -> [Directive] {
        guard servers.count == shardCount, routing != nil || followers.count == followerCount else { return [] }
        // A replacement serves at a new address: a new version, so stale routes are refused.
        let routing = nextRouting()
        self.routing = routing
        return [.publishShardMap(routing)] + resumeIfReady(now: now)
    }

    /// The map of the current servers and in-sync followers, one version above the current one.
    private func nextRouting() -> ShardRouting {
        var addresses: [UInt32: String] = [:]
        for server in servers { addresses[server.id] = server.address }
        var followerAddresses: [UInt32: String] = [:]
        for follower in followers where followersInSync.contains(follower.id) { followerAddresses[follower.id] = follower.address }
        return ShardRouting(version: (routing?.version ?? 0) + 1, addresses: addresses, followers: followerAddresses,
                            virtualNodes: ring.virtualNodes, seed: ring.seed)
    }

    /// Admits the follower of shard `requestedID`. Only before the first shard map:
    /// a follower that joins later would lack the changes acknowledged so far
    /// (catching up from a full copy is not implemented).
    private mutating func registerFollower(address: String, pid: Int64, host: String, requestedID: UInt32?,
                                           now: Double) throws(Refusal) -> UInt32 {
        guard followerCount > 0 else {
            throw Refusal(reason: .outOfRange, message: "role: this job has no followers (set replication.followers: 1)")
        }
        guard let id = requestedID else {
            throw Refusal(reason: .outOfRange, message: "requested_id: a follower must name the shard it follows")
        }
        guard Int(id) < shardCount else {
            throw Refusal(reason: .outOfRange, message: "requested_id: follower of shard \(id) is out of range; this job has \(shardCount) shards (ids 0...\(shardCount - 1))")
        }
        if let holder = followers.first(where: { $0.id == id }) {
            throw Refusal(reason: .full, message: "requested_id: \(holder.name) already follows shard \(id)")
        }
        guard routing == nil else {
            throw Refusal(reason: .tooLate, message: "shard \(id) already serves without this follower; a follower can only join before the first shard map (catching up a new follower is not implemented)")
        }
        followers.append(Member(role: .follower, id: id, address: address, pid: pid, host: host, lastSeen: now))
        followersInSync.insert(id)
        return id
    }

    /// Whether epochs are under way (training, evaluating or recovering).
    private var isTraining: Bool {
        switch phase {
        case .training, .evaluating, .recovering: true
        default: false
        }
    }

    /// Records a heartbeat; the answer says whether the member should stop.
    public mutating func heartbeat(role: MemberRole, id: UInt32, now: Double) throws(Refusal) -> (stop: Bool, reason: String) {
        if role == .follower, memberIndex(role: .follower, id: id) == nil, promoted.contains(id) {
            // A promoted follower's process still heartbeats as a follower: it is the shard's server now.
            return try heartbeat(role: .server, id: id, now: now)
        }
        if role == .server, memberIndex(role: .server, id: id) == nil, let index = retired.firstIndex(where: { $0.id == id }) {
            retired[index].toldToStop = true
            return (true, "shard \(id) left the cluster in a live reshard to \(shardCount) shards")
        }
        guard let index = memberIndex(role: role, id: id) else {
            throw Refusal(reason: .unknownMember, message: "\(role.rawValue) \(id) is not a member of this job; register first")
        }
        update(role: role, at: index) { $0.lastSeen = now }
        guard shouldStop(role) else { return (false, "") }
        update(role: role, at: index) { $0.toldToStop = true }
        return (true, phaseDescription)
    }

    /// Whether members of `role` should exit now: workers once training is
    /// over; servers only when the job fails or stops (they keep the model).
    public func shouldStop(_ role: MemberRole) -> Bool {
        switch phase {
        case .failed, .stopping: true
        case .finished: role == .worker
        default: false
        }
    }

    /// A leader reported that its follower stopped answering (or the follower's
    /// heartbeat was late): it is no longer in sync and will not be promoted.
    public mutating func followerLost(shard: UInt32) {
        followersInSync.remove(shard)
    }

    /// The registered members of `role`.
    public func members(_ role: MemberRole) -> [Member] {
        switch role {
        case .server: servers
        case .worker: workers
        case .onlineWorker: onlineWorkers
        case .follower: followers
        }
    }

    /// Records that a member was told to stop by other means (a STOP task).
    public mutating func markToldToStop(role: MemberRole, id: UInt32) {
        if let index = memberIndex(role: role, id: id) { update(role: role, at: index) { $0.toldToStop = true } }
    }

    /// Members that have not heard the shutdown yet (among those still alive).
    public var membersNotYetStopped: [Member] {
        (servers + workers + onlineWorkers + followers).filter { !$0.toldToStop }
    }

    /// Handles members silent longer than `timeout` seconds: during training a
    /// shard or worker is recovered from (see `memberLost`), otherwise the job
    /// fails. Also fails a recovery whose replacements did not come in time.
    public mutating func checkLiveness(now: Double, timeout: Double) -> [Directive] {
        guard !isOver else { return [] }
        if let recovery, recovery.resumed == nil, !recovery.restoring, now - recovery.detected > replacementTimeout {
            let missing = (0..<UInt32(shardCount)).filter { id in !servers.contains { $0.id == id } }.map { "shard \($0)" }
                + (0..<UInt32(workerCount)).filter { loadedExamples[$0] == nil }.map { "worker \($0)" }
            return fail("\(recovery.reason); no replacement for \(missing.joined(separator: ", ")) was ready within \(Int(replacementTimeout)) s")
        }
        var directives: [Directive] = []
        for follower in followers where now - follower.lastSeen > timeout {
            // A silent follower is dropped; its leader goes on without it (its updates are unprotected from now on).
            followers.removeAll { $0.id == follower.id }
            followersInSync.remove(follower.id)
        }
        for member in servers + workers + onlineWorkers where now - member.lastSeen > timeout {
            let reason = "\(member.name) sent no heartbeat for \(Int(now - member.lastSeen)) s (timeout \(Int(timeout)) s); it has died or hangs"
            directives += memberLost(role: member.role, id: member.id, reason: reason, now: now)
            if isOver { break }
        }
        return directives
    }

    /// A shard or worker died during training (`reason` says how it was noticed).
    ///
    /// The epoch in progress is abandoned (a new attempt begins) and the member
    /// leaves; once a replacement registers with its id (and, for a worker,
    /// has loaded its data), every shard is rolled back to the last checkpoint
    /// (`restoreShards`) and training restarts at the epoch after it. With no
    /// checkpoint a lost shard fails the job (its rows are gone), while a lost
    /// worker's epoch is redone on the current rows. Outside training, or for an
    /// online worker, the job fails as before.
    public mutating func memberLost(role: MemberRole, id: UInt32, reason: String, now: Double) -> [Directive] {
        // After training the shards still serve: a dead leader's follower takes over then too.
        if role == .server, !isOver || phase == .finished, let promotion = promote(shard: id, reason: reason, now: now) { return promotion }
        guard !isOver else { return [] }
        if role == .server, retired.contains(where: { $0.id == id }) && !servers.contains(where: { $0.id == id }) {
            retired.removeAll { $0.id == id }
            return []
        }
        if role == .server || role == .worker, reshard != nil {
            // A member died mid-reshard: give the reshard up first (the old map still holds every row).
            let aborted = abortReshard(reason: "\(reason); the live reshard is given up")
            if role == .server && Int(id) >= shardCount { return aborted }
            return aborted + memberLost(role: role, id: id, reason: reason, now: now)
        }
        if role == .follower {
            followers.removeAll { $0.id == id }
            followersInSync.remove(id)
            return []
        }
        guard role != .onlineWorker, isTraining, let member = members(role).first(where: { $0.id == id }) else {
            return fail(reason)
        }
        if role == .server && lastCheckpointEpoch == nil {
            return fail("\(reason); there is no checkpoint to restore its rows from yet (set checkpoint.every_epochs), so the job cannot go on")
        }
        let interrupted: Int
        switch phase {
        case .training(let epoch), .evaluating(let epoch): interrupted = epoch
        case .recovering(let epoch): interrupted = recovery?.interruptedEpoch ?? epoch
        default: interrupted = firstEpoch
        }
        let restart = lastCheckpointEpoch.map { $0 + 1 } ?? min(interrupted, recovery?.restartEpoch ?? interrupted)
        switch role {
        case .server: servers.removeAll { $0.id == id }
        case .worker:
            workers.removeAll { $0.id == id }
            loadedExamples[id] = nil
        case .onlineWorker, .follower: break
        }
        if var ongoing = recovery {
            ongoing.lost.append(member.name)
            ongoing.restoring = false
            recovery = ongoing
        } else {
            let steps: Int = if case .training = phase, releasedBarrier > barrierBase { Int(releasedBarrier - barrierBase) } else { 0 }
            recovery = Recovery(lost: [member.name], reason: reason, lastSeen: member.lastSeen, detected: now,
                                interruptedEpoch: interrupted, restartEpoch: restart, stepsDone: min(steps, stepsPerEpoch),
                                rollsBack: lastCheckpointEpoch != nil)
        }
        attempt += 1
        phase = .recovering(epoch: restart)
        epochDone = []
        barrierArrivals = [:]
        return [.abandonEpoch(reason: reason, restartEpoch: restart)]
    }

    /// Hands shard `shard` to its follower if the follower is in sync and alive:
    /// the follower becomes the shard's server at its own address, under a new
    /// map version. Training goes on — no rollback, no new attempt. Nil when
    /// there is no such follower (then the caller recovers as without replication).
    private mutating func promote(shard: UInt32, reason: String, now: Double) -> [Directive]? {
        guard followersInSync.contains(shard), let follower = followers.first(where: { $0.id == shard }),
              let leader = servers.first(where: { $0.id == shard }), routing != nil else { return nil }
        followers.removeAll { $0.id == shard }
        followersInSync.remove(shard)
        promoted.insert(shard)
        servers.removeAll { $0.id == shard }
        servers.append(Member(role: .server, id: shard, address: follower.address, pid: follower.pid, host: follower.host,
                              lastSeen: now, toldToStop: follower.toldToStop))
        servers.sort { $0.id < $1.id }
        let routing = nextRouting()
        self.routing = routing
        promotions.append(Promotion(shard: shard, leader: leader.name, follower: follower.name, reason: reason,
                                    lastSeen: leader.lastSeen, detected: now))
        return [.promoteFollower(shard: shard, address: follower.address, routing: routing, reason: reason)]
    }

    /// The promoted follower of `shard` answered: it serves.
    public mutating func promotionFinished(shard: UInt32, now: Double) {
        guard let index = promotions.lastIndex(where: { $0.shard == shard && $0.serving == nil }) else { return }
        promotions[index].serving = now
    }

    /// The follower promoted for `shard` did not take over: it is lost too, and the
    /// shard is recovered as without replication (rollback to the last checkpoint).
    public mutating func promotionFailed(shard: UInt32, reason: String, now: Double) -> [Directive] {
        memberLost(role: .server, id: shard, reason: reason, now: now)
    }

    /// Every shard serves the rolled-back rows (and the current shard map): training restarts.
    public mutating func shardsRestored(attempt restoredAttempt: Int, now: Double) -> [Directive] {
        guard restoredAttempt == attempt, var ongoing = recovery, ongoing.restoring, case .recovering(let epoch) = phase else { return [] }
        ongoing.restoring = false
        ongoing.resumed = now
        recoveries.append(ongoing)
        recovery = nil
        return begin(epoch: epoch)
    }

    /// Restarts training once every lost member has been replaced (and every worker has loaded).
    private mutating func resumeIfReady(now: Double) -> [Directive] {
        guard case .recovering = phase, var ongoing = recovery, !ongoing.restoring,
              servers.count == shardCount, routing?.addresses.count == shardCount, loadedExamples.count == workerCount else { return [] }
        if let checkpoint = lastCheckpointEpoch {
            ongoing.restoring = true
            recovery = ongoing
            return [.restoreShards(epoch: checkpoint, attempt: attempt)]
        }
        // No checkpoint (only a worker was lost): redo the epoch on the current rows.
        ongoing.restoring = true
        recovery = ongoing
        return shardsRestored(attempt: attempt, now: now)
    }

    /// Fails the job if not every member joined by `deadline` (seconds on the caller's clock).
    public mutating func checkRegistration(now: Double, deadline: Double) -> [Directive] {
        guard phase == .starting, now > deadline else { return [] }
        // Once everyone has joined, loading may legitimately take long; heartbeats watch it.
        guard servers.count < shardCount || workers.count < workerCount || onlineWorkers.count < onlineWorkerCount else { return [] }
        return fail("only \(servers.count) of \(shardCount) shards, \(workers.count) of \(workerCount) workers and \(onlineWorkers.count) of \(onlineWorkerCount) online workers registered in time")
    }

    /// Continues a recorded job after the scheduler restarted: the same members
    /// and shard map, serving only (offline training is not repeated).
    public mutating func restore(servers: [Member], onlineWorkers: [Member], routing: ShardRouting, now: Double) {
        self.servers = servers.map { var member = $0; member.lastSeen = now; member.toldToStop = false; return member }
        self.onlineWorkers = onlineWorkers.map { var member = $0; member.lastSeen = now; member.toldToStop = false; return member }
        self.workers = []
        self.routing = routing
        phase = .finished
    }

    // MARK: Training

    /// A worker finished loading its data shard.
    ///
    /// - Parameter steps: steps the worker needs per epoch; nil means `examples / batchSize`, rounded up.
    public mutating func workerLoaded(id: UInt32, examples: Int, steps: Int? = nil, now: Double) -> [Directive] {
        if case .recovering = phase, workers.contains(where: { $0.id == id }) {
            // A replacement worker loaded the same data shard; the steps per epoch stay.
            loadedExamples[id] = examples
            touch(role: .worker, id: id, now: now)
            return resumeIfReady(now: now)
        }
        guard phase == .starting else { return [] }
        loadedExamples[id] = examples
        loadedSteps[id] = steps ?? (examples + batchSize - 1) / batchSize
        touch(role: .worker, id: id, now: now)
        return beginIfReady()
    }

    /// The scheduler's own copy of the data (for evaluation) is ready.
    public mutating func schedulerDataReady() -> [Directive] {
        schedulerReady = true
        return beginIfReady()
    }

    /// Starts epoch 1 once the shard map exists, every worker has loaded, and the scheduler can evaluate.
    private mutating func beginIfReady() -> [Directive] {
        guard phase == .starting, schedulerReady, routing != nil, loadedExamples.count == workerCount else { return [] }
        let largest = loadedSteps.values.max() ?? 0
        guard largest > 0, loadedExamples.values.contains(where: { $0 > 0 }) else {
            return fail("no worker has any training examples; check the data settings")
        }
        stepsPerEpoch = largest
        guard firstEpoch <= epochs else {
            phase = .finished
            return [.stopWorkers(reason: "the resumed checkpoint has all \(epochs) epochs")]
        }
        return begin(epoch: firstEpoch)
    }

    /// A worker finished `epoch` in `attempt` (0: the current one).
    public mutating func workerFinished(id: UInt32, epoch: Int, attempt reported: Int = 0, now: Double) -> [Directive] {
        touch(role: .worker, id: id, now: now)
        guard case .training(let current) = phase, current == epoch, reported == 0 || reported == attempt else { return [] }
        epochDone.insert(id)
        guard epochDone.count == workerCount else { return [] }
        phase = .evaluating(epoch: epoch)
        return [.evaluate(epoch: epoch)]
    }

    /// The evaluation of `epoch` ended; `stop` ends training (early stopping).
    public mutating func evaluationFinished(epoch: Int, stop: Bool) -> [Directive] {
        guard phase == .evaluating(epoch: epoch) else { return [] }
        if stop || epoch >= epochs {
            phase = .finished
            return [.stopWorkers(reason: stop && epoch < epochs ? "early stop after epoch \(epoch)" : "trained \(epoch) epochs")]
        }
        return begin(epoch: epoch + 1)
    }

    /// The task for a worker that finished `completedEpoch` in `workerAttempt`
    /// (0: none yet), or nil to keep it waiting. A worker on an older attempt
    /// gets the current epoch whatever it finished before.
    public func task(afterEpoch completedEpoch: Int, attempt workerAttempt: Int = 0) -> Directive? {
        switch phase {
        case .training(let epoch) where completedEpoch < epoch || (workerAttempt > 0 && workerAttempt < attempt):
            return .startEpoch(epoch: epoch, steps: stepsPerEpoch)
        case .finished, .failed, .stopping:
            return .stopWorkers(reason: phaseDescription)
        default:
            return nil
        }
    }

    /// Why a barrier arrival is refused: it belongs to an abandoned attempt, or
    /// no epoch is running. Nil when it may wait.
    public func barrierRefusal(generation: UInt64) -> String? {
        switch phase {
        case .recovering(let epoch):
            return "training is recovering from a lost member (\(recovery?.reason ?? "")); epoch \(epoch) restarts, ask for the next task"
        case .training(let epoch) where generation <= barrierBase:
            return "barrier \(generation) belongs to an abandoned attempt; epoch \(epoch) was restarted, ask for the next task"
        default:
            return nil
        }
    }

    /// A worker reached barrier `generation`.
    public mutating func arrive(generation: UInt64, worker: UInt32) -> [Directive] {
        guard generation > releasedBarrier else { return [.releaseBarrier(generation: generation)] }
        barrierArrivals[generation, default: []].insert(worker)
        guard barrierArrivals[generation]?.count == workerCount else { return [] }
        barrierArrivals[generation] = nil
        releasedBarrier = max(releasedBarrier, generation)
        return [.releaseBarrier(generation: generation)]
    }

    // MARK: Ending

    /// A member reported that it cannot go on.
    public mutating func memberFailed(role: MemberRole, id: UInt32, message: String) -> [Directive] {
        fail(message.isEmpty ? "\(role.rawValue) \(id) failed" : message)
    }

    /// Fails the job with `reason` (the first failure wins).
    public mutating func fail(_ reason: String) -> [Directive] {
        guard !isOver else { return [] }
        phase = .failed(reason)
        return [.fail(reason: reason), .stopWorkers(reason: reason)]
    }

    /// Stops the job on request.
    public mutating func stop(reason: String) -> [Directive] {
        if case .failed = phase { return [] }
        phase = .stopping
        return [.stopWorkers(reason: reason)]
    }

    /// The phase in words.
    public var phaseDescription: String {
        switch phase {
        case .starting: "starting"
        case .training(let epoch): "training epoch \(epoch)"
        case .evaluating(let epoch): "evaluating epoch \(epoch)"
        case .recovering(let epoch): "recovering from a lost member; training restarts at epoch \(epoch)"
        case .finished: "training finished"
        case .failed(let reason): "failed: \(reason)"
        case .stopping: "stopping"
        }
    }

    // MARK: Helpers

    private mutating func begin(epoch: Int) -> [Directive] {
        phase = .training(epoch: epoch)
        barrierBase = nextBarrierBase
        nextBarrierBase += UInt64(stepsPerEpoch) + 1
        barrierArrivals = [:]
        epochDone = []
        return [.startEpoch(epoch: epoch, steps: stepsPerEpoch)]
    }

    private func memberIndex(role: MemberRole, id: UInt32) -> Int? {
        members(role).firstIndex { $0.id == id }
    }

    private mutating func update(role: MemberRole, at index: Int, _ change: (inout Member) -> Void) {
        switch role {
        case .server: change(&servers[index])
        case .worker: change(&workers[index])
        case .onlineWorker: change(&onlineWorkers[index])
        case .follower: change(&followers[index])
        }
    }

    private mutating func touch(role: MemberRole, id: UInt32, now: Double) {
        if let index = memberIndex(role: role, id: id) { update(role: role, at: index) { $0.lastSeen = now } }
    }
}
