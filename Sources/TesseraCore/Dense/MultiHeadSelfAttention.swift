import Foundation

/// Multi-head scaled dot-product self-attention over a batch of sequences, with a causal
/// mask and a padding mask.
///
/// Input and output are `batch * length x dim` matrices, sequence-major (row
/// `s * length + p` is position `p` of sequence `s`; see `SequenceMask`). With
/// `dₕ = dim / heads` and head `h` using columns `h·dₕ ..< (h+1)·dₕ`:
///
///     [Q K V] = x · W_qkvᵀ + b_qkv                   (one Linear, dim -> 3·dim)
///     S = Q_h K_hᵀ / √dₕ                              (per sequence and head, length x length)
///     P = softmax(S) over allowed keys                (key j allowed for query i iff j is real
///                                                      and, when causal, j <= i)
///     C_h = dropout(P) · V_h
///     y = C · W_oᵀ + b_o, then padding rows set to 0  (one Linear, dim -> dim)
///
/// Padding positions attend to nothing, produce zero rows, are never attended to, and get
/// no gradient (their rows of `dy` are ignored). A real query always sees at least itself.
/// Parameters: `"\(name).qkv.weight"` `[3·dim, dim]` (rows: W_q, W_k, W_v),
/// `"\(name).qkv.bias"` `[3·dim]`, `"\(name).out.weight"` `[dim, dim]`, `"\(name).out.bias"`.
///
/// Per sequence and head the forward pass makes two `sgemm` calls and the backward pass
/// four, on strided head slices (no copies); the projections are single large `sgemm`s.
public struct MultiHeadSelfAttention: Sendable, Hashable {
    /// Model width.
    public let dim: Int
    /// Number of heads; divides `dim`.
    public let heads: Int
    /// Whether query `i` may only see keys `j <= i` (SASRec) or all real keys.
    public let causal: Bool
    /// Dropout rate on the attention weights `P` (training only).
    public let attentionDropout: Float
    /// The fused Q/K/V projection, `dim -> 3·dim`.
    public let projection: Linear
    /// The output projection, `dim -> dim`.
    public let output: Linear

    /// Width of one head, `dim / heads`.
    public var headDim: Int { dim / heads }

    /// What `backward` needs.
    public struct Cache: Sendable {
        /// The padding mask of the forward pass.
        public let mask: SequenceMask
        /// `[Q K V]`, `rows x 3·dim`.
        public let qkv: Matrix
        /// Attention weights before dropout: `batch · heads` blocks of `length x length`,
        /// block `s · heads + h` for sequence `s`, head `h`; row `i` is query `i`.
        public let probabilities: [Float]
        /// Scaled keep-mask over `probabilities`, or nil without dropout.
        public let dropoutMask: [Float]?
        let projectionCache: Linear.Cache
        let outputCache: Linear.Cache
    }

    /// Registers the projections under `name`. Preconditions: `heads >= 1` divides `dim`;
    /// `0 <= attentionDropout < 1`.
    public init(
        _ name: String, dim: Int, heads: Int, causal: Bool = true, attentionDropout: Float = 0,
        layout: inout ParameterLayout
    ) {
        precondition(heads >= 1 && dim >= heads && dim % heads == 0, "\(heads) heads do not divide dim \(dim)")
        precondition(attentionDropout >= 0 && attentionDropout < 1, "attention dropout must be in [0, 1)")
        self.dim = dim
        self.heads = heads
        self.causal = causal
        self.attentionDropout = attentionDropout
        projection = Linear("\(name).qkv", inputs: dim, outputs: 3 * dim, layout: &layout)
        output = Linear("\(name).out", inputs: dim, outputs: dim, layout: &layout)
    }

