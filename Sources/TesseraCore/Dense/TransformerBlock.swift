/// One pre-LayerNorm transformer block for sequence encoders (SASRec, Kang & McAuley 2018).
///
/// Input and output are `batch * length x dim`, sequence-major, with a `SequenceMask`:
///
///     h = x + dropout(Attention(LN₁(x)))
///     y = h + dropout(W₂ · dropout(f(W₁ · LN₂(h) + b₁)) + b₂)      f = ReLU (SASRec) or GELU
///     y[padding rows] = 0
///
/// The ordering differs slightly from SASRec's reference code, which adds the attention
/// residual to the *normalized* queries (`h = LN₁(x) + Attention(q: LN₁(x), k/v: x)`); the
/// standard pre-LN form above keeps an identity path from input to output, trains stably
/// when blocks are stacked, and is what later SASRec ports settled on. As in SASRec, stack
/// blocks and apply one final `LayerNorm` to the last block's output; embedding scaling,
/// positional embeddings and embedding dropout belong to the model.
///
/// Padding rows produce zeros and get no gradient. Parameters (under `name`): `ln1`,
/// `attention.qkv`, `attention.out`, `ln2`, `ffn.0` (`dim -> hidden`), `ffn.1`
/// (`hidden -> dim`). `dropout` is applied where shown (training only); attention weights
/// use `attention.attentionDropout`.
public struct TransformerBlock: Sendable, Hashable {
    /// Model width.
    public let dim: Int
    public let attentionNorm: LayerNorm
    public let attention: MultiHeadSelfAttention
    public let feedForwardNorm: LayerNorm
    public let feedForwardIn: Linear
    public let feedForwardOut: Linear
    /// The feed-forward nonlinearity `f`.
    public let activation: Activation
    public let dropout: Dropout

    /// What `backward` needs.
    public struct Cache: Sendable {
        public let mask: SequenceMask
        public let attentionNorm: LayerNorm.Cache
        public let attention: MultiHeadSelfAttention.Cache
        public let attentionDropout: Dropout.Cache
        public let feedForwardNorm: LayerNorm.Cache
        public let feedForwardIn: Linear.Cache
        public let activation: Activation.Cache
        public let hiddenDropout: Dropout.Cache
        public let feedForwardOut: Linear.Cache
        public let outputDropout: Dropout.Cache
    }

    /// Registers the block's tensors under `name`.
    ///
    /// - Parameters:
    ///   - hidden: feed-forward width (default `dim`, as in SASRec).
    ///   - activation: feed-forward nonlinearity (ReLU in SASRec, GELU in BERT4Rec).
    ///   - dropout: rate after attention, inside and after the feed-forward network.
    ///   - attentionDropout: rate on attention weights (default `dropout`).
    ///   - epsilon: LayerNorm ε.
    public init(
        _ name: String, dim: Int, heads: Int, hidden: Int? = nil, activation: Activation = .relu, dropout: Float = 0,
        attentionDropout: Float? = nil, causal: Bool = true, epsilon: Float = 1e-5,
        layout: inout ParameterLayout
    ) {
        self.dim = dim
        attentionNorm = LayerNorm("\(name).ln1", dim: dim, epsilon: epsilon, layout: &layout)
        attention = MultiHeadSelfAttention("\(name).attention", dim: dim, heads: heads, causal: causal,
                                           attentionDropout: attentionDropout ?? dropout, layout: &layout)
        feedForwardNorm = LayerNorm("\(name).ln2", dim: dim, epsilon: epsilon, layout: &layout)
        feedForwardIn = Linear("\(name).ffn.0", inputs: dim, outputs: hidden ?? dim, layout: &layout)
        feedForwardOut = Linear("\(name).ffn.1", inputs: hidden ?? dim, outputs: dim, layout: &layout)
        self.activation = activation
        self.dropout = Dropout(rate: dropout)
    }

    /// The block's output for `x` (`mask.rowCount x dim`).
    public func forward(
        _ x: Matrix, mask: SequenceMask, parameters: [Float], mode: ForwardMode = .inference
    ) -> (output: Matrix, cache: Cache) {
        let (n1, cn1) = attentionNorm.forward(x, parameters: parameters)
        let (a, ca) = attention.forward(n1, mask: mask, parameters: parameters, mode: mode.derived(1))
        let (ad, cad) = dropout.forward(a, mode: mode.derived(2))
        var h = x
        h.add(ad)
        let (n2, cn2) = feedForwardNorm.forward(h, parameters: parameters)
        let (f1, cf1) = feedForwardIn.forward(n2, parameters: parameters)
        let (r, cr) = activation.forward(f1)
        let (rd, crd) = dropout.forward(r, mode: mode.derived(3))
        let (f2, cf2) = feedForwardOut.forward(rd, parameters: parameters)
        let (fd, cfd) = dropout.forward(f2, mode: mode.derived(4))
        var y = h
        y.add(fd)
        mask.zeroPadding(&y)
        return (y, Cache(mask: mask, attentionNorm: cn1, attention: ca, attentionDropout: cad,
                         feedForwardNorm: cn2, feedForwardIn: cf1, activation: cr, hiddenDropout: crd,
                         feedForwardOut: cf2, outputDropout: cfd))
    }

    /// Returns `dx` and accumulates every sub-layer's parameter gradients. Rows of `dy` at
    /// padding positions are ignored.
    public func backward(_ dy: Matrix, cache: Cache, parameters: [Float], gradients: inout [Float]) -> Matrix {
        var dh = dy
        cache.mask.zeroPadding(&dh)
        let df2 = dropout.backward(dh, cache: cache.outputDropout)
        let drd = feedForwardOut.backward(df2, cache: cache.feedForwardOut, parameters: parameters, gradients: &gradients)
        let dr = dropout.backward(drd, cache: cache.hiddenDropout)
        let df1 = activation.backward(dr, cache: cache.activation)
        let dn2 = feedForwardIn.backward(df1, cache: cache.feedForwardIn, parameters: parameters, gradients: &gradients)
        dh.add(feedForwardNorm.backward(dn2, cache: cache.feedForwardNorm, parameters: parameters, gradients: &gradients))
        let da = dropout.backward(dh, cache: cache.attentionDropout)
        let dn1 = attention.backward(da, cache: cache.attention, parameters: parameters, gradients: &gradients)
        var dx = dh
        dx.add(attentionNorm.backward(dn1, cache: cache.attentionNorm, parameters: parameters, gradients: &gradients))
        return dx
    }
}
