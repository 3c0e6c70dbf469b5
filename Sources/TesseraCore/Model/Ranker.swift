import Foundation

/// The ranking stage: re-scores retrieval candidates with an MLP over user,
/// item and context features.
///
/// Features of a (user, item, scenario) triple: the user vector u and item
/// vector v from the retrieval model (inputs only: the ranker does not train
/// them), their element-wise product u⊙v, the retrieval score u·v, the item's
/// log training frequency, and a one-hot scenario. The score is residual,
/// `u·v + MLP(features)`, with the MLP's output layer starting at zero, so an
/// untrained ranker ranks exactly as retrieval does and training learns
/// corrections. It is trained on labelled examples with the logistic loss, or on
/// candidate lists with the listwise softmax loss (`RankerFitting`: retrieval's
/// top candidates for held-out interactions); its weights are dense blocks on
/// the shards.
public struct Ranker: ShardedModel {
    /// One example: the vectors are taken from the pulled rows.
    public struct Example: Sendable, Hashable {
        public var user: UInt64
        public var item: UInt64
        public var scenario: UInt32
        /// 1 for a positive, 0 for a negative.
        public var label: Float

        public init(user: UInt64, item: UInt64, scenario: UInt32 = 0, label: Float) {
            self.user = user
            self.item = item
            self.scenario = scenario
            self.label = label
        }
    }

    public struct Batch: Sendable {
        public var examples: [Example]
        /// Candidate lists as ranges of `examples` (nil: independent examples). A list is
        /// trained with the listwise softmax loss; lists without a positive carry no loss.
        public var lists: [Range<Int>]?

        public init(examples: [Example], lists: [Range<Int>]? = nil) {
            precondition(lists?.allSatisfy { $0.lowerBound >= 0 && $0.upperBound <= examples.count } ?? true, "a list outside the examples")
            self.examples = examples
            self.lists = lists
        }
    }

    public let dim: Int
    public let scenarios: Int
    public let userTable: String
    public let itemTable: String
    public let dense: DenseBlocks
    public let layout: ParameterLayout
    private let mlp: MLP
    /// log(1 + training interactions) per item key (absent: 0).
    public let popularity: [UInt64: Float]

    /// - Parameters:
    ///   - hidden: the MLP's hidden widths.
    ///   - denseFirstKey: where the ranker's blocks start in the dense table (after other models' blocks).
    public init(dim: Int, scenarios: Int, hidden: [Int] = [64, 32], userTable: String, itemTable: String,
                denseTable: String, blockSize: Int, denseFirstKey: UInt64 = 1 << 32, popularity: [UInt64: Float]) {
        self.dim = dim
        self.scenarios = max(1, scenarios)
        self.userTable = userTable
        self.itemTable = itemTable
        self.popularity = popularity
        var layout = ParameterLayout()
        mlp = MLP("ranker", sizes: [3 * dim + 2 + self.scenarios] + hidden + [1], activation: .relu, layout: &layout)
        self.layout = layout
        dense = DenseBlocks(table: denseTable, blockSize: blockSize, parameterCount: layout.count, firstKey: denseFirstKey)
    }

    /// The ranker's initial weights (written to the dense table once): the output layer
    /// is zero, so the untrained ranker scores exactly `u·v`.
    public func initialParameters(seed: UInt64) -> [Float] {
        var parameters = layout.initialize(seed: seed)
        if let last = mlp.layers.last {
            for i in last.weightOffset..<(last.weightOffset + last.inputs * last.outputs) { parameters[i] = 0 }
        }
        return parameters
    }

    public func keys(for batch: Batch) -> [String: [UInt64]] {
        [userTable: Self.unique(batch.examples.map(\.user)), itemTable: Self.unique(batch.examples.map(\.item)),
         dense.table: dense.keys]
    }