    /// Attention output for `x` (`mask.rowCount x dim`).
    public func forward(
        _ x: Matrix, mask: SequenceMask, parameters: [Float], mode: ForwardMode = .inference
    ) -> (output: Matrix, cache: Cache) {
        precondition(x.rows == mask.rowCount && x.cols == dim, "attention input is \(x.rows)x\(x.cols), expected \(mask.rowCount)x\(dim)")
        let (batch, length, dim, heads, dh) = (mask.batch, mask.length, self.dim, self.heads, headDim)
        let (qkv, projectionCache) = projection.forward(x, parameters: parameters)
        let block = length * length
        var probabilities = [Float](repeating: 0, count: batch * heads * block)
        var dropoutMask: [Float]? = nil
        if case let .training(seed) = mode, attentionDropout > 0 {
            dropoutMask = Dropout.mask(count: probabilities.count, rate: attentionDropout, seed: seed)
        }
        var context = Matrix(rows: batch * length, cols: dim)
        var dropped = [Float](repeating: 0, count: dropoutMask == nil ? 0 : block)
        let scale = 1 / Float(dh).squareRoot()
        let causal = self.causal
        qkv.withUnsafeBufferPointer { q in
            mask.valid.withUnsafeBufferPointer { valid in
                probabilities.withUnsafeMutableBufferPointer { probs in
                    context.withUnsafeMutableBufferPointer { c in
                        dropped.withUnsafeMutableBufferPointer { scratch in
                            for s in 0..<batch {
                                let rows = q.baseAddress! + s * length * 3 * dim
                                let real = valid.baseAddress! + s * length
                                for h in 0..<heads {
                                    let qh = rows + h * dh, kh = rows + dim + h * dh, vh = rows + 2 * dim + h * dh
                                    let offset = (s * heads + h) * block
                                    let p = probs.baseAddress! + offset
                                    BLAS.gemm(false, true, m: length, n: length, k: dh, alpha: scale,
                                              qh, lda: 3 * dim, kh, ldb: 3 * dim, beta: 0, p, ldc: length)
                                    for i in 0..<length {
                                        Self.maskedSoftmax(p + i * length, query: i, length: length, real: real, causal: causal)
                                    }
                                    var used = UnsafePointer(p)
                                    if let dropoutMask {
                                        dropoutMask.withUnsafeBufferPointer { m in
                                            for k in 0..<block { scratch[k] = p[k] * m[offset + k] }
                                        }
                                        used = UnsafePointer(scratch.baseAddress!)
                                    }
                                    BLAS.gemm(false, false, m: length, n: dh, k: length, alpha: 1,
                                              used, lda: length, vh, ldb: 3 * dim,
                                              beta: 0, c.baseAddress! + s * length * dim + h * dh, ldc: dim)
                                }
                            }
                        }
                    }
                }
            }
        }
        var (y, outputCache) = output.forward(context, parameters: parameters)
        mask.zeroPadding(&y)
        return (y, Cache(mask: mask, qkv: qkv, probabilities: probabilities, dropoutMask: dropoutMask,
                         projectionCache: projectionCache, outputCache: outputCache))
    }

