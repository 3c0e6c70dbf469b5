import Testing
import TesseraCore

@Suite("Dense: multi-head self-attention and transformer block")
struct AttentionTests {
    typealias S = DenseTestSupport

    /// 3 sequences of 5 positions: full, 3 real (left-padded), 1 real.
    static let mask = SequenceMask(leftPaddedLengths: [5, 3, 1], length: 5)

    @Test func maskConstruction() {
        let m = SequenceMask(leftPaddedLengths: [2, 0], length: 3)
        #expect(m.valid == [false, true, true, false, false, false])
        #expect(m.isValid(sequence: 0, position: 1) && !m.isValid(sequence: 1, position: 2))
        #expect(SequenceMask.full(batch: 2, length: 2).valid.allSatisfy { $0 })
    }

    @Test func weightsAreCausalAndSkipPadding() {
        var layout = ParameterLayout()
        let attention = MultiHeadSelfAttention("att", dim: 8, heads: 2, layout: &layout)
        let p = S.parameters(layout, seed: 1)
        let (y, cache) = attention.forward(S.random(15, 8, seed: 2), mask: Self.mask, parameters: p)
        for s in 0..<3 {
            for h in 0..<2 {
                let w = attention.attentionWeights(cache, sequence: s, head: h)
                for i in 0..<5 {
                    let real = Self.mask.isValid(sequence: s, position: i)
                    let sum = w.row(i).reduce(0, +)
                    #expect(real ? abs(sum - 1) < 1e-5 : sum == 0)
                    for j in 0..<5 where j > i || !Self.mask.isValid(sequence: s, position: j) {
                        #expect(w[i, j] == 0)
                    }
                }
            }
        }
        for r in 0..<15 where !Self.mask.valid[r] { #expect(y.row(r).allSatisfy { $0 == 0 }) }
    }

    @Test func outputsDependOnlyOnEarlierRealPositions() {
        var layout = ParameterLayout()
        let attention = MultiHeadSelfAttention("att", dim: 8, heads: 2, layout: &layout)
        let p = S.parameters(layout, seed: 3)
        let x = S.random(15, 8, seed: 4)
        let y = attention.forward(x, mask: Self.mask, parameters: p).output
        var changed = x
        for c in 0..<8 {
            changed[8, c] += 1   // sequence 1, position 3 (real)
            changed[5, c] -= 2   // sequence 1, position 0 (padding)
        }
        let y2 = attention.forward(changed, mask: Self.mask, parameters: p).output
        for r in 0..<15 {
            let affected = r == 8 || r == 9   // position 3 itself and the later position 4
            #expect(affected ? y.row(r) != y2.row(r) : y.row(r) == y2.row(r), "row \(r)")
        }
    }

    @Test(arguments: [(2, true), (1, true), (4, false)])
    func attentionGradientCheck(heads: Int, causal: Bool) {
        var layout = ParameterLayout()
        let attention = MultiHeadSelfAttention("att", dim: 8, heads: heads, causal: causal, layout: &layout)
        S.expectGradients("MHSA(heads: \(heads), causal: \(causal))", input: S.random(15, 8, seed: 5),
                          parameters: S.parameters(layout, seed: 6), checker: S.composite) { p, x in
            attention.forward(x, mask: Self.mask, parameters: p).output
        } backward: { p, x, dy in
            var g = layout.zeros()
            let dx = attention.backward(dy, cache: attention.forward(x, mask: Self.mask, parameters: p).cache,
                                        parameters: p, gradients: &g)
            return (dx, g)
        }
    }

    @Test func attentionWithDropoutGradientCheck() {
        var layout = ParameterLayout()
        let attention = MultiHeadSelfAttention("att", dim: 6, heads: 2, attentionDropout: 0.3, layout: &layout)
        let mode = ForwardMode.training(seed: 21)
        S.expectGradients("MHSA(dropout)", input: S.random(15, 6, seed: 7), parameters: S.parameters(layout, seed: 8),
                          checker: S.composite) { p, x in
            attention.forward(x, mask: Self.mask, parameters: p, mode: mode).output
        } backward: { p, x, dy in
            var g = layout.zeros()
            let dx = attention.backward(dy, cache: attention.forward(x, mask: Self.mask, parameters: p, mode: mode).cache,
                                        parameters: p, gradients: &g)
            return (dx, g)
        }
    }

    @Test func paddingGetsNoGradient() {
        var layout = ParameterLayout()
        let block = TransformerBlock("b", dim: 8, heads: 2, hidden: 12, layout: &layout)
        let p = S.parameters(layout, seed: 9)
        let x = S.random(15, 8, seed: 10)
        let (y, cache) = block.forward(x, mask: Self.mask, parameters: p)
        for r in 0..<15 where !Self.mask.valid[r] { #expect(y.row(r).allSatisfy { $0 == 0 }) }
        var g = layout.zeros()
        let dx = block.backward(S.random(15, 8, seed: 11), cache: cache, parameters: p, gradients: &g)
        for r in 0..<15 where !Self.mask.valid[r] { #expect(dx.row(r).allSatisfy { $0 == 0 }, "row \(r)") }
        // An upstream gradient only on padding rows changes nothing at all.
        var onlyPadding = Matrix(rows: 15, cols: 8, repeating: 1)
        Self.mask.valid.enumerated().forEach { r, real in if real { for c in 0..<8 { onlyPadding[r, c] = 0 } } }
        var g2 = layout.zeros()
        let dx2 = block.backward(onlyPadding, cache: cache, parameters: p, gradients: &g2)
        #expect(dx2.values.allSatisfy { $0 == 0 } && g2.allSatisfy { $0 == 0 })
    }

    /// GELU (smooth) checks the block's wiring strictly; ReLU (SASRec's choice) is checked
    /// with kinks excused, as in the MLP test.
    @Test(arguments: [Activation.gelu, .relu], [false, true])
    func transformerBlockGradientCheck(activation: Activation, training: Bool) {
        var layout = ParameterLayout()
        let block = TransformerBlock("b", dim: 8, heads: 2, hidden: 12, activation: activation, dropout: 0.2, layout: &layout)
        let mode: ForwardMode = training ? .training(seed: 31) : .inference
        S.expectGradients("TransformerBlock(\(activation), training: \(training))", input: S.random(15, 8, seed: 12),
                          parameters: S.parameters(layout, seed: 13),
                          checker: activation == .relu ? S.reluComposite : S.composite,
                          maxKinkFraction: S.reluKinkFraction) { p, x in
            block.forward(x, mask: Self.mask, parameters: p, mode: mode).output
        } backward: { p, x, dy in
            var g = layout.zeros()
            let dx = block.backward(dy, cache: block.forward(x, mask: Self.mask, parameters: p, mode: mode).cache,
                                    parameters: p, gradients: &g)
            return (dx, g)
        }
    }
}
