/// Everything a Tessera cluster runs with: roles, data, model, tables, training, serving.
///
/// Read from YAML (`Cluster/*.yaml`, see `ClusterConfig.load`) with defaults
/// for every setting, so a file states only what differs. The scheduler ships
/// the resolved config to every member as JSON (this type's `Codable` form).
public struct ClusterConfig: Sendable, Codable, Hashable {
    /// A name for the job, used in run directories and logs.
    public var name = "tessera"
    public var scheduler = SchedulerSettings()
    /// Parameter-server shards.
    public var shards = 2
    /// Training workers.
    public var workers = 2
    public var ring = RingSettings()
    public var data = DataSettings()
    public var split = SplitSettings()
    public var model = ModelSettings()
    /// Embedding tables, each partitioned over all shards.
    public var tables: [TableSpec] = ClusterConfig.defaultTables(dim: 64)
    public var training = TrainingSettings()
    public var evaluation = EvaluationSettings()
    public var serving = ServingSettings()
    public var online = OnlineSettings()
    public var ranking = RankingSettings()

    public init() {}

    /// The table named `name`.
    public func table(named name: String) -> TableSpec? {
        tables.first { $0.name == name }
    }

    /// The user and item tables of a matrix-factorization model, with one initializer and optimizer.
    public static func defaultTables(dim: Int) -> [TableSpec] {
        [
            TableSpec(name: "user", dim: dim, optimizer: .adagrad(learningRate: 0.05),
                      initializer: .normal(std: 0.1), seed: 11),
            TableSpec(name: "item", dim: dim, optimizer: .adagrad(learningRate: 0.05),
                      initializer: .normal(std: 0.1), seed: 13),
        ]
    }
}

/// Where the scheduler listens and how it watches members.
public struct SchedulerSettings: Sendable, Codable, Hashable {
    /// Interface to listen on; members and clients connect here.
    public var host = "127.0.0.1"
    /// Port; 0 lets the OS pick (the launcher prints the address).
    public var port = 0
    /// Seconds between member heartbeats.
    public var heartbeatInterval = 1.0
    /// Seconds without a heartbeat after which a member counts as dead.
    public var heartbeatTimeout = 10.0
    /// Seconds to wait for every member to register before giving up.
    public var registrationTimeout = 120.0

    public init() {}
}

/// Placement of keys on the consistent-hash ring.
public struct RingSettings: Sendable, Codable, Hashable {
    /// Virtual nodes per shard; more gives a more even split (about 1/sqrt(n) spread).
    public var virtualNodes = 512
    public var seed: UInt64 = 0x7E55_E7A0

    public init() {}
}

/// Where training data comes from: the built-in synthetic generator (the
/// default), one file split by `split`, or train/valid/test files a user split.
public struct DataSettings: Sendable, Codable, Hashable {
    public enum Mode: String, Sendable, Codable {
        case synthetic, file, presplit
    }

    /// One file, split per user by `split`.
    public var path: String?
    /// Pre-split files; `train` and `test` go together, `valid` is optional.
    public var train: String?
    public var valid: String?
    public var test: String?
    /// How to read the file(s).
    public var format: DataFormat = .auto
    public var columns = ColumnNames()
    /// Keep only interactions rated at least this (explicit ratings).
    public var minRating: Float?
    public var onBadLine: BadLinePolicy = .error
    /// The generator used when no file is named.
    public var synthetic = SyntheticSpec()
    /// Categorical item features (e.g. MovieLens genres), for models with feature towers.
    public var itemFeatures: ItemFeatureSource?
    /// Scenario of each interaction by its item's first feature value (needs `itemFeatures`);
    /// nil keeps the data's own scenario column (or the generator's scenarios).
    public var scenarios: ScenarioGrouping?

    public init() {}

    public var mode: Mode {
        if train != nil || test != nil { return .presplit }
        return path == nil ? .synthetic : .file
    }

    /// Reading settings for `path`.
    public func source(_ path: String) -> DataSource {
        DataSource(path: path, format: format, columns: columns, minRating: minRating, onBadLine: onBadLine)
    }
}

/// The seeded per-user random split (EVALUATION.md: 8:1:1).
public struct SplitSettings: Sendable, Codable, Hashable {
    public var ratios = SplitRatios.recBole
    public var seed: UInt64 = 2024

    public init() {}
}

