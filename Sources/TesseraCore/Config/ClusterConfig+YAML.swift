import Foundation
import Yams

/// One `key.path=value` setting from the command line, applied on top of a config file.
public struct ConfigOverride: Sendable, Hashable {
    /// Dotted path; list elements by index, e.g. `tables[0].dim`.
    public var path: String
    /// The value, as it would be written in YAML.
    public var value: String

    public init(path: String, value: String) {
        self.path = path
        self.value = value
    }

    /// Parses `key.path=value`.
    public init(parsing text: String) throws(ConfigError) {
        guard let equals = text.firstIndex(of: "="), equals != text.startIndex else {
            throw ConfigError(file: "command line", key: "", message: "expected key.path=value in '\(text)'")
        }
        path = String(text[..<equals])
        value = String(text[text.index(after: equals)...])
    }
}

extension ClusterConfig {
    /// Reads a config file, applies `overrides`, and validates the result.
    ///
    /// Relative data paths in the file are taken relative to the file's
    /// folder; relative paths in overrides, to the current directory. Errors
    /// name the file, line and key.
    public static func load(path: String, overrides: [ConfigOverride] = []) throws(ConfigError) -> ClusterConfig {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError(file: path, key: "", message: "cannot read the config file (\(error.localizedDescription))")
        }
        let folder = (path as NSString).deletingLastPathComponent
        return try parse(yaml: text, file: path, baseDirectory: folder.isEmpty ? "." : folder, overrides: overrides)
    }

    /// Parses YAML text; `file` names it in errors.
    public static func parse(yaml: String, file: String, baseDirectory: String = ".",
                             overrides: [ConfigOverride] = []) throws(ConfigError) -> ClusterConfig {
        let root = try ConfigNode.parse(yaml, file: file)
        let fileNode = try root.withOverrides(overrides)
        var config = try ClusterConfig(reading: fileNode)
        config.data.resolvePaths(fileBase: baseDirectory, overridden: Set(overrides.map(\.path)))
        return config
    }

    init(reading root: ConfigNode) throws(ConfigError) {
        self.init()
        name = try root.string("name", default: name)
        if let node = try root.child("scheduler") { scheduler = try SchedulerSettings(reading: node) }
        shards = try root.int("shards", default: shards, in: 1...1024)
        workers = try root.int("workers", default: workers, in: 1...1024)
        if let node = try root.child("ring") { ring = try RingSettings(reading: node) }
        if let node = try root.child("data") { data = try DataSettings(reading: node) }
        if let node = try root.child("split") { split = try SplitSettings(reading: node) }
        if let node = try root.child("model") { model = try ModelSettings(reading: node) }
        if let node = try root.child("tables") {
            tables = try node.sequence().map { node throws(ConfigError) in try TableSpec(reading: node) }
            var seen: Set<String> = []
            for (index, table) in tables.enumerated() where !seen.insert(table.name).inserted {
                throw try node.sequence()[index].error("table '\(table.name)' is declared twice")
            }
        }
        if let node = try root.child("training") { training = try TrainingSettings(reading: node) }
        if let node = try root.child("evaluation") { evaluation = try EvaluationSettings(reading: node) }
        if let node = try root.child("serving") { serving = try ServingSettings(reading: node) }
        if let node = try root.child("online") { online = try OnlineSettings(reading: node) }
        if let node = try root.child("metrics") { metrics = try MetricsSettings(reading: node) }
        if let node = try root.child("ranking") {
            ranking = try RankingSettings(reading: node)
            if ranking.enabled && table(named: ranking.denseTable) == nil {
                throw (try node.child("dense_table") ?? node).error(
                    "the ranking stage keeps its weights in table '\(ranking.denseTable)', which `tables` does not declare (add e.g. {name: \(ranking.denseTable), dim: 256, optimizer: {kind: adam, learning_rate: 0.001}, init: {kind: zeros}})")
            }
        }
        if let node = try root.child("checkpoint") { checkpoint = try CheckpointSettings(reading: node) }
        if let node = try root.child("security") { security = try SecuritySettings(reading: node) }
        if let node = try root.child("replication") { replication = try ReplicationSettings(reading: node) }
        try root.rejectUnknownKeys()
        try validateModelTables(root: root)
    }

    private func validateModelTables(root: ConfigNode) throws(ConfigError) {
        let modelNode = try root.child("model") ?? root
        let declared = tables.map(\.name).joined(separator: ", ")
        func require(_ key: String, _ name: String, at node: ConfigNode? = nil) throws(ConfigError) -> TableSpec {
            guard let spec = table(named: name) else {
                let at = try (node ?? modelNode).child(key) ?? node ?? modelNode
                throw at.error("model \(model.kind.rawValue) uses table '\(name)', which `tables` does not declare (declared: \(declared))")
            }
            return spec
        }
        func dims(_ message: String) throws(ConfigError) -> Never {
            throw (try root.child("tables") ?? root).error(message)
        }
        switch model.kind {
        case .bprMF, .logisticMF:
            let user = try require("user_table", model.userTable), item = try require("item_table", model.itemTable)
            if user.dim != item.dim {
                try dims("matrix factorization needs equal dimensions, but table '\(user.name)' has dim \(user.dim) and '\(item.name)' has dim \(item.dim)")
            }
        case .sasrec:
            let item = try require("item_table", model.itemTable)
            _ = try require("dense_table", model.denseTable)
            if item.dim % model.sequence.heads != 0 {
                throw (try modelNode.child("sequence")?.child("heads") ?? modelNode).error(
                    "\(model.sequence.heads) heads do not divide the item table's dim \(item.dim)")
            }
        case .twoTower:
            let user = try require("user_table", model.userTable), item = try require("item_table", model.itemTable)
            _ = try require("dense_table", model.denseTable)
            if user.dim != item.dim {
                try dims("the two-tower model needs equal user and item dims, but '\(user.name)' has \(user.dim) and '\(item.name)' has \(item.dim)")
            }
            let towers = try modelNode.child("towers")
            if data.itemFeatures != nil && !model.towers.featureTable.isEmpty {
                let feature = try require("feature_table", model.towers.featureTable, at: towers)
                if feature.dim != item.dim { try dims("feature table '\(feature.name)' needs dim \(item.dim) (the item table's), got \(feature.dim)") }
            }
            let serving = try require("serving_table", model.towers.servingTable, at: towers)
            if serving.dim != model.towers.outputDim {
                try dims("serving table '\(serving.name)' holds item vectors: its dim must be towers.output_dim (\(model.towers.outputDim)), got \(serving.dim)")
            }
        case .multiScenario:
            let user = try require("user_table", model.userTable), item = try require("item_table", model.itemTable)
            _ = try require("dense_table", model.denseTable)
            let partitions = model.scenarios.topology == .blind ? 1 : scenarioCount
            if item.dim != user.dim + 1 + partitions {
                try dims("the multi-scenario item table carries a shared bias and one per scenario: '\(item.name)' needs dim \(user.dim + 1 + partitions) ('\(user.name)' dim \(user.dim) + 1 + \(partitions) scenarios), got \(item.dim)")
            }
            if scenarioCount < 2 && model.scenarios.topology != .blind {
                throw modelNode.error("a multi-scenario model needs data with scenarios (data.scenarios, or data.synthetic.scenarios >= 2)")
            }
        }
        if ranking.enabled && !model.kind.isMatrixFactorization {
            throw (try root.child("ranking") ?? root).error("the ranking stage re-scores matrix factorization candidates; model \(model.kind.rawValue) does not support it yet")
        }
        if online.workers > 0 && !model.kind.isMatrixFactorization {
            throw (try root.child("online")?.child("workers") ?? root).error(
                "online workers learn matrix factorization from feedback; model \(model.kind.rawValue) trains offline only (set online.workers: 0)")
        }
        if evaluation.protocol == .sampled && split.method != .leaveOneOut {
            throw (try root.child("evaluation")?.child("protocol") ?? root).error(
                "the sampled protocol ranks each user's one held-out item: it needs `split: {method: leave_one_out}`")
        }
    }

    /// Scenarios the data will have: the grouping's, else the synthetic generator's (1 if neither).
    public var scenarioCount: Int {
        if let grouping = data.scenarios { return grouping.names.count }
        return data.mode == .synthetic ? data.synthetic.scenarios : 1
    }
}