    /// Returns `dx` and accumulates the projections' gradients. Rows of `dy` at padding
    /// positions are ignored. Precondition: `dy` has the forward output's shape.
    public func backward(_ dy: Matrix, cache: Cache, parameters: [Float], gradients: inout [Float]) -> Matrix {
        let mask = cache.mask
        precondition(dy.rows == mask.rowCount && dy.cols == dim, "attention gradient is \(dy.rows)x\(dy.cols), expected \(mask.rowCount)x\(dim)")
        let (batch, length, dim, heads, dh) = (mask.batch, mask.length, self.dim, self.heads, headDim)
        var dyReal = dy
        mask.zeroPadding(&dyReal)
        let dContext = output.backward(dyReal, cache: cache.outputCache, parameters: parameters, gradients: &gradients)
        let block = length * length
        var dQKV = Matrix(rows: batch * length, cols: 3 * dim)
        var dP = [Float](repeating: 0, count: block)
        var dropped = [Float](repeating: 0, count: cache.dropoutMask == nil ? 0 : block)
        let scale = 1 / Float(dh).squareRoot()
        cache.qkv.withUnsafeBufferPointer { q in
            cache.probabilities.withUnsafeBufferPointer { probs in
                dContext.withUnsafeBufferPointer { dc in
                    dQKV.withUnsafeMutableBufferPointer { dq in
                        dP.withUnsafeMutableBufferPointer { ds in
                            dropped.withUnsafeMutableBufferPointer { scratch in
                                for s in 0..<batch {
                                    let rows = q.baseAddress! + s * length * 3 * dim
                                    let dRows = dq.baseAddress! + s * length * 3 * dim
                                    let dcs = dc.baseAddress! + s * length * dim
                                    for h in 0..<heads {
                                        let qh = rows + h * dh, kh = rows + dim + h * dh, vh = rows + 2 * dim + h * dh
                                        let offset = (s * heads + h) * block
                                        let p = probs.baseAddress! + offset
                                        var used = p
                                        if let m = cache.dropoutMask {
                                            m.withUnsafeBufferPointer { m in
                                                for k in 0..<block { scratch[k] = p[k] * m[offset + k] }
                                            }
                                            used = UnsafePointer(scratch.baseAddress!)
                                        }
                                        // dV = dropout(P)ᵀ · dC;  d dropout(P) = dC · Vᵀ.
                                        BLAS.gemm(true, false, m: length, n: dh, k: length, alpha: 1,
                                                  used, lda: length, dcs + h * dh, ldb: dim,
                                                  beta: 0, dRows + 2 * dim + h * dh, ldc: 3 * dim)
                                        BLAS.gemm(false, true, m: length, n: length, k: dh, alpha: 1,
                                                  dcs + h * dh, lda: dim, vh, ldb: 3 * dim,
                                                  beta: 0, ds.baseAddress, ldc: length)
                                        if let m = cache.dropoutMask {
                                            m.withUnsafeBufferPointer { m in
                                                for k in 0..<block { ds[k] *= m[offset + k] }
                                            }
                                        }
                                        // dS = P ⊙ (dP - rowsum(dP ⊙ P)): zero wherever P is (masked keys, padded queries).
                                        for i in 0..<length {
                                            Softmax.backwardRow(ds.baseAddress! + i * length, output: p + i * length, count: length)
                                        }
                                        // S = scale · Q Kᵀ:  dQ = scale · dS · K,  dK = scale · dSᵀ · Q.
                                        BLAS.gemm(false, false, m: length, n: dh, k: length, alpha: scale,
                                                  ds.baseAddress, lda: length, kh, ldb: 3 * dim,
                                                  beta: 0, dRows + h * dh, ldc: 3 * dim)
                                        BLAS.gemm(true, false, m: length, n: dh, k: length, alpha: scale,
                                                  ds.baseAddress, lda: length, qh, ldb: 3 * dim,
                                                  beta: 0, dRows + dim + h * dh, ldc: 3 * dim)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return projection.backward(dQKV, cache: cache.projectionCache, parameters: parameters, gradients: &gradients)
    }

    /// The attention weights of sequence `sequence`, head `head` (`length x length`, before
    /// dropout; row `i` is query `i`).
    public func attentionWeights(_ cache: Cache, sequence: Int, head: Int) -> Matrix {
        let length = cache.mask.length, block = length * length
        let offset = (sequence * heads + head) * block
        return Matrix(rows: length, cols: length, values: Array(cache.probabilities[offset..<(offset + block)]))
    }

    /// Softmax of scores row `row` (query `query`) over allowed keys, in place; disallowed
    /// keys and every key of a padded query get weight 0.
    @inline(__always)
    static func maskedSoftmax(
        _ row: UnsafeMutablePointer<Float>, query: Int, length: Int, real: UnsafePointer<Bool>, causal: Bool
    ) {
        guard real[query] else {
            row.update(repeating: 0, count: length)
            return
        }
        let end = causal ? query + 1 : length
        var m = -Float.infinity
        for j in 0..<end where real[j] { m = max(m, row[j]) }
        var sum: Float = 0
        for j in 0..<end {
            if real[j] {
                let e = expf(row[j] - m)
                row[j] = e
                sum += e
            } else {
                row[j] = 0
            }
        }
        if end < length { (row + end).update(repeating: 0, count: length - end) }
        let inv = 1 / sum
        for j in 0..<end { row[j] *= inv }
    }
}