/// Which model trains and its loss settings.
public struct ModelSettings: Sendable, Codable, Hashable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        /// Matrix factorization with the BPR pairwise loss.
        case bprMF = "bpr_mf"
        /// Matrix factorization with pointwise logistic loss on positives and sampled negatives.
        case logisticMF = "logistic_mf"
    }

    public var kind = Kind.bprMF
    /// Table holding user embeddings.
    public var userTable = "user"
    /// Table holding item embeddings.
    public var itemTable = "item"
    /// L2 regularization added to the gradient of every row an example touches.
    public var l2: Float = 1e-4
    /// Sampled negatives per positive.
    public var negatives = 1

    public init() {}
}

/// How epochs run.
public struct TrainingSettings: Sendable, Codable, Hashable {
    public enum Consistency: String, Sendable, Codable, CaseIterable {
        /// Bulk-synchronous: every worker finishes step t before any starts t+1.
        case bsp
        /// Asynchronous: workers never wait for each other.
        case asp
    }

    public var epochs = 20
    /// Positive examples per step per worker.
    public var batchSize = 1024
    public var consistency = Consistency.bsp
    /// Seed of shuffling and negative sampling.
    public var seed: UInt64 = 1
    /// Stop after this many epochs without a better validation score; 0 never stops early.
    public var patience = 5
    /// Seconds between progress reports within an epoch.
    public var progressInterval = 5.0

    public init() {}
}

/// Evaluation after each epoch (full ranking).
public struct EvaluationSettings: Sendable, Codable, Hashable {
    /// Cut-off of the ranking metrics.
    public var k = 10
    /// Evaluate every this many epochs (and always after the last).
    public var every = 1
    /// Evaluate at most this many users, drawn with a fixed seed; 0 means all.
    public var maxUsers = 0

    public init() {}
}

/// Online serving.
public struct ServingSettings: Sendable, Codable, Hashable {
    /// Largest k a Recommend request may ask for.
    public var maxK = 1000
    /// Scenarios a request may name, each with its own policy ("" is the default scenario).
    public var scenarios: [String: ScenarioSettings] = [:]
    /// The default exploration policy (`exploration.policy`, the YAML key
    /// `serving.policy`) and the policies' knobs.
    public var exploration = ExplorationSettings()
    /// Users are grouped by 2^bits cones of their embedding for per-(group, item) counters.
    public var userGroupBits = 3
    /// Recommend, Score and Feedback calls served at once; more are refused with RESOURCE_EXHAUSTED.
    public var maxInFlight = 256
    /// Seed of exploration when a request brings none.
    public var seed: UInt64 = 7

    public init() {}

    /// The position of `scenario` among the configured scenarios (0 for the default one).
    public func scenarioIndex(of scenario: String) -> Int {
        guard !scenario.isEmpty else { return 0 }
        return (scenarios.keys.sorted().firstIndex(of: scenario) ?? -1) + 1
    }

    /// The policy for `scenario` ("" for the default scenario); nil for an unknown scenario.
    public func policy(for scenario: String) -> ExplorationPolicy? {
        if scenario.isEmpty { return exploration.policy }
        return scenarios[scenario].map { $0.policy ?? exploration.policy }
    }
}

/// One serving scenario.
public struct ScenarioSettings: Sendable, Codable, Hashable {
    /// The scenario's exploration policy; nil uses `serving.policy`.
    public var policy: ExplorationPolicy?

    public init(policy: ExplorationPolicy? = nil) {
        self.policy = policy
    }
}

/// Continuous learning from feedback.
public struct OnlineSettings: Sendable, Codable, Hashable {
    /// Online workers learning from the feedback log; 0 turns online learning off
    /// (feedback is still logged and counted nowhere).
    public var workers = 0
    /// Most events per online batch.
    public var batchSize = 256
    /// Write acknowledged feedback with fsync (durable); false is for benchmarks only.
    public var fsync = true
    /// Ratings at least this count as positive feedback.
    public var positiveRating: Float = 4

    public init() {}
}

/// The ranking stage: an MLP that re-scores retrieval candidates with user,
/// item and context features (see `Ranker`).
public struct RankingSettings: Sendable, Codable, Hashable {
    public var enabled = false
    /// Hidden widths of the ranking MLP.
    public var hidden = [64, 32]
    /// Retrieval candidates re-ranked per request (and per user in evaluation).
    public var candidates = 100
    /// The dense table holding the ranker's weights as blocks (declared under `tables`).
    public var denseTable = "dense"

    public init() {}
}