// MARK: Sections

extension SchedulerSettings {
    init(reading node: ConfigNode) throws(ConfigError) {
        self.init()
        host = try node.string("host", default: host)
        port = try node.int("port", default: port, in: 0...65535)
        heartbeatInterval = try node.double("heartbeat_interval", default: heartbeatInterval, in: 0.05...60)
        heartbeatTimeout = try node.double("heartbeat_timeout", default: heartbeatTimeout, in: 0.5...3600)
        registrationTimeout = try node.double("registration_timeout", default: registrationTimeout, in: 1...86400)
        try node.rejectUnknownKeys()
        if heartbeatTimeout <= heartbeatInterval {
            throw (try node.child("heartbeat_timeout") ?? node).error(
                "must exceed heartbeat_interval (\(heartbeatInterval) s), or every member would look dead")
        }
    }
}

extension RingSettings {
    init(reading node: ConfigNode) throws(ConfigError) {
        self.init()
        virtualNodes = try node.int("virtual_nodes", default: virtualNodes, in: 1...4096)
        seed = UInt64(try node.int("seed", default: Int(seed), in: 0...Int.max))
        try node.rejectUnknownKeys()
    }
}

extension DataSettings {
    init(reading node: ConfigNode) throws(ConfigError) {
        self.init()
        path = try node.child("path")?.string()
        train = try node.child("train")?.string()
        valid = try node.child("valid")?.string()
        test = try node.child("test")?.string()
        if let formatNode = try node.child("format") {
            format = DataFormat(rawValue: try formatNode.choice(DataFormat.allCases.map(\.rawValue))) ?? .auto
        }
        if let columnsNode = try node.child("columns") {
            var names = ColumnNames()
            names.user = try columnsNode.string("user", default: names.user)
            names.item = try columnsNode.string("item", default: names.item)
            for (key, keyPath) in [("rating", \ColumnNames.rating), ("timestamp", \.timestamp), ("scenario", \.scenario)] {
                if let value = try columnsNode.child(key) { names[keyPath: keyPath] = try value.string() }
            }
            try columnsNode.rejectUnknownKeys()
            columns = names
        }
        if let value = try node.child("min_rating") { minRating = Float(try value.double()) }
        onBadLine = BadLinePolicy(rawValue: try node.choice("on_bad_line", ["error", "skip"], default: "error")) ?? .error
        if let syntheticNode = try node.child("synthetic") { synthetic = try SyntheticSpec(reading: syntheticNode) }
        if let featuresNode = try node.child("item_features") {
            guard let pathNode = try featuresNode.child("path") else { throw featuresNode.error("item features need a `path`") }
            var source = ItemFeatureSource(path: try pathNode.string())
            source.idColumn = try featuresNode.string("id_column", default: source.idColumn)
            source.column = try featuresNode.string("column", default: source.column)
            source.separator = try featuresNode.string("separator", default: source.separator)
            try featuresNode.rejectUnknownKeys()
            guard source.separator.count == 1 else {
                throw (try featuresNode.child("separator") ?? featuresNode).error("must be one character, got '\(source.separator)'")
            }
            itemFeatures = source
        }
        if let scenariosNode = try node.child("scenarios") {
            if let name = try? scenariosNode.string() {
                guard name == "movielens_genres" else {
                    throw scenariosNode.error("unknown scenario grouping '\(name)' (expected movielens_genres, or a mapping of scenario names to feature values)")
                }
                scenarios = .movieLensGenres
            } else {
                var groups: [ScenarioGrouping.Group] = []
                for name in try scenariosNode.keys() {
                    guard let valuesNode = try scenariosNode.child(name) else { continue }
                    groups.append(.init(name: name, values: try valuesNode.sequence().map { node throws(ConfigError) in try node.string() }))
                }
                scenarios = ScenarioGrouping(groups: groups)
            }
            if itemFeatures == nil {
                throw scenariosNode.error("scenarios by item feature need `item_features`")
            }
        }
        onlyScenario = try node.child("only_scenario")?.string()
        try node.rejectUnknownKeys()
        if path != nil && (train != nil || test != nil) {
            throw node.error("give either `path` (split by `split`) or `train`/`valid`/`test` files, not both")
        }
        if (train == nil) != (test == nil) {
            throw node.error("pre-split data needs both `train` and `test` (and optionally `valid`)")
        }
        if valid != nil && train == nil {
            throw (try node.child("valid") ?? node).error("`valid` needs `train` and `test` too")
        }
    }

