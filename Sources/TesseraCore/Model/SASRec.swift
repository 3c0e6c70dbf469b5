import CBLAS
import Foundation

/// SASRec, the self-attentive sequential recommender (Kang & McAuley, ICDM 2018), trained
/// through the parameter server.
///
/// Item embeddings `e_i` (`dim` wide) are rows of the item table; the learned positional
/// embeddings `P` (`maxLength x dim`), the transformer blocks and the final LayerNorm are one
/// `ParameterLayout` stored as `DenseBlocks`. For a left-padded sequence (`B` sequences of
/// `L = maxLength` positions, rows `B·L x dim`, sequence-major):
///
///     x_t = dropout(√dim · e_{s_t} + P_t)            padding rows 0
///     x   = TransformerBlock_b(x), b = 1 … blocks      causal, pre-LN (see `TransformerBlock`)
///     h_t = LayerNorm(x_t)
///     score(t, i) = h_t · e_i                          (item embeddings are tied)
///
/// Training loss (`loss`), over real positions `t` with next item `pos_t`:
/// - `.binaryCrossEntropy`, the paper's: one sampled negative per position,
///   `Σ_t −log σ(h_t·e_{pos_t}) − log(1 − σ(h_t·e_{neg_t}))`;
/// - `.sampledSoftmax(negatives: n)`: the batch carries `n` items drawn uniformly (shared by
///   every position), and each position's cross-entropy of its positive against them,
///   `Σ_t −log softmax([h_t·e_{pos_t}, h_t·e_{n_1}, …, h_t·e_{n_n}])₀`, with a negative
///   equal to `pos_t` left out of that position's softmax. Uniform sampling needs no log-Q
///   correction (it is the same constant for every candidate).
///
/// `ModelStep.lossSum` is that sum and `examples` the number of real positions. Gradients are of the sum (Adam, the
/// recommended optimizer, is invariant to the scale). With `l2 > 0`, each unique item row of
/// a step also gets `l2 · e_i` (the gradient of `l2/2 · ‖e_i‖²`, charged once per step; not
/// included in `lossSum`).
///
/// Cost: a step runs at its longest sequence's length, not `maxLength` (slots that are
/// padding in every sequence are skipped, which changes no result), so batches of similar
/// lengths (`SequenceData.batches(…, sortWindow:)`) train faster on short-history data.
/// `encode` groups sequences of similar lengths itself.
///
/// A value holding shapes and offsets only, `Sendable`; every call is pure given the rows.
public struct SASRec: ShardedModel {
    public typealias Batch = SASRecBatch

    /// What a position's hidden state is trained against.
    public enum Loss: Sendable, Hashable {
        /// One sampled negative per position, binary cross-entropy (Kang & McAuley).
        case binaryCrossEntropy
        /// Softmax over the positive and `negatives` uniformly sampled items shared by the batch.
        case sampledSoftmax(negatives: Int)

        /// Shared negatives a batch for this loss carries (0 for per-position negatives).
        public var sharedNegatives: Int {
            if case .sampledSoftmax(let n) = self { return n }
            return 0
        }
    }

    /// Embedding width (item rows, positions, hidden states).
    public let dim: Int
    /// Positions per sequence; longer histories keep their last `maxLength` items.
    public let maxLength: Int
    /// Number of transformer blocks.
    public let blocks: Int
    /// Attention heads per block (divides `dim`).
    public let heads: Int
    /// Dropout rate on embeddings, attention weights and inside the blocks (training only).
    public let dropout: Float
    /// L2 coefficient on the item rows a step touches.
    public let l2: Float
    /// The training loss; batches must be built for it (`loss.sharedNegatives`).
    public let loss: Loss
    /// The item table (`dim` wide).
    public let itemTable: String
    /// Where the dense weights live.
    public let dense: DenseBlocks
    /// The dense weights' layout: `"position"` (`[maxLength, dim]`), `"block{b}.…"`, `"final"`.
    public let layout: ParameterLayout

