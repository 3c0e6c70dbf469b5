/// The shape and training settings of a `MultiScenarioModel`. Every setting has a
/// default, so a config states only what differs.
///
/// Tables: `userTable` rows have `embeddingDim` values; `itemTable` rows have
/// `MultiScenarioModel.itemDim` values (`embeddingDim`, plus `1 + scenarios` bias
/// coordinates with `itemBias`); `denseTable` holds the user tower as blocks of
/// `denseBlockSize` from key `denseFirstKey` on.
public struct MultiScenarioConfig: Sendable, Hashable {
    /// How the user side depends on the scenario.
    public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
        /// STAR: star-topology layers, `W ⊙ W_s` and `b + b_s` per layer.
        case star
        /// MMoE: shared experts mixed by a per-scenario softmax gate, then a per-scenario tower.
        case mmoe
        /// Scenario-blind baseline: the STAR tower with a single partition (a plain MLP),
        /// every example in scenario 0. Also the model to train once per scenario for the
        /// one-model-per-scenario baseline.
        case blind
    }

    public var kind: Kind = .star
    /// Number of scenarios; examples carry ids `0..<scenarios` (ignored by `.blind`).
    public var scenarios = 3

    public var userTable = "user"
    public var itemTable = "item"
    public var denseTable = "dense"

    /// Dimension of user rows and of the tower output (the item embedding part).
    public var embeddingDim = 32
    /// `.star`/`.blind`: hidden widths between the star layers (`[]`: one star layer).
    public var starHidden: [Int] = []
    /// `.mmoe`: number of shared experts.
    public var experts = 4
    /// `.mmoe`: layer widths of each expert (an MLP over the user embedding, all layers activated).
    public var expertSizes: [Int] = [32]
    /// `.mmoe`: hidden widths of each scenario's tower (`[]`: one linear layer to `embeddingDim`).
    public var towerHidden: [Int] = []
    /// Nonlinearity between layers (tower outputs are linear).
    public var activation: Activation = .relu
    /// Dropout after hidden layers, in training.
    public var dropout: Float = 0
    /// Query = user embedding + tower output (instead of the tower output alone), so the
    /// model starts near matrix factorisation and the tower learns a correction.
    public var residual = true
    /// Give every item a shared bias and one bias per scenario, as extra coordinates of its
    /// row that the query meets with `1` and a one-hot of the scenario (the auxiliary
    /// scenario-bias term of STAR, in dot-product form).
    public var itemBias = true

    /// Scores are `query · item / temperature`.
    public var temperature: Float = 1
    public var loss: TwoTowerLoss = .sampledSoftmax
    /// Apply the log-Q correction (sampled softmax only, when the model has a `TwoTowerLogQ`).
    public var logQCorrection = true
    /// Weight decay `l2 · row` on every embedding row a step touches (not in the reported loss).
    public var l2: Float = 0
    /// Weight decay on the dense weights (each step).
    public var denseL2: Float = 0

    /// Values per dense block (the dense table's `dim`).
    public var denseBlockSize = 256
    /// Key of the first dense block.
    public var denseFirstKey: UInt64 = 0

    public init(kind: Kind = .star, scenarios: Int = 3) {
        self.kind = kind
        self.scenarios = scenarios
    }

    /// Throws `ModelError` naming the first setting out of range.
    public func validate() throws {
        func check(_ ok: Bool, _ message: String) throws {
            if !ok { throw ModelError("multi-scenario config: \(message)") }
        }
        try check(scenarios >= 1, "scenarios must be at least 1, got \(scenarios)")
        try check(embeddingDim >= 1, "embeddingDim must be positive")
        try check(experts >= 1 && !expertSizes.isEmpty, "MMoE needs at least one expert and expert sizes")
        try check((starHidden + expertSizes + towerHidden).allSatisfy { $0 >= 1 }, "layer widths must be positive")
        try check(dropout >= 0 && dropout < 1, "dropout must be in [0, 1), got \(dropout)")
        try check(temperature > 0 && temperature.isFinite, "temperature must be positive, got \(temperature)")
        try check(l2 >= 0 && denseL2 >= 0, "l2 and denseL2 must be >= 0")
        try check(denseBlockSize >= 1, "denseBlockSize must be positive")
        let names = [userTable, itemTable, denseTable]
        try check(Set(names).count == 3 && names.allSatisfy { !$0.isEmpty }, "table names must be distinct and non-empty: \(names)")
    }
}
