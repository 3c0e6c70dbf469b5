import Foundation

/// What a run did, written as JSON by `--summary`: final metrics, per-epoch
/// history, throughput and timings.
public struct RunSummary: Codable, Sendable {
    public struct DataSummary: Codable, Sendable {
        public var source = ""
        public var trainInteractions = 0
        public var validInteractions = 0
        public var testInteractions = 0
        public var users = 0
        public var items = 0
        public var skippedLines = 0
    }

    public struct ClusterSummary: Codable, Sendable {
        public var shards = 0
        public var workers = 0
        public var consistency = ""
        public var model = ""
        public var dim = 0
        public var optimizer = ""
        public var batchSize = 0
    }

    public struct Epoch: Codable, Sendable {
        public var epoch = 0
        /// Mean loss per training example.
        public var loss = 0.0
        public var examples = 0
        public var examplesPerSecond = 0.0
        public var trainSeconds = 0.0
        /// Worker time spent waiting on pulls, pushes and barriers, summed over workers.
        public var communicationSeconds = 0.0
        public var evaluationSeconds = 0.0
        /// Validation metrics (test metrics when the data has no validation part).
        public var metrics: [String: Double] = [:]
    }

    public struct Timings: Codable, Sendable {
        public var dataLoadSeconds = 0.0
        public var membersReadySeconds = 0.0
        public var trainingSeconds = 0.0
        public var evaluationSeconds = 0.0
        public var totalSeconds = 0.0
    }

    /// A recovery from lost members during training.
    public struct Recovery: Codable, Sendable {
        /// The members lost, by name.
        public var lost: [String] = []
        public var reason = ""
        /// The epoch in progress, and the epoch training restarted at.
        public var interruptedEpoch = 0
        public var restartEpoch = 0
        /// From the lost member's last heartbeat (≈ its death) to the scheduler noticing.
        public var detectionSeconds = 0.0
        /// From the lost member's last heartbeat to training resumed.
        public var secondsToResume = 0.0
        /// Epochs of work thrown away and redone (the part of the interrupted epoch counts as a fraction).
        public var epochsRedone = 0.0
    }

    /// A follower that took over its dead leader's shard (replication): no rollback, no redone work.
    public struct Promotion: Codable, Sendable {
        public var shard = 0
        public var leader = ""
        public var follower = ""
        public var reason = ""
        /// From the leader's last heartbeat (≈ its death) to the scheduler noticing.
        public var detectionSeconds = 0.0
        /// From the leader's last heartbeat to the follower answering that it serves.
        public var secondsToServing = 0.0
        /// The training attempt before and after (equal: nothing was rolled back).
        public var attempt = 0
    }

    public var job = ""
    public var runID = ""
    /// "finished" or "failed".
    public var state = ""
    public var failure: String?
    public var data = DataSummary()
    public var cluster = ClusterSummary()
    /// Popularity baseline on the validation and test parts.
    public var popularity: [String: [String: Double]] = [:]
    public var epochs: [Epoch] = []
    /// The epoch whose model was kept (best validation NDCG@K).
    public var bestEpoch = 0
    /// Test metrics of the kept model.
    public var test: [String: Double] = [:]
    /// With a ranking stage: test metrics of retrieval followed by re-ranking its top candidates.
    public var testTwoStage: [String: Double]?
    /// Data with scenarios: test metrics of the best epoch per part ("test/<scenario>");
    /// `test` is their mean.
    public var testByPart: [String: [String: Double]] = [:]
    /// The popularity baseline per part.
    public var popularityByPart: [String: [String: Double]] = [:]
    /// Median over epochs of training examples per second (whole cluster).
    public var examplesPerSecond = 0.0
    public var timings = Timings()
    /// Recoveries from lost shards or workers, in order.
    public var recoveries: [Recovery] = []
    /// Epochs of work redone over all recoveries, and that as a fraction of `training.epochs`.
    public var epochsRedone = 0.0
    public var redoneFraction = 0.0
    /// Followers promoted after their leader died, in order.
    public var promotions: [Promotion] = []
    /// Training attempts (1 plus one per rollback to a checkpoint).
    public var attempts = 1

    public init() {}

    /// Writes the summary as pretty JSON, atomically.
    public func write(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(self).write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}