    let positionOffset: Int
    let layers: [TransformerBlock]
    let finalNorm: LayerNorm
    let embeddingDropout: Dropout

    /// Sequences per forward pass in `encode` (bounds memory; results do not depend on it).
    static let encodeChunk = 256

    /// - Parameters:
    ///   - denseTable: the dense table; its `dim` must equal `blockSize`.
    ///   - denseFirstKey: key of the first dense block (lets models share a dense table).
    /// Preconditions: sizes >= 1, `heads` divides `dim`, `0 <= dropout < 1`, `l2 >= 0`,
    /// sampled-softmax negatives >= 1, `itemTable != denseTable`.
    public init(
        dim: Int = 50, maxLength: Int = 50, blocks: Int = 2, heads: Int = 1, dropout: Float = 0.2, l2: Float = 0,
        loss: Loss = .binaryCrossEntropy,
        itemTable: String = "item", denseTable: String = "dense", blockSize: Int = 1024, denseFirstKey: UInt64 = 0
    ) {
        precondition(dim >= 1 && maxLength >= 1 && blocks >= 1, "SASRec needs dim, maxLength and blocks >= 1")
        precondition(l2 >= 0 && l2.isFinite, "l2 must be finite and >= 0, got \(l2)")
        if case .sampledSoftmax(let n) = loss { precondition(n >= 1, "sampled softmax needs at least 1 negative, got \(n)") }
        self.loss = loss
        precondition(itemTable != denseTable, "the item table and the dense table must differ")
        self.dim = dim
        self.maxLength = maxLength
        self.blocks = blocks
        self.heads = heads
        self.dropout = dropout
        self.l2 = l2
        self.itemTable = itemTable
        var layout = ParameterLayout()
        positionOffset = layout.register("position", shape: [maxLength, dim], initializer: .xavierUniform).offset
        layers = (0..<blocks).map { b in
            TransformerBlock("block\(b)", dim: dim, heads: heads, dropout: dropout, causal: true, epsilon: 1e-8, layout: &layout)
        }
        finalNorm = LayerNorm("final", dim: dim, epsilon: 1e-8, layout: &layout)
        embeddingDropout = Dropout(rate: dropout)
        self.layout = layout
        dense = DenseBlocks(table: denseTable, blockSize: blockSize, parameterCount: layout.count, firstKey: denseFirstKey)
    }

    /// The dense weights' initial values (`layout.initialize(seed:)`, flat): write
    /// `dense.blocks(initialDenseParameters(seed:))` under `dense.keys` once before training.
    public func initialDenseParameters(seed: UInt64) -> [Float] {
        layout.initialize(seed: seed)
    }

    // MARK: Training

    /// `[itemTable: batch.itemKeys, dense.table: dense.keys]`.
    public func keys(for batch: SASRecBatch) -> [String: [UInt64]] {
        [itemTable: batch.itemKeys, dense.table: dense.keys]
    }