    /// Makes relative paths absolute: from the config file's folder, or from
    /// the current directory for keys set on the command line.
    mutating func resolvePaths(fileBase: String, overridden: Set<String>) {
        let cwd = FileManager.default.currentDirectoryPath
        func resolve(_ path: String?, key: String) -> String? {
            guard let path, !path.hasPrefix("/") else { return path }
            let base = overridden.contains("data.\(key)") ? cwd : (fileBase.hasPrefix("/") ? fileBase : "\(cwd)/\(fileBase)")
            return URL(fileURLWithPath: "\(base)/\(path)").standardizedFileURL.path
        }
        self.path = resolve(self.path, key: "path")
        if var features = itemFeatures {
            features.path = resolve(features.path, key: "item_features.path") ?? features.path
            itemFeatures = features
        }
        train = resolve(train, key: "train")
        valid = resolve(valid, key: "valid")
        test = resolve(test, key: "test")
    }
}

extension SyntheticSpec {
    init(reading node: ConfigNode) throws(ConfigError) {
        self.init()
        users = try node.int("users", default: users, in: 1...100_000_000)
        items = try node.int("items", default: items, in: 2...100_000_000)
        interactionsPerUser = try node.int("interactions_per_user", default: interactionsPerUser, in: 1...1_000_000)
        minInteractionsPerUser = try node.int("min_interactions_per_user", default: minInteractionsPerUser, in: 1...1_000_000)
        clusters = try node.int("clusters", default: clusters, in: 1...100_000)
        latentDim = try node.int("latent_dim", default: latentDim, in: 1...4096)
        noise = Float(try node.double("noise", default: Double(noise), in: 0...100))
        temperature = Float(try node.double("temperature", default: Double(temperature), in: 1e-6...1e6))
        popularityAlpha = Float(try node.double("popularity_alpha", default: Double(popularityAlpha), in: 0...10))
        seed = UInt64(try node.int("seed", default: Int(seed), in: 0...Int.max))
        newItems = try node.int("new_items", default: newItems, in: 0...100_000_000)
        scenarios = try node.int("scenarios", default: scenarios, in: 1...64)
        scenarioStrength = Float(try node.double("scenario_strength", default: Double(scenarioStrength), in: 0...100))
        try node.rejectUnknownKeys()
        do {
            try validate()
        } catch {
            throw node.error("\(error)")
        }
    }
}

