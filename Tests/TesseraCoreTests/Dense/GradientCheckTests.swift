import Testing
import TesseraCore

/// The checker must be able to fail: broken gradients are rejected, not waved through.
@Suite("Dense: GradientCheck catches wrong gradients")
struct GradientCheckTests {
    typealias S = DenseTestSupport

    /// A Linear layer with a plausible bug injected into its backward pass.
    enum Bug: CaseIterable, Sendable {
        case weightGradientScaled      // dW off by 10%
        case biasGradientMissing       // forgot db
        case inputGradientTransposed   // dx = dy · W computed with the wrong half of W
        case weightGradientNotTransposed
    }

    @Test(arguments: Bug.allCases)
    func brokenLinearIsRejected(bug: Bug) {
        var layout = ParameterLayout()
        let linear = Linear("l", inputs: 4, outputs: 4, layout: &layout)
        let w = layout["l.weight"]!.range, b = layout["l.bias"]!.range
        let (inputReport, parameterReport) = S.check(
            "broken Linear (\(bug))", input: S.random(5, 4, seed: 1), parameters: S.parameters(layout, seed: 2)
        ) { p, x in
            linear.forward(x, parameters: p).output
        } backward: { p, x, dy in
            var g = layout.zeros()
            var dx = linear.backward(dy, cache: linear.forward(x, parameters: p).cache, parameters: p, gradients: &g)
            switch bug {
            case .weightGradientScaled:
                for i in w { g[i] *= 1.1 }
            case .biasGradientMissing:
                for i in b { g[i] = 0 }
            case .inputGradientTransposed:
                dx = matmul(dy, layout.matrix("l.weight", in: p), transposeB: true)
            case .weightGradientNotTransposed:
                let gw = layout.matrix("l.weight", in: g).transposed()
                for (k, i) in w.enumerated() { g[i] = gw.values[k] }
            }
            return (dx, g)
        }
        #expect(!(inputReport.passed && parameterReport.passed), "the checker accepted a broken gradient (\(bug))")
        switch bug {
        case .inputGradientTransposed: #expect(!inputReport.passed && parameterReport.passed)
        default: #expect(inputReport.passed && !parameterReport.passed)
        }
    }

    @Test func reportsTheCorruptedCoordinate() {
        var layout = ParameterLayout()
        let norm = LayerNorm("ln", dim: 5, layout: &layout)
        let x = S.random(3, 5, seed: 3), probe = S.random(3, 5, seed: 4)
        let p = S.parameters(layout, seed: 5)
        var g = layout.zeros()
        _ = norm.backward(probe, cache: norm.forward(x, parameters: p).cache, parameters: p, gradients: &g)
        g[7] += 0.05
        let report = GradientCheck().check(p, analytic: g) { p in norm.forward(x, parameters: p).output.dotProduct(probe) }
        #expect(report.failures.map(\.index) == [7], "\(report)")
        #expect(report.worst?.index == 7)
    }

    @Test func kinksAreExcusedButWrongGradientsAtKinksAreNot() {
        // f(v) = Σ relu(v) with v₀ sitting on the kink: central difference gives 0.5.
        let values: [Float] = [0.004, 1, -1]
        let loss: ([Float]) -> Double = { v in v.reduce(0.0) { $0 + Double(max($1, 0)) } }
        let strict = GradientCheck().check(values, analytic: [1, 1, 0], loss: loss)
        #expect(!strict.passed && strict.failures.map(\.index) == [0])
        let lenient = GradientCheck(allowsKinks: true).check(values, analytic: [1, 1, 0], loss: loss)
        #expect(lenient.passed && lenient.kinks == 1, "\(lenient)")
        let wrong = GradientCheck(allowsKinks: true).check(values, analytic: [2, 1, 0], loss: loss)
        #expect(!wrong.passed && wrong.kinks == 0)
    }

    @Test func samplesAtMostMaxCoordinates() {
        let values = [Float](repeating: 1, count: 1000)
        let analytic = [Float](repeating: 2, count: 1000)
        var calls = 0
        let report = GradientCheck(maxCoordinates: 50).check(values, analytic: analytic) { v in
            calls += 1
            return v.reduce(0.0) { $0 + 2 * Double($1) }
        }
        #expect(report.checked == 50 && calls == 100 && report.passed)
    }
}