    /// Forward and backward of `batch` in training mode (dropout masks from `seed`).
    ///
    /// `rows[itemTable]` is `batch.itemKeys.count x dim`, `rows[dense.table]` the dense
    /// blocks in `dense.keys` order. Returns gradients for both, aligned the same way.
    /// Throws `ModelError` when rows are missing or mis-sized.
    public func gradients(for batch: SASRecBatch, rows: [String: [Float]], seed: UInt64) throws -> ModelStep {
        precondition(batch.length == maxLength, "batch of length \(batch.length) for a model of maxLength \(maxLength)")
        let (table, parameters) = try pulled(rows, itemCount: batch.itemKeys.count)
        // Leading slots that are padding in every sequence change nothing: run at the
        // longest sequence's length (the last `length` positional rows).
        let length = Self.activeLength(batch.inputs, length: maxLength)
        let inputs = Self.trim(batch.inputs, from: maxLength, to: length)
        let mask = SequenceMask(batch: batch.count, length: length, valid: inputs.map { $0 >= 0 })
        let (h, cache) = encoder(inputs: inputs, mask: mask, table: table, parameters: parameters,
                                 mode: .training(seed: seed))
        let positiveSlots = Self.trim(batch.positives, from: maxLength, to: length)
        let positives = EmbeddingLookup.gather(table, dim: dim, indices: positiveSlots)

        var itemGradients = [Float](repeating: 0, count: table.count)
        let loss: (sum: Double, examples: Int, dh: Matrix, dPositives: Matrix)
        switch self.loss {
        case .binaryCrossEntropy:
            precondition(batch.sharedNegatives.isEmpty, "a binary cross-entropy step needs one negative per position")
            let negativeSlots = Self.trim(batch.negatives, from: maxLength, to: length)
            let pairwise = Self.pairwiseLoss(h, positives: positives,
                                             negatives: EmbeddingLookup.gather(table, dim: dim, indices: negativeSlots), real: inputs)
            EmbeddingLookup.scatterAdd(pairwise.dNegatives, indices: negativeSlots, into: &itemGradients)
            loss = (pairwise.sum, pairwise.examples, pairwise.dh, pairwise.dPositives)
        case .sampledSoftmax:
            precondition(!batch.sharedNegatives.isEmpty, "a sampled-softmax step needs the batch's shared negatives")
            let softmax = Self.sampledSoftmaxLoss(h, positives: positives, positiveSlots: positiveSlots,
                                                  negatives: EmbeddingLookup.gather(table, dim: dim, indices: batch.sharedNegatives),
                                                  negativeSlots: batch.sharedNegatives, real: inputs)
            EmbeddingLookup.scatterAdd(softmax.dNegatives, indices: batch.sharedNegatives, into: &itemGradients)
            loss = (softmax.sum, softmax.examples, softmax.dh, softmax.dPositives)
        }

        var denseGradients = layout.zeros()
        let dx = encoderBackward(loss.dh, cache: cache, parameters: parameters, gradients: &denseGradients)
        EmbeddingLookup.scatterAdd(dx, indices: inputs, into: &itemGradients)
        EmbeddingLookup.scatterAdd(loss.dPositives, indices: positiveSlots, into: &itemGradients)
        if l2 > 0 { axpy(l2, table, &itemGradients) }
        return ModelStep(gradients: [itemTable: itemGradients, dense.table: dense.blocks(denseGradients)],
                         lossSum: loss.sum, examples: loss.examples)
    }

    // MARK: Inference

    /// The rows `encode(sequences:rows:)` needs: the sequences' unique item keys (ascending,
    /// after truncation to the last `maxLength`) and every dense block.
    public func keys(forEncoding sequences: [[UInt64]]) -> [String: [UInt64]] {
        [itemTable: Self.uniqueKeys(sequences.map { $0.suffix(maxLength) }), dense.table: dense.keys]
    }