extension SplitSettings {
    init(reading node: ConfigNode) throws(ConfigError) {
        self.init()
        let train = try node.double("train", default: ratios.train, in: 0...1)
        let valid = try node.double("valid", default: ratios.valid, in: 0...1)
        let test = try node.double("test", default: ratios.test, in: 0...1)
        method = Method(rawValue: try node.choice("method", Method.allCases.map(\.rawValue), default: method.rawValue)) ?? .random
        seed = UInt64(try node.int("seed", default: Int(seed), in: 0...Int.max))
        try node.rejectUnknownKeys()
        if abs(train + valid + test - 1) > 1e-6 || train <= 0 {
            throw node.error("train + valid + test must be 1 with train > 0 (got \(train) + \(valid) + \(test))")
        }
        ratios = SplitRatios(train: train, valid: valid, test: test)
    }
}

extension ModelSettings {
    init(reading node: ConfigNode) throws(ConfigError) {
        self.init()
        kind = Kind(rawValue: try node.choice("kind", Kind.allCases.map(\.rawValue), default: kind.rawValue)) ?? .bprMF
        userTable = try node.string("user_table", default: userTable)
        itemTable = try node.string("item_table", default: itemTable)
        l2 = Float(try node.double("l2", default: Double(l2), in: 0...1e6))
        negatives = try node.int("negatives", default: negatives, in: 0...100_000)
        denseTable = try node.string("dense_table", default: denseTable)
        if let child = try node.child("sequence") { sequence = try SequenceModelSettings(reading: child) }
        if let child = try node.child("towers") { towers = try TowerSettings(reading: child) }
        if let child = try node.child("scenarios") { scenarios = try ScenarioModelSettings(reading: child) }
        try node.rejectUnknownKeys()
        if kind.isMatrixFactorization && negatives < 1 {
            throw (try node.child("negatives") ?? node).error("matrix factorization needs at least 1 negative per positive")
        }
    }
}

