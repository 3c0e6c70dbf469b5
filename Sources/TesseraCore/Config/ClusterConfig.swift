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
    public var checkpoint = CheckpointSettings()
    /// A follower per shard that takes every acknowledged update (off by default).
    public var replication = ReplicationSettings()
    public var metrics = MetricsSettings()
    public var security = SecuritySettings()

    public init() {}

    /// The table named `name`.
    public func table(named name: String) -> TableSpec? {
        tables.first { $0.name == name }
    }

    /// The table whose rows Recommend scores (shards keep a serving index of it): the item
    /// table, or for `two_tower` the table the item tower's outputs are published to.
    public var servingTable: String {
        model.kind == .twoTower ? model.towers.servingTable : model.itemTable
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
    /// Keep only this scenario's interactions (by name), e.g. to train one model per scenario.
    public var onlyScenario: String?

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

/// How interactions are split into train, validation and test.
public struct SplitSettings: Sendable, Codable, Hashable {
    public enum Method: String, Sendable, Codable, CaseIterable {
        /// A seeded per-user random split by `ratios` (EVALUATION.md: 8:1:1).
        case random
        /// Each user's last interaction in time is the test item, the one before it the
        /// validation item (SASRec's protocol); users with fewer than 3 keep all for training.
        case leaveOneOut = "leave_one_out"
    }

    public var method = Method.random
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
        /// SASRec: a causal self-attention encoder over the user's recent items (`model.sequence`).
        case sasrec
        /// User and item MLP towers over id embeddings and item features (`model.towers`).
        case twoTower = "two_tower"
        /// Shared embeddings with a per-scenario user side, STAR or MMoE (`model.scenarios`).
        case multiScenario = "multi_scenario"

        /// Matrix factorization (BPR or logistic): user and item rows meet in a dot product.
        public var isMatrixFactorization: Bool { self == .bprMF || self == .logisticMF }
    }

    public var kind = Kind.bprMF
    /// Table holding user embeddings.
    public var userTable = "user"
    /// Table holding item embeddings.
    public var itemTable = "item"
    /// L2 regularization added to the gradient of every row an example touches.
    public var l2: Float = 1e-4
    /// Sampled negatives per positive (MF); extra uniform negatives per batch (towers).
    public var negatives = 1
    /// The table holding dense weights (towers, attention) as blocks; its `dim` is the block size.
    public var denseTable = "dense"
    /// `sasrec` settings.
    public var sequence = SequenceModelSettings()
    /// `two_tower` and `multi_scenario` settings.
    public var towers = TowerSettings()
    /// `multi_scenario` settings.
    public var scenarios = ScenarioModelSettings()

    public init() {}
}

/// SASRec's shape (Kang & McAuley's defaults for sparse data sets).
public struct SequenceModelSettings: Sendable, Codable, Hashable {
    /// Most recent items a user is represented by.
    public var maxLength = 50
    /// Self-attention blocks.
    public var blocks = 2
    /// Attention heads per block (must divide the item table's dim).
    public var heads = 1
    /// Dropout on embeddings, attention and inside the blocks (training only).
    public var dropout: Float = 0.5
    /// What each position is trained against.
    public var loss = Loss.bce
    /// Items sampled per batch for `sampled_softmax` (shared by every position).
    public var negatives = 256

    public enum Loss: String, Sendable, Codable, CaseIterable {
        /// One sampled negative per position, binary cross-entropy (the SASRec paper).
        case bce
        /// Softmax of the next item against `negatives` uniformly sampled items.
        case sampledSoftmax = "sampled_softmax"
    }

    public init() {}
}

/// The towers of `two_tower` (and the loss of both tower models).
public struct TowerSettings: Sendable, Codable, Hashable {
    public enum Loss: String, Sendable, Codable, CaseIterable {
        /// Softmax over the batch's items (in-batch negatives), log-Q corrected.
        case sampledSoftmax = "sampled_softmax"
        /// BPR against the batch's other items.
        case bpr
    }

    /// Hidden widths of the user tower.
    public var userHidden = [64]
    /// Hidden widths of the item tower.
    public var itemHidden = [64]
    /// Width of user and item vectors.
    public var outputDim = 32
    public var loss = Loss.sampledSoftmax
    /// Scores are u·v / temperature.
    public var temperature: Float = 0.1
    /// L2-normalise tower outputs (cosine scores).
    public var normalize = true
    /// Subtract log(item frequency) from in-batch logits (sampled softmax).
    public var logQCorrection = true
    /// Dropout after hidden layers (training only).
    public var dropout: Float = 0
    /// Table of item feature embeddings (from `data.item_features`); "" turns features off.
    public var featureTable = "feature"
    /// Table the scheduler publishes item vectors to, for serving (`two_tower` only).
    public var servingTable = "item_vectors"

    public init() {}
}

/// The scenario-specific part of `multi_scenario`.
public struct ScenarioModelSettings: Sendable, Codable, Hashable {
    public enum Topology: String, Sendable, Codable, CaseIterable {
        /// STAR: shared weights times per-scenario weights, element-wise.
        case star
        /// MMoE: shared experts mixed by a per-scenario gate, then a per-scenario tower.
        case mmoe
        /// No scenario part (the scenario-blind baseline).
        case blind
    }

    public var topology = Topology.star
    /// STAR: hidden widths between star layers.
    public var starHidden: [Int] = []
    /// MMoE: experts and their layer widths, and each scenario tower's hidden widths.
    public var experts = 4
    public var expertSizes = [32]
    public var towerHidden: [Int] = []

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
    public enum EvaluationProtocol: String, Sendable, Codable, CaseIterable {
        /// Rank every item the user has not interacted with in training.
        case full
        /// Rank the held-out item against `negatives` items drawn uniformly from those the
        /// user never interacted with (SASRec's protocol; needs `split.method: leave_one_out`).
        case sampled
    }

    public var `protocol` = EvaluationProtocol.full
    /// Sampled negatives per user (`protocol: sampled`).
    public var negatives = 100

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

/// Checkpoints of every shard's tables, with optimizer state.
public struct CheckpointSettings: Sendable, Codable, Hashable {
    /// Where checkpoints go; nil: `checkpoints/` in the run directory (`tessera launch`).
    public var directory: String?
    /// Checkpoint after every this many epochs (and after the last); 0 turns periodic checkpoints off.
    public var everyEpochs = 1
    /// Every this many checkpoints is a full one; the others hold only the rows changed since
    /// the previous checkpoint (incremental).
    public var fullEvery = 5

    public init() {}
}

/// Shard replication: a follower process per shard that applies every
/// mutation its leader acknowledges, and takes over when the leader dies.
public struct ReplicationSettings: Sendable, Codable, Hashable {
    /// Followers per shard: 0 (off) or 1.
    public var followers = 0

    public init() {}

    /// Whether shards have followers.
    public var enabled: Bool { followers > 0 }
}

/// The ranking stage: an MLP that re-scores retrieval candidates with user,
/// item and context features (see `Ranker`).
public struct RankingSettings: Sendable, Codable, Hashable {
    public var enabled = false
    /// Hidden widths of the ranking MLP.
    public var hidden = [64, 32]
    /// Retrieval candidates re-ranked per request (and per user in evaluation).
    public var candidates = 100
    /// The dense table holding the ranker's weights as blocks (declared under `tables`);
    /// its optimizer fits them.
    public var denseTable = "dense"
    /// Passes over the validation users' candidate lists when fitting (`RankerFitting`).
    public var epochs = 10

    public init() {}
}