    /// One user vector per sequence (keys, oldest first): the hidden state `h` at the last
    /// position, `sequences.count x dim` row-major, in inference mode (no dropout).
    ///
    /// A user's scores are `h · e_i`, so the vector serves evaluation and Recommend alike.
    /// Histories longer than `maxLength` keep their last `maxLength` items; an empty history
    /// gives the final LayerNorm's bias. `rows` are aligned with `keys(forEncoding:)`.
    public func encode(sequences: [[UInt64]], rows: [String: [Float]]) throws -> [Float] {
        let truncated = sequences.map { Array($0.suffix(maxLength)) }
        let keys = Self.uniqueKeys(truncated)
        let (table, parameters) = try pulled(rows, itemCount: keys.count)
        var index: [UInt64: Int32] = [:]
        index.reserveCapacity(keys.count)
        for (i, key) in keys.enumerated() { index[key] = Int32(i) }
        // Chunks of similar lengths (longest first), each run at its longest length.
        let order = truncated.indices.sorted { truncated[$0].count > truncated[$1].count }
        var users = [Float](repeating: 0, count: sequences.count * dim)
        for start in stride(from: 0, to: order.count, by: Self.encodeChunk) {
            let chunk = order[start..<min(start + Self.encodeChunk, order.count)]
            let length = max(1, truncated[chunk.first!].count)
            var inputs = [Int32](repeating: -1, count: chunk.count * length)
            for (s, row) in chunk.enumerated() {
                let first = s * length + length - truncated[row].count
                for (p, key) in truncated[row].enumerated() { inputs[first + p] = index[key]! }
            }
            let mask = SequenceMask(leftPaddedLengths: chunk.map { truncated[$0].count }, length: length)
            let (h, _) = encoder(inputs: inputs, mask: mask, table: table, parameters: parameters, mode: .inference)
            for (s, row) in chunk.enumerated() {
                let last = (s * length + length - 1) * dim
                users.replaceSubrange((row * dim)..<((row + 1) * dim), with: h.values[last..<(last + dim)])
            }
        }
        return users
    }

    // MARK: Loss