extension SequenceModelSettings {
    init(reading node: ConfigNode) throws(ConfigError) {
        self.init()
        maxLength = try node.int("max_length", default: maxLength, in: 1...4096)
        blocks = try node.int("blocks", default: blocks, in: 1...64)
        heads = try node.int("heads", default: heads, in: 1...64)
        dropout = Float(try node.double("dropout", default: Double(dropout), in: 0...0.99))
        loss = Loss(rawValue: try node.choice("loss", Loss.allCases.map(\.rawValue), default: loss.rawValue)) ?? loss
        negatives = try node.int("negatives", default: negatives, in: 1...1_000_000)
        try node.rejectUnknownKeys()
    }
}

extension TowerSettings {
    init(reading node: ConfigNode) throws(ConfigError) {
        self.init()
        if let child = try node.child("user_hidden") { userHidden = try child.widths() }
        if let child = try node.child("item_hidden") { itemHidden = try child.widths() }
        outputDim = try node.int("output_dim", default: outputDim, in: 1...65_536)
        loss = Loss(rawValue: try node.choice("loss", Loss.allCases.map(\.rawValue), default: loss.rawValue)) ?? .sampledSoftmax
        temperature = Float(try node.double("temperature", default: Double(temperature), in: 1e-4...1e4))
        normalize = try node.bool("normalize", default: normalize)
        logQCorrection = try node.bool("log_q_correction", default: logQCorrection)
        dropout = Float(try node.double("dropout", default: Double(dropout), in: 0...0.99))
        featureTable = try node.string("feature_table", default: featureTable)
        servingTable = try node.string("serving_table", default: servingTable)
        try node.rejectUnknownKeys()
    }
}

extension ScenarioModelSettings {
    init(reading node: ConfigNode) throws(ConfigError) {
        self.init()
        topology = Topology(rawValue: try node.choice("topology", Topology.allCases.map(\.rawValue), default: topology.rawValue)) ?? .star
        if let child = try node.child("star_hidden") { starHidden = try child.widths() }
        experts = try node.int("experts", default: experts, in: 1...256)
        if let child = try node.child("expert_sizes") { expertSizes = try child.widths() }
        if let child = try node.child("tower_hidden") { towerHidden = try child.widths() }
        try node.rejectUnknownKeys()
    }
}

extension ConfigNode {
    /// A list of layer widths, each in 1...65,536.
    func widths() throws(ConfigError) -> [Int] {
        try sequence().map { node throws(ConfigError) in try node.int(in: 1...65_536) }
    }
}

