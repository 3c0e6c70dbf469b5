/// A live reshard as the scheduler tracks it: requested, waiting for new
/// shards to join, copying, then switched at an epoch boundary.
public struct LiveReshard: Sendable, Equatable {
    public var fromShards: Int
    public var toShards: Int
    /// When it was asked for (seconds on the caller's clock).
    public var requested: Double
    /// Set once every shard of the target has registered.
    public var plan: ReshardPlan?
    /// Whether the old owners have copied every moving row (forwarding goes on until the switch).
    public var copied = false
}

/// Live resharding (`tessera reshard --scheduler HOST:PORT --shards M`).
///
/// The order: `beginReshard` (new shard ids `N..<M` may register) →
/// `copyForReshard(plan)` once they all have (at once when shrinking) →
/// `reshardCopied()` → at the next epoch boundary, when no push is in flight,
/// `commitReshard()` gives the new map, which the caller publishes. A member
/// lost before the switch aborts the reshard (`abortReshard`), leaving the old
/// map, which still owns every row.
extension TrainingCoordinator {
    /// Starts a live reshard to `toShards` shards.
    ///
    /// - Returns: directives: `copyForReshard` at once when no shard has to join.
    /// - Throws: `Refusal(.tooLate)` outside training, during a recovery or
    ///   another reshard, with replication or online workers; `Refusal(.outOfRange)` for a
    ///   count below 1, above 1024, or equal to the current one.
    public mutating func beginReshard(toShards target: Int, now: Double) throws(Refusal) -> [Directive] {
        switch phase {
        case .training, .evaluating: break
        default:
            throw Refusal(reason: .tooLate, message: "a live reshard runs during training; the job is \(phaseDescription) (reshard a checkpoint offline: tessera reshard DIR --shards \(target))")
        }
        if let reshard {
            throw Refusal(reason: .tooLate, message: "a reshard from \(reshard.fromShards) to \(reshard.toShards) shards is already under way")
        }
        guard followerCount == 0 else {
            throw Refusal(reason: .tooLate, message: "a live reshard with replication (followers) is not supported; reshard a checkpoint offline")
        }
        guard onlineWorkerCount == 0 else {
            // Online workers push outside epochs, so no epoch boundary is free of pushes in flight.
            throw Refusal(reason: .tooLate, message: "a live reshard with online workers (online.workers) is not supported: their pushes do not stop at epoch boundaries; reshard a checkpoint offline")
        }
        guard target >= 1, target <= 1024 else {
            throw Refusal(reason: .outOfRange, message: "target_shards: \(target) is out of range (1...1024)")
        }
        guard target != shardCount else {
            throw Refusal(reason: .outOfRange, message: "target_shards: the cluster already has \(shardCount) shards")
        }
        guard routing != nil else {
            throw Refusal(reason: .tooLate, message: "the shards have not all registered yet")
        }
        reshard = LiveReshard(fromShards: shardCount, toShards: target, requested: now)
        return reshardPlanIfReady()
    }

    /// `copyForReshard` once every shard of the target has registered.
    mutating func reshardPlanIfReady() -> [Directive] {
        guard var reshard, reshard.plan == nil, let routing else { return [] }
        var addresses: [UInt32: String] = [:]
        for server in servers { addresses[server.id] = server.address }
        guard (0..<UInt32(reshard.toShards)).allSatisfy({ addresses[$0] != nil }),
              let plan = try? ReshardPlan(from: routing, toShards: reshard.toShards, addresses: addresses) else { return [] }
        reshard.plan = plan
        self.reshard = reshard
        return [.copyForReshard(plan)]
    }

    /// The old owners copied every moving row; the switch waits for the next epoch boundary.
    public mutating func reshardCopied() {
        reshard?.copied = true
    }

    /// Whether a copied reshard waits for its switch.
    public var reshardReadyToSwitch: Bool {
        reshard?.copied == true && reshard?.plan != nil
    }

    /// Switches to the reshard's target map: call with no push in flight, after
    /// every shard committed. Shards the target drops are retired (told to stop
    /// at their next heartbeat). Returns the map to publish, or nil when there is
    /// no copied reshard.
    public mutating func commitReshard() -> ShardRouting? {
        guard let reshard, reshard.copied, let plan = reshard.plan, routing == plan.source else { return nil }
        let leaving = Set(plan.leaving)
        retired += servers.filter { leaving.contains($0.id) }
        servers.removeAll { leaving.contains($0.id) }
        shardCount = reshard.toShards
        routing = plan.target
        self.reshard = nil
        return plan.target
    }

    /// Gives the reshard up: joined shards leave (retired), the old map stays.
    public mutating func abortReshard(reason: String) -> [Directive] {
        guard let reshard else { return [] }
        retired += servers.filter { Int($0.id) >= shardCount }
        servers.removeAll { Int($0.id) >= shardCount }
        self.reshard = nil
        return [.abortReshard(reason: reason, plan: reshard.plan)]
    }
}