    /// SASRec's loss over rows `r` with `real[r] >= 0`, for hidden states `h` and the gathered
    /// positive and negative rows (all `rows x dim`): `Σ softplus(−h·p) + softplus(h·n)`,
    /// with `dh = (σ(h·p) − 1)·p + σ(h·n)·n`, `dp = (σ(h·p) − 1)·h`, `dn = σ(h·n)·h` (zero
    /// on other rows).
    static func pairwiseLoss(
        _ h: Matrix, positives: Matrix, negatives: Matrix, real: [Int32]
    ) -> (sum: Double, examples: Int, dh: Matrix, dPositives: Matrix, dNegatives: Matrix) {
        let (rows, dim) = (h.rows, h.cols)
        var dh = Matrix(rows: rows, cols: dim), dp = dh, dn = dh
        var sum = 0.0, examples = 0
        h.withUnsafeBufferPointer { ph in
            positives.withUnsafeBufferPointer { pp in
                negatives.withUnsafeBufferPointer { pn in
                    dh.withUnsafeMutableBufferPointer { gh in
                        dp.withUnsafeMutableBufferPointer { gp in
                            dn.withUnsafeMutableBufferPointer { gn in
                                for r in 0..<rows where real[r] >= 0 {
                                    let o = r * dim
                                    let hr = ph.baseAddress! + o, pr = pp.baseAddress! + o, nr = pn.baseAddress! + o
                                    let sp = cblas_sdot(Int32(dim), hr, 1, pr, 1)
                                    let sn = cblas_sdot(Int32(dim), hr, 1, nr, 1)
                                    sum += Double(MatrixFactorization.softplus(-sp) + MatrixFactorization.softplus(sn))
                                    examples += 1
                                    let a = MatrixFactorization.sigmoid(sp) - 1, b = MatrixFactorization.sigmoid(sn)
                                    for j in 0..<dim {
                                        gh[o + j] = a * pr[j] + b * nr[j]
                                        gp[o + j] = a * hr[j]
                                        gn[o + j] = b * hr[j]
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return (sum, examples, dh, dp, dn)
    }

    /// Sampled softmax over rows `r` with `real[r] >= 0`, for hidden states `h` and gathered
    /// positives (`rows x dim`) against `negatives` (`n x dim`, shared by every row).
    ///
    /// Row `r`'s logits are `[h_r·p_r, h_r·n_1, …, h_r·n_n]`, without the negatives whose item
    /// (`negativeSlots[j]`) is the row's positive (`positiveSlots[r]`); its loss is
    /// `−log softmax(logits)₀`. With `g = softmax(logits)` (`g_j = 0` for left-out negatives):
    /// `dh_r = (g₀ − 1)·p_r + Σ_j g_j·n_j`, `dp_r = (g₀ − 1)·h_r`, `dn_j = Σ_r g_{r,j}·h_r`.
    static func sampledSoftmaxLoss(
        _ h: Matrix, positives: Matrix, positiveSlots: [Int32], negatives: Matrix, negativeSlots: [Int32], real: [Int32]
    ) -> (sum: Double, examples: Int, dh: Matrix, dPositives: Matrix, dNegatives: Matrix) {
        let (rows, dim, n) = (h.rows, h.cols, negatives.rows)
        // Scores against the shared negatives, overwritten in place by their softmax weights.
        var g = matmul(h, negatives, transposeB: true)
        var positiveFactor = [Float](repeating: 0, count: rows)  // g₀ − 1 per row
        var sum = 0.0, examples = 0
        h.withUnsafeBufferPointer { ph in
            positives.withUnsafeBufferPointer { pp in
                g.withUnsafeMutableBufferPointer { pg in
                    for r in 0..<rows {
                        let scores = pg.baseAddress! + r * n
                        guard real[r] >= 0 else {
                            scores.update(repeating: 0, count: n)
                            continue
                        }
                        let o = r * dim
                        let positive = cblas_sdot(Int32(dim), ph.baseAddress! + o, 1, pp.baseAddress! + o, 1)
                        var top = positive
                        for j in 0..<n where negativeSlots[j] != positiveSlots[r] { top = max(top, scores[j]) }
                        var total = expf(positive - top)
                        for j in 0..<n {
                            if negativeSlots[j] == positiveSlots[r] {
                                scores[j] = 0
                            } else {
                                scores[j] = expf(scores[j] - top)
                                total += scores[j]
                            }
                        }
                        sum += Double(logf(total)) - Double(positive - top)
                        examples += 1
                        let inverse = 1 / total
                        for j in 0..<n { scores[j] *= inverse }
                        positiveFactor[r] = expf(positive - top) * inverse - 1
                    }
                }
            }
        }
        var dh = matmul(g, negatives)
        var dp = Matrix(rows: rows, cols: dim)
        dh.withUnsafeMutableBufferPointer { pdh in
            dp.withUnsafeMutableBufferPointer { pdp in
                h.withUnsafeBufferPointer { ph in
                    positives.withUnsafeBufferPointer { pp in
                        for r in 0..<rows where real[r] >= 0 {
                            let (o, factor) = (r * dim, positiveFactor[r])
                            for j in 0..<dim {
                                pdh[o + j] += factor * pp[o + j]
                                pdp[o + j] = factor * ph[o + j]
                            }
                        }
                    }
                }
            }
        }
        let dn = matmul(g, h, transposeA: true)
        return (sum, examples, dh, dp, dn)
    }

    // MARK: Encoder

    struct EncoderCache {
        let mask: SequenceMask
        let dropout: Dropout.Cache
        let layers: [TransformerBlock.Cache]
        let finalNorm: LayerNorm.Cache
    }

    /// Hidden states `h` (`mask.rowCount x dim`) of sequences whose items are `inputs`
    /// (indices into `table`, -1 = padding). Sequences of `mask.length <= maxLength` slots
    /// are the last slots of the full length: they get positional rows `maxLength - mask.length …`.
    func encoder(
        inputs: [Int32], mask: SequenceMask, table: [Float], parameters: [Float], mode: ForwardMode
    ) -> (hidden: Matrix, cache: EncoderCache) {
        var x = EmbeddingLookup.gather(table, dim: dim, indices: inputs)
        x.scale(by: Float(dim).squareRoot())
        let span = mask.length * dim, positions = positionOffset + (maxLength - mask.length) * dim
        x.withUnsafeMutableBufferPointer { px in
            parameters.withUnsafeBufferPointer { p in
                for s in 0..<mask.batch {
                    BLAS.axpy(span, 1, p.baseAddress! + positions, px.baseAddress! + s * span)
                }
            }
        }
        let (dropped, dropoutCache) = embeddingDropout.forward(x, mode: mode.derived(0xE4B))
        x = dropped
        mask.zeroPadding(&x)
        var caches: [TransformerBlock.Cache] = []
        caches.reserveCapacity(layers.count)
        for (b, layer) in layers.enumerated() {
            let (y, cache) = layer.forward(x, mask: mask, parameters: parameters, mode: mode.derived(UInt64(b + 1)))
            x = y
            caches.append(cache)
        }
        let (h, normCache) = finalNorm.forward(x, parameters: parameters)
        return (h, EncoderCache(mask: mask, dropout: dropoutCache, layers: caches, finalNorm: normCache))
    }

    /// Backward of `encoder`: accumulates the dense gradients and returns the gradient with
    /// respect to the gathered item rows (`√dim · dx`, padding rows 0).
    func encoderBackward(_ dh: Matrix, cache: EncoderCache, parameters: [Float], gradients: inout [Float]) -> Matrix {
        var dx = finalNorm.backward(dh, cache: cache.finalNorm, parameters: parameters, gradients: &gradients)
        for (layer, layerCache) in zip(layers, cache.layers).reversed() {
            dx = layer.backward(dx, cache: layerCache, parameters: parameters, gradients: &gradients)
        }
        cache.mask.zeroPadding(&dx)
        dx = embeddingDropout.backward(dx, cache: cache.dropout)
        let span = cache.mask.length * dim, positions = positionOffset + (maxLength - cache.mask.length) * dim
        dx.withUnsafeBufferPointer { pdx in
            gradients.withUnsafeMutableBufferPointer { g in
                for s in 0..<cache.mask.batch {
                    BLAS.axpy(span, 1, pdx.baseAddress! + s * span, g.baseAddress! + positions)
                }
            }
        }
        dx.scale(by: Float(dim).squareRoot())
        return dx
    }

    /// The item rows and the flat dense vector from pulled rows.
    private func pulled(_ rows: [String: [Float]], itemCount: Int) throws -> (table: [Float], parameters: [Float]) {
        guard let table = rows[itemTable], let blocks = rows[dense.table] else {
            throw ModelError("SASRec needs rows of '\(itemTable)' and '\(dense.table)'; got \(rows.keys.sorted())")
        }
        guard table.count == itemCount * dim else {
            throw ModelError("SASRec: \(table.count) values of '\(itemTable)' for \(itemCount) rows of \(dim)")
        }
        guard blocks.count == dense.blockCount * dense.blockSize else {
            throw ModelError("SASRec: \(blocks.count) values of '\(dense.table)' for \(dense.blockCount) blocks of \(dense.blockSize)")
        }
        return (table, dense.flatten(blocks))
    }

    /// The longest run of real slots at the end of any sequence (at least 1): left padding
    /// puts every real slot of a `length`-slot sequence in its last `activeLength` slots.
    static func activeLength(_ slots: [Int32], length: Int) -> Int {
        var longest = 1
        for s in 0..<(slots.count / length) {
            let row = s * length
            var first = 0
            while first < length - longest, slots[row + first] < 0 { first += 1 }
            longest = max(longest, length - first)
        }
        return longest
    }

    /// The last `to` of every `from` slots.
    static func trim(_ slots: [Int32], from: Int, to: Int) -> [Int32] {
        guard to < from else { return slots }
        var out: [Int32] = []
        out.reserveCapacity(slots.count / from * to)
        for s in 0..<(slots.count / from) { out += slots[(s * from + from - to)..<((s + 1) * from)] }
        return out
    }

    /// Unique keys of `sequences`, ascending.
    static func uniqueKeys(_ sequences: [some Collection<UInt64>]) -> [UInt64] {
        var seen = Set<UInt64>()
        for sequence in sequences { seen.formUnion(sequence) }
        return seen.sorted()
    }
}