extension TrainingSettings {
    init(reading node: ConfigNode) throws(ConfigError) {
        self.init()
        epochs = try node.int("epochs", default: epochs, in: 1...100_000)
        batchSize = try node.int("batch_size", default: batchSize, in: 1...10_000_000)
        consistency = Consistency(rawValue: try node.choice("consistency", Consistency.allCases.map(\.rawValue),
                                                            default: consistency.rawValue)) ?? .bsp
        seed = UInt64(try node.int("seed", default: Int(seed), in: 0...Int.max))
        patience = try node.int("patience", default: patience, in: 0...100_000)
        progressInterval = try node.double("progress_interval", default: progressInterval, in: 0.1...3600)
        try node.rejectUnknownKeys()
    }
}

extension EvaluationSettings {
    init(reading node: ConfigNode) throws(ConfigError) {
        self.init()
        k = try node.int("k", default: k, in: 1...10_000)
        every = try node.int("every", default: every, in: 1...100_000)
        maxUsers = try node.int("max_users", default: maxUsers, in: 0...Int.max)
        `protocol` = EvaluationProtocol(rawValue: try node.choice("protocol", EvaluationProtocol.allCases.map(\.rawValue), default: `protocol`.rawValue)) ?? .full
        negatives = try node.int("negatives", default: negatives, in: 1...1_000_000)
        try node.rejectUnknownKeys()
    }
}

extension ServingSettings {
    init(reading node: ConfigNode) throws(ConfigError) {
        self.init()
        maxK = try node.int("max_k", default: maxK, in: 1...1_000_000)
        if let explorationNode = try node.child("exploration") { exploration = try ExplorationSettings(reading: explorationNode) }
        if let policyNode = try node.child("policy") { exploration.policy = try Self.policy(policyNode) }
        if let scenariosNode = try node.child("scenarios") {
            for name in try scenariosNode.keys() {
                var settings = ScenarioSettings()
                if let scenario = try scenariosNode.child(name) {
                    if let policyNode = try scenario.child("policy") { settings.policy = try Self.policy(policyNode) }
                    try scenario.rejectUnknownKeys()
                }
                scenarios[name] = settings
            }
        }
        userGroupBits = try node.int("user_group_bits", default: userGroupBits, in: 0...12)
        maxInFlight = try node.int("max_in_flight", default: maxInFlight, in: 1...1_000_000)
        seed = UInt64(try node.int("seed", default: Int(seed), in: 0...Int.max))
        try node.rejectUnknownKeys()
    }

    private static func policy(_ node: ConfigNode) throws(ConfigError) -> ExplorationPolicy {
        ExplorationPolicy(rawValue: try node.choice(ExplorationPolicy.allCases.map(\.rawValue))) ?? .greedy
    }
}

extension ExplorationSettings {
    init(reading node: ConfigNode) throws(ConfigError) {
        self.init()
        epsilon = try node.double("epsilon", default: epsilon, in: 0...1)
        ucbC = try node.double("ucb_c", default: ucbC, in: 0...1e6)
        priorStrength = try node.double("prior_strength", default: priorStrength, in: 1e-9...1e9)
        priorSlope = try node.double("prior_slope", default: priorSlope, in: 0...1e6)
        if let offset = try node.child("prior_offset") { priorOffset = try offset.double() }
        groupMinImpressions = try node.double("group_min_impressions", default: groupMinImpressions, in: 0...1e12)
        candidateMultiplier = try node.int("candidate_multiplier", default: candidateMultiplier, in: 1...1000)
        explorePool = try node.int("explore_pool", default: explorePool, in: 0...1000)
        try node.rejectUnknownKeys()
        do {
            try validate()
        } catch {
            throw node.error(error.message)
        }
    }
}

extension RankingSettings {
    init(reading node: ConfigNode) throws(ConfigError) {
        self.init()
        enabled = try node.bool("enabled", default: enabled)
        if let hiddenNode = try node.child("hidden") { hidden = try hiddenNode.widths() }
        candidates = try node.int("candidates", default: candidates, in: 1...100_000)
        denseTable = try node.string("dense_table", default: denseTable)
        epochs = try node.int("epochs", default: epochs, in: 1...10_000)
        try node.rejectUnknownKeys()
    }
}

