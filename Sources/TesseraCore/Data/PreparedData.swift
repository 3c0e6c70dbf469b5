/// Training and held-out interactions ready for a job, from any data setting.
public struct PreparedData: Sendable {
    public var train: [Interaction] = []
    public var valid: [Interaction] = []
    public var test: [Interaction] = []
    /// Every item of the data set: the ranking universe and the negative-sampling pool.
    public var items: [UInt64] = []
    /// Raw ids of non-numeric keys.
    public var names: [UInt64: String] = [:]
    /// Malformed lines skipped under `on_bad_line: skip`, and the first few messages.
    public var skippedLines = 0
    public var skippedExamples: [String] = []
    /// Where the data came from, for logs.
    public var description = ""
    /// Item features, when the settings name them.
    public var itemFeatures: ItemFeatures?
    /// Scenario names by id, when interactions have scenarios.
    public var scenarioNames: [String] = []

    public init() {}

    /// The id of `key` as it appears in the data.
    public func rawID(for key: UInt64) -> String {
        names[key] ?? String(key)
    }

    /// Loads the data `settings` name and splits it as `split` says.
    ///
    /// - Parameters:
    ///   - keepUser: users to keep (a worker's data shard); the item universe still covers all data.
    ///   - heldOut: whether validation and test parts are needed (the scheduler's
    ///     evaluator) or only training data (a worker).
    /// - Throws: `DataError` naming the file and line of malformed input.
    public static func load(_ settings: DataSettings, split: SplitSettings, keepUser: (UInt64) -> Bool = { _ in true },
                            heldOut: Bool = true) throws -> PreparedData {
        var prepared = PreparedData()
        switch settings.mode {
        case .synthetic:
            let data = try SyntheticGenerator(spec: settings.synthetic).generate(keepUser: keepUser)
            prepared.absorb(data, splitting: split)
            let s = settings.synthetic
            prepared.description = "synthetic (\(s.users) users, \(s.items) items, ~\(s.interactionsPerUser) per user, seed \(s.seed))"
        case .file:
            let path = settings.path ?? ""
            prepared.absorb(try DataReader.read(settings.source(path), keepUser: keepUser), splitting: split)
            prepared.description = path
        case .presplit:
            let train = try DataReader.read(settings.source(settings.train ?? ""), keepUser: keepUser)
            var parts = [train]
            prepared.train = InteractionSplit.dedupe(train.interactions)
            if heldOut {
                if let path = settings.valid {
                    let valid = try DataReader.read(settings.source(path), keepUser: keepUser)
                    prepared.valid = InteractionSplit.dedupe(valid.interactions)
                    parts.append(valid)
                }
                let test = try DataReader.read(settings.source(settings.test ?? ""), keepUser: keepUser)
                prepared.test = InteractionSplit.dedupe(test.interactions)
                parts.append(test)
            }
            let merged = LoadedData.merge(parts)
            prepared.items = merged.items
            prepared.names = merged.names
            prepared.skippedLines = merged.skippedLines
            prepared.skippedExamples = merged.skippedExamples
            prepared.description = [settings.train, settings.valid, settings.test].compactMap { $0 }.joined(separator: ", ")
        }
        if let source = settings.itemFeatures {
            let features = try ItemFeatures.read(source)
            prepared.itemFeatures = features
            if let grouping = settings.scenarios {
                prepared.train = grouping.assign(prepared.train, features: features)
                prepared.valid = grouping.assign(prepared.valid, features: features)
                prepared.test = grouping.assign(prepared.test, features: features)
                prepared.scenarioNames = grouping.names
            }
        }
        if prepared.scenarioNames.isEmpty, settings.mode == .synthetic, settings.synthetic.scenarios > 1 {
            prepared.scenarioNames = (0..<settings.synthetic.scenarios).map { "scenario-\($0)" }
        }
        if let name = settings.onlyScenario {
            guard let id = prepared.scenarioNames.firstIndex(of: name) else {
                throw DataError(.invalidArgument, file: "data.only_scenario", message: "no scenario named '\(name)' (scenarios: \(prepared.scenarioNames.joined(separator: ", ")))")
            }
            prepared.train.removeAll { $0.scenario != id }
            prepared.valid.removeAll { $0.scenario != id }
            prepared.test.removeAll { $0.scenario != id }
            prepared.description += ", scenario \(name) only"
        }
        return prepared
    }

    private mutating func absorb(_ data: LoadedData, splitting settings: SplitSettings) {
        let parts = switch settings.method {
        case .random: InteractionSplit.split(data.interactions, ratios: settings.ratios, seed: settings.seed)
        case .leaveOneOut: InteractionSplit.leaveOneOut(data.interactions)
        }
        train = parts.train
        valid = parts.valid
        test = parts.test
        items = data.items
        names = data.names
        skippedLines = data.skippedLines
        skippedExamples = data.skippedExamples
    }
}
