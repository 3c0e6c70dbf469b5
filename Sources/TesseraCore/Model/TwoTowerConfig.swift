/// The shape and training settings of a `TwoTowerModel`. Every setting has a default, so
/// a config states only what differs.
///
/// Tables: `userTable` and `itemTable` hold id embeddings of `embeddingDim`;
/// `featureTable` (nil: no item features) holds one `embeddingDim` row per feature value,
/// keyed by `ItemFeatures.key(column:value:)`; `denseTable` holds the towers' weights as
/// blocks of `denseBlockSize` (see `DenseBlocks`), keys from `denseFirstKey` on.
public struct TwoTowerConfig: Sendable, Hashable {
    public var userTable = "user"
    public var itemTable = "item"
    /// Item feature embeddings; nil turns features off (item tower over the id embedding only).
    public var featureTable: String? = "feature"
    public var denseTable = "dense"
    /// The `ItemFeatures` column whose values are the features (see `TwoTowerModel.init(config:features:)`).
    public var featureColumn = "genres"

    /// Dimension of user, item and feature rows.
    public var embeddingDim = 32
    /// Hidden layer widths of the user tower (`[]`: one linear layer).
    public var userHidden: [Int] = [64]
    /// Hidden layer widths of the item tower.
    public var itemHidden: [Int] = [64]
    /// Width of both towers' outputs: the dimension of user and item vectors.
    public var outputDim = 32
    /// Nonlinearity between tower layers (the output layer is linear).
    public var activation: Activation = .relu
    /// Dropout after hidden layers, in training.
    public var dropout: Float = 0

    /// L2-normalise both towers' outputs, so scores are cosine similarities divided by
    /// `temperature`. Without it, scores are raw dot products divided by `temperature`.
    /// Sampled softmax works best normalised with a small temperature; BPR learned better
    /// on raw dot products (`normalize = false`, `temperature = 1`) in our synthetic tests.
    public var normalize = true
    /// Scores are `u·v / temperature`. With normalisation, cosines lie in [-1, 1] and a
    /// small temperature (0.05–0.2) sharpens the softmax; without it, keep 1.
    public var temperature: Float = 0.1
    public var loss: TwoTowerLoss = .sampledSoftmax
    /// Apply the log-Q correction (sampled softmax only, when the model has a `TwoTowerLogQ`).
    public var logQCorrection = true

    /// Weight decay `l2 · row` added to the gradient of every embedding row a step touches
    /// (not part of the reported loss).
    public var l2: Float = 0
    /// Weight decay on the dense weights (each step).
    public var denseL2: Float = 0

    /// Values per dense block (the dense table's `dim`).
    public var denseBlockSize = 256
    /// Key of the first dense block (lets models share one dense table).
    public var denseFirstKey: UInt64 = 0

    public init() {}

    /// Throws `ModelError` naming the first setting out of range.
    public func validate() throws {
        func check(_ ok: Bool, _ message: String) throws {
            if !ok { throw ModelError("two-tower config: \(message)") }
        }
        try check(embeddingDim >= 1 && outputDim >= 1, "embeddingDim and outputDim must be positive")
        try check((userHidden + itemHidden).allSatisfy { $0 >= 1 }, "hidden sizes must be positive")
        try check(dropout >= 0 && dropout < 1, "dropout must be in [0, 1), got \(dropout)")
        try check(temperature > 0 && temperature.isFinite, "temperature must be positive, got \(temperature)")
        try check(l2 >= 0 && denseL2 >= 0, "l2 and denseL2 must be >= 0")
        try check(denseBlockSize >= 1, "denseBlockSize must be positive")
        let names = [userTable, itemTable, denseTable] + (featureTable.map { [$0] } ?? [])
        try check(Set(names).count == names.count && names.allSatisfy { !$0.isEmpty }, "table names must be distinct and non-empty: \(names)")
    }
}