extension CheckpointSettings {
    init(reading node: ConfigNode) throws(ConfigError) {
        self.init()
        directory = try node.child("directory")?.string()
        everyEpochs = try node.int("every_epochs", default: everyEpochs, in: 0...1_000_000)
        fullEvery = try node.int("full_every", default: fullEvery, in: 1...1_000_000)
        try node.rejectUnknownKeys()
    }
}

extension OnlineSettings {
    init(reading node: ConfigNode) throws(ConfigError) {
        self.init()
        workers = try node.int("workers", default: workers, in: 0...1024)
        batchSize = try node.int("batch_size", default: batchSize, in: 1...1_000_000)
        fsync = try node.bool("fsync", default: fsync)
        positiveRating = Float(try node.double("positive_rating", default: Double(positiveRating)))
        try node.rejectUnknownKeys()
    }
}

extension TableSpec {
    init(reading node: ConfigNode) throws(ConfigError) {
        guard let nameNode = try node.child("name") else { throw node.error("a table needs a `name`") }
        let name = try nameNode.string()
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }) else {
            throw nameNode.error("table names use letters, digits, '_' and '-' (got '\(name)')")
        }
        let dim = try node.int("dim", default: 64, in: 1...TableSpec.maxDim)
        let optimizer = try OptimizerSpec(reading: try node.child("optimizer"), at: node)
        let initializer = try InitializerSpec(reading: try node.child("init"), at: node)
        let seed = UInt64(try node.int("seed", default: Int(Hashing.hash(name) >> 1), in: 0...Int.max))
        let lifecycle = TableLifecycle(admitAfter: try node.int("admit_after", default: 0, in: 0...65_535),
                                       ttlSeconds: try node.double("ttl_seconds", default: 0, in: 0...1e9),
                                       maxRows: try node.int("max_rows", default: 0, in: 0...Int(UInt32.max) * 64))
        try node.rejectUnknownKeys()
        self.init(name: name, dim: dim, optimizer: optimizer, initializer: initializer, seed: seed,
                  lifecycle: lifecycle == TableLifecycle() ? nil : lifecycle)
        do {
            try validate()
        } catch {
            throw node.error("\(error)")
        }
    }
}

extension OptimizerSpec {
    init(reading node: ConfigNode?, at parent: ConfigNode) throws(ConfigError) {
        guard let node else {
            self = .adagrad(learningRate: 0.05)
            return
        }
        let kind = try node.choice("kind", ["sgd", "adagrad", "adam", "ftrl"], default: "adagrad")
        func rate(_ key: String, _ value: Float) throws(ConfigError) -> Float {
            Float(try node.double(key, default: Double(value), in: 0...1e6))
        }
        switch kind {
        case "sgd":
            self = .sgd(learningRate: try rate("learning_rate", 0.05))
        case "adam":
            self = .adam(learningRate: try rate("learning_rate", 0.001), beta1: try rate("beta1", 0.9),
                         beta2: try rate("beta2", 0.999), epsilon: try rate("epsilon", 1e-8))
        case "ftrl":
            self = .ftrl(alpha: try rate("alpha", 0.05), beta: try rate("beta", 1), l1: try rate("l1", 0), l2: try rate("l2", 0))
        default:
            self = .adagrad(learningRate: try rate("learning_rate", 0.05),
                            initialAccumulator: try rate("initial_accumulator", 0.1), epsilon: try rate("epsilon", 1e-10))
        }
        try node.rejectUnknownKeys()
        do {
            try validate()
        } catch {
            throw node.error("\(error)")
        }
    }
}

