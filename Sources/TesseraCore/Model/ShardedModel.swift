/// A model whose parameters all live in tables on the parameter server:
/// embedding rows in embedding tables, and dense weights (towers, attention,
/// gates) as keyed blocks of a dense table, pulled, pushed and optimized like rows.
///
/// A model is a value that knows its shapes; it never holds parameters. Each
/// training step names the rows it needs (`keys`), gets them pulled, and returns
/// the loss gradients for exactly those rows (`gradients`), which the trainer
/// pushes. The same split serves evaluation and serving (`userVectors`,
/// `itemVectors`): rows in, vectors out.
public protocol ShardedModel: Sendable {
    /// One step's examples.
    associatedtype Batch: Sendable

    /// The rows a step needs, per table: unique keys.
    func keys(for batch: Batch) -> [String: [UInt64]]

    /// Loss and gradients of `batch` given the pulled rows (`rows[table]` is
    /// row-major, aligned with `keys(for:)[table]`). Gradients are summed per
    /// row, aligned the same way.
    func gradients(for batch: Batch, rows: [String: [Float]], seed: UInt64) throws -> ModelStep
}

/// What one step computed.
public struct ModelStep: Sendable {
    /// Per table, row-major gradients aligned with the step's keys.
    public var gradients: [String: [Float]]
    /// Sum of the per-example loss.
    public var lossSum: Double
    /// Examples (positives) in the step.
    public var examples: Int

    public init(gradients: [String: [Float]], lossSum: Double, examples: Int) {
        self.gradients = gradients
        self.lossSum = lossSum
        self.examples = examples
    }
}

/// Dense weights stored as fixed-size blocks, the rows of a dense table.
///
/// Block `b` holds values `[b*blockSize, (b+1)*blockSize)` of the model's flat
/// parameter vector (the last block zero-padded), under key `firstKey + b`.
public struct DenseBlocks: Sendable, Hashable {
    /// The dense table's name in the config (its `dim` is the block size).
    public var table: String
    public var blockSize: Int
    /// Values of the model's flat parameter vector.
    public var parameterCount: Int
    /// Key of block 0 (lets several models share one dense table).
    public var firstKey: UInt64

    public init(table: String, blockSize: Int, parameterCount: Int, firstKey: UInt64 = 0) {
        precondition(blockSize > 0 && parameterCount >= 0)
        self.table = table
        self.blockSize = blockSize
        self.parameterCount = parameterCount
        self.firstKey = firstKey
    }

    public var blockCount: Int { (parameterCount + blockSize - 1) / blockSize }

    /// Every block's key.
    public var keys: [UInt64] { (0..<UInt64(blockCount)).map { firstKey + $0 } }

    /// The flat parameter vector from pulled blocks (row-major, in `keys` order).
    public func flatten(_ rows: [Float]) -> [Float] {
        precondition(rows.count == blockCount * blockSize, "\(rows.count) values for \(blockCount) blocks of \(blockSize)")
        return Array(rows.prefix(parameterCount))
    }

    /// Blocks (in `keys` order) from a flat vector, the last zero-padded.
    public func blocks(_ flat: [Float]) -> [Float] {
        precondition(flat.count == parameterCount, "\(flat.count) values for \(parameterCount) parameters")
        return flat + [Float](repeating: 0, count: blockCount * blockSize - parameterCount)
    }
}
