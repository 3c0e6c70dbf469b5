import TesseraCore
import TesseraObservability
import TesseraRPC

/// What the scheduler knows of its members' and its own metrics endpoints.
struct ObservedMembers: Sendable {
    /// The scheduler's own `/metrics` address ("" when off).
    var schedulerMetrics = ""
    /// "role/id" to the member's metrics address, as it registered.
    var metricsAddresses: [String: String] = [:]

    static func key(_ role: TrainingCoordinator.MemberRole, _ id: UInt32) -> String {
        "\(role.rawValue)/\(id)"
    }
}

extension JobScheduler {
    /// Records where `role` `id` serves metrics (from its RegisterRequest).
    func recordMetricsAddress(_ address: String, role: TrainingCoordinator.MemberRole, id: UInt32) {
        observed.metricsAddresses[ObservedMembers.key(role, id)] = address
    }

    /// Tells status callers where the scheduler serves metrics.
    public func setMetricsAddress(_ address: String) {
        observed.schedulerMetrics = address
    }

    /// Adds members, shard map, health, freshness and progress to `status` (GetJobStatus).
    func describeCluster(into status: inout Tessera_V1_JobStatus) {
        let now = self.now
        let members = coordinator.servers + coordinator.followers + coordinator.workers + coordinator.onlineWorkers
        status.members = members.map { member in
            var entry = Tessera_V1_MemberStatus()
            entry.role = switch member.role {
            case .server: .server
            case .worker: .worker
            case .onlineWorker: .onlineWorker
            case .follower: .follower
            }
            entry.inSync = member.role == .follower && coordinator.followersInSync.contains(member.id)
            entry.id = member.id
            entry.address = member.address
            entry.pid = member.pid
            entry.host = member.host
            entry.lastHeartbeatAgeSeconds = max(0, now - member.lastSeen)
            entry.metricsAddress = observed.metricsAddresses[ObservedMembers.key(member.role, member.id)] ?? ""
            entry.toldToStop = member.toldToStop
            return entry
        }
        if let routing = coordinator.routing { status.shardMap = routing.message }
        status.health = health(now: now)
        status.metricsAddress = observed.schedulerMetrics
        status.feedbackEndOffset = feedback.log.endOffset
        status.feedbackReflectedOffset = feedback.reflectedOffset
        status.loss = summary.epochs.last?.loss ?? 0
        status.uptimeSeconds = now
        status.phase = coordinator.phaseDescription
        status.attempt = UInt32(coordinator.attempt)
        status.promotions = UInt32(coordinator.promotions.count)
    }

    /// "ok", or the problems seen: a failed job, late heartbeats, members missing.
    func health(now: Double) -> String {
        var problems: [String] = []
        if case .failed(let reason) = coordinator.phase { problems.append("failed: \(reason)") }
        let late = config.scheduler.heartbeatInterval * 3
        for member in coordinator.servers + coordinator.followers + coordinator.workers + coordinator.onlineWorkers
        where !member.toldToStop && now - member.lastSeen > late {
            problems.append("\(member.role.rawValue) \(member.id) last heard \(Int(now - member.lastSeen)) s ago")
        }
        let missing = [("shards", config.shards, coordinator.servers.count),
                       ("workers", config.workers, coordinator.workers.count),
                       ("online workers", config.online.workers, coordinator.onlineWorkers.count)]
            .filter { $0.2 < $0.1 }
            .map { "\($0.2) of \($0.1) \($0.0) registered" }
        for follower in coordinator.followers where !coordinator.followersInSync.contains(follower.id) {
            problems.append("the follower of shard \(follower.id) is out of sync (shard \(follower.id)'s updates are not replicated)")
        }
        if !missing.isEmpty && coordinator.phase == .starting { problems += missing }
        return problems.isEmpty ? "ok" : problems.joined(separator: "; ")
    }

    /// The scheduler's state for its metrics gauges (read before each scrape).
    public func metricsState() -> SchedulerMetrics.State {
        var state = SchedulerMetrics.State()
        state.epoch = summary.epochs.last?.epoch ?? 0
        state.epochs = config.training.epochs
        state.loss = summary.epochs.last?.loss
        state.examplesPerSecond = summary.epochs.last?.examplesPerSecond
        for epoch in summary.epochs {
            for (metric, value) in epoch.metrics where value > state.best[metric, default: -.infinity] {
                state.best[metric] = value
            }
        }
        state.latest = summary.epochs.last(where: { !$0.metrics.isEmpty })?.metrics ?? [:]
        state.feedbackEndOffset = feedback.log.endOffset
        state.feedbackReflectedOffset = feedback.reflectedOffset
        state.members = [
            "server": coordinator.servers.count, "worker": coordinator.workers.count,
            "online_worker": coordinator.onlineWorkers.count, "follower": coordinator.followers.count,
        ]
        state.shardMapVersion = coordinator.routing?.version ?? 0
        state.healthy = health(now: now) == "ok"
        return state
    }
}