    public func gradients(for batch: Batch, rows: [String: [Float]], seed: UInt64) throws -> ModelStep {
        let keys = keys(for: batch)
        guard let userRows = rows[userTable], let itemRows = rows[itemTable], let blocks = rows[dense.table] else {
            throw ModelError("the ranker's rows were not all pulled")
        }
        let parameters = dense.flatten(blocks)
        let x = features(batch.examples, userKeys: keys[userTable] ?? [], userRows: userRows,
                         itemKeys: keys[itemTable] ?? [], itemRows: itemRows)
        let (logits, cache) = mlp.forward(x, parameters: parameters, mode: .training(seed: seed))
        var loss = 0.0
        var dLogits = Matrix(rows: logits.rows, cols: 1)
        let z = (0..<logits.rows).map { logits[$0, 0] + x[$0, 3 * dim] }
        var examples = batch.examples.count
        if let lists = batch.lists {
            // Listwise: −(1/P) Σ_{positives p} log softmax(z over the list)_p, shift-invariant,
            // so the ranker learns the order within retrieval's candidates, not a calibration.
            examples = 0
            for list in lists {
                let positives = list.reduce(Float(0)) { $0 + batch.examples[$1].label }
                guard positives > 0 else { continue }
                let top = list.map { z[$0] }.max()!
                let total = list.reduce(0.0) { $0 + exp(Double(z[$1] - top)) }
                for i in list {
                    let p = Float(exp(Double(z[i] - top)) / total)
                    dLogits[i, 0] = p - batch.examples[i].label / positives
                    if batch.examples[i].label > 0 {
                        loss -= Double(batch.examples[i].label / positives) * (Double(z[i] - top) - log(total))
                    }
                }
                examples += 1
            }
        } else {
            for (i, example) in batch.examples.enumerated() {
                loss += Double(example.label == 1 ? MatrixFactorization.softplus(-z[i]) : MatrixFactorization.softplus(z[i]))
                dLogits[i, 0] = MatrixFactorization.sigmoid(z[i]) - example.label
            }
        }
        var gradients = layout.zeros()
        _ = mlp.backward(dLogits, cache: cache, parameters: parameters, gradients: &gradients)
        return ModelStep(gradients: [dense.table: dense.blocks(gradients)], lossSum: loss, examples: examples)
    }

    /// Click logits of `items` for one user (vector `user`) in `scenario`, given the items' vectors (row-major).
    public func score(user: [Float], items: [UInt64], itemVectors: [Float], scenario: UInt32, parameters: [Float]) -> [Float] {
        let examples = items.map { Example(user: 0, item: $0, scenario: scenario, label: 0) }
        let x = features(examples, userKeys: [0], userRows: user, itemKeys: items, itemRows: itemVectors)
        let (logits, _) = mlp.forward(x, parameters: parameters, mode: .inference)
        return (0..<logits.rows).map { logits[$0, 0] + x[$0, 3 * dim] }
    }

    /// The feature matrix of `examples` (one row each).
    func features(_ examples: [Example], userKeys: [UInt64], userRows: [Float], itemKeys: [UInt64], itemRows: [Float]) -> Matrix {
        var userRow: [UInt64: Int] = [:]
        for (i, key) in userKeys.enumerated() { userRow[key] = i }
        var itemRow: [UInt64: Int] = [:]
        for (i, key) in itemKeys.enumerated() where itemRow[key] == nil { itemRow[key] = i }
        let width = 3 * dim + 2 + scenarios
        var x = Matrix(rows: examples.count, cols: width)
        for (r, example) in examples.enumerated() {
            let u = (userRow[example.user] ?? 0) * dim
            let v = (itemRow[example.item] ?? 0) * dim
            var dot: Float = 0
            for d in 0..<dim {
                let ud = userRows[u + d], vd = itemRows[v + d]
                x[r, d] = ud
                x[r, dim + d] = vd
                x[r, 2 * dim + d] = ud * vd
                dot += ud * vd
            }
            x[r, 3 * dim] = dot
            x[r, 3 * dim + 1] = popularity[example.item] ?? 0
            x[r, 3 * dim + 2 + min(Int(example.scenario), scenarios - 1)] = 1
        }
        return x
    }

    private static func unique(_ keys: [UInt64]) -> [UInt64] {
        var seen = Set<UInt64>()
        return keys.filter { seen.insert($0).inserted }
    }
}

extension Ranker {
    /// The ranker a config asks for (nil when `ranking.enabled` is false).
    ///
    /// - Parameters:
    ///   - train: training interactions, for the items' popularity feature.
    public static func make(config: ClusterConfig, train: [Interaction], scenarios: Int) -> Ranker? {
        guard config.ranking.enabled, let user = config.table(named: config.model.userTable),
              let dense = config.table(named: config.ranking.denseTable) else { return nil }
        var counts: [UInt64: Int] = [:]
        for interaction in train { counts[interaction.item, default: 0] += 1 }
        let popularity = counts.mapValues { Float(log1p(Double($0))) }
        return Ranker(dim: user.dim, scenarios: scenarios, hidden: config.ranking.hidden, userTable: config.model.userTable,
                      itemTable: config.model.itemTable, denseTable: dense.name, blockSize: dense.dim, popularity: popularity)
    }
}