extension ReplicationSettings {
    init(reading node: ConfigNode) throws(ConfigError) {
        if let count = try node.child("followers") {
            let value = try count.int()
            guard value == 0 || value == 1 else {
                throw count.error("followers per shard must be 0 (no replication) or 1, found \(value); more than one follower per shard is not supported")
            }
            followers = value
        }
        try node.rejectUnknownKeys()
    }
}

extension InitializerSpec {
    init(reading node: ConfigNode?, at parent: ConfigNode) throws(ConfigError) {
        guard let node else {
            self = .normal(std: 0.1)
            return
        }
        switch try node.choice("kind", ["normal", "uniform", "zeros", "constant"], default: "normal") {
        case "uniform": self = .uniform(limit: Float(try node.double("limit", default: 0.1, in: 0...1e6)))
        case "zeros": self = .zeros
        case "constant": self = .constant(value: Float(try node.double("value", default: 0)))
        default: self = .normal(std: Float(try node.double("std", default: 0.1, in: 0...1e6)))
        }
        try node.rejectUnknownKeys()
    }
}

// MARK: Overrides

extension ConfigNode {
    /// A copy of this (root) node with `overrides` applied.
    func withOverrides(_ overrides: [ConfigOverride]) throws(ConfigError) -> ConfigNode {
        guard !overrides.isEmpty else { return self }
        var root = node
        if root.mapping == nil { root = .mapping(Node.Mapping([])) }
        for override in overrides {
            let parts = try Self.pathComponents(override.path)
            let value = (try? Yams.compose(yaml: override.value)) ?? nil
            let scalar = value ?? Node(override.value)
            root = try Self.setting(scalar, at: parts[...], in: root, override: override)
        }
        return ConfigNode(file: file, path: "", node: root, overridden: Set(overrides.map(\.path)))
    }

    private enum PathComponent {
        case key(String)
        case index(Int)
    }

    private static func pathComponents(_ path: String) throws(ConfigError) -> [PathComponent] {
        var parts: [PathComponent] = []
        for piece in path.split(separator: ".", omittingEmptySubsequences: false) {
            var rest = Substring(piece)
            guard let nameEnd = rest.firstIndex(of: "[") ?? Optional(rest.endIndex) else { continue }
            let name = rest[..<nameEnd]
            guard !name.isEmpty else {
                throw ConfigError(file: "command line", key: path, message: "empty key in path '\(path)'")
            }
            parts.append(.key(String(name)))
            rest = rest[nameEnd...]
            while rest.first == "[" {
                guard let close = rest.firstIndex(of: "]"), let index = Int(rest[rest.index(after: rest.startIndex)..<close]), index >= 0 else {
                    throw ConfigError(file: "command line", key: path, message: "bad list index in '\(path)'")
                }
                parts.append(.index(index))
                rest = rest[rest.index(after: close)...]
            }
            guard rest.isEmpty else {
                throw ConfigError(file: "command line", key: path, message: "unexpected '\(rest)' in '\(path)'")
            }
        }
        return parts
    }

    private static func setting(_ value: Node, at path: ArraySlice<PathComponent>, in node: Node,
                                override: ConfigOverride) throws(ConfigError) -> Node {
        guard let first = path.first else { return value }
        let rest = path.dropFirst()
        switch first {
        case .key(let key):
            var mapping = node.mapping ?? Node.Mapping([])
            let child = mapping[key] ?? .mapping(Node.Mapping([]))
            mapping[key] = try setting(value, at: rest, in: child, override: override)
            return .mapping(mapping)
        case .index(let index):
            // An index one past the end appends (e.g. --set tables[2]={name: dense, dim: 256}).
            guard var sequence = node.sequence, index <= sequence.count else {
                throw ConfigError(file: "command line", key: override.path,
                                  message: "index \(index) is past the end of the list (use \(node.sequence?.count ?? 0) to append)")
            }
            if index == sequence.count {
                sequence.append(try setting(value, at: rest, in: .mapping(Node.Mapping([])), override: override))
            } else {
                sequence[index] = try setting(value, at: rest, in: sequence[index], override: override)
            }
            return .sequence(sequence)
        }
    }
}
