import TesseraCore

/// What a restarted scheduler needs to continue a job: the run id, the
/// members and the shard map. Saved atomically under the state directory
/// whenever they change (`tessera scheduler --recover` reads it).
struct JobState: Codable, Sendable {
    var runID: String
    var servers: [TrainingCoordinator.Member]
    var onlineWorkers: [TrainingCoordinator.Member]
    var routingVersion: UInt64
    var virtualNodes: Int
    var ringSeed: UInt64
    /// Offline epochs completed, and whether offline training had finished.
    var epochsTrained: Int
    var trainingFinished: Bool

    static func path(in directory: String) -> String {
        "\(directory)/job.json"
    }

    /// The shard map the recorded servers form.
    var routing: ShardRouting {
        var addresses: [UInt32: String] = [:]
        for server in servers { addresses[server.id] = server.address }
        return ShardRouting(version: routingVersion, addresses: addresses, virtualNodes: virtualNodes, seed: ringSeed)
    }
}
