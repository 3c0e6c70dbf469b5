import Testing
import TesseraCore

@Suite("Dense: Linear")
struct LinearTests {
    typealias S = DenseTestSupport

    @Test func forwardIsInputTimesWeightTransposePlusBias() {
        var layout = ParameterLayout()
        let linear = Linear("l", inputs: 3, outputs: 2, layout: &layout)
        let p = S.parameters(layout, seed: 1)
        let x = S.random(4, 3, seed: 2)
        let y = linear.forward(x, parameters: p).output
        let w = layout.matrix("l.weight", in: p)
        var expected = S.naiveProduct(x, w.transposed())
        expected.addToEachRow(Array(p[layout["l.bias"]!.range]))
        #expect(y.isApproximatelyEqual(to: expected))
    }

    @Test(arguments: [true, false])
    func gradientCheck(bias: Bool) {
        var layout = ParameterLayout()
        let linear = Linear("l", inputs: 5, outputs: 4, bias: bias, layout: &layout)
        S.expectGradients("Linear(bias: \(bias))", input: S.random(6, 5, seed: 3), parameters: S.parameters(layout, seed: 4)) { p, x in
            linear.forward(x, parameters: p).output
        } backward: { p, x, dy in
            var g = layout.zeros()
            let dx = linear.backward(dy, cache: linear.forward(x, parameters: p).cache, parameters: p, gradients: &g)
            return (dx, g)
        }
    }

    @Test func backwardAccumulatesIntoTheGradientVector() {
        var layout = ParameterLayout()
        layout.register("other", shape: [3], initializer: .zeros)
        let linear = Linear("l", inputs: 2, outputs: 2, layout: &layout)
        let p = S.parameters(layout, seed: 5)
        let x = S.random(3, 2, seed: 6), dy = S.random(3, 2, seed: 7)
        let cache = linear.forward(x, parameters: p).cache
        var once = layout.zeros()
        _ = linear.backward(dy, cache: cache, parameters: p, gradients: &once)
        var twice = layout.zeros()
        _ = linear.backward(dy, cache: cache, parameters: p, gradients: &twice)
        _ = linear.backward(dy, cache: cache, parameters: p, gradients: &twice)
        #expect(Array(once[0..<3]) == [0, 0, 0], "another layer's gradient was touched")
        for i in once.indices { #expect(abs(twice[i] - 2 * once[i]) < 1e-5) }
        #expect(once[layout["l.bias"]!.range].elementsEqual(dy.columnSums()))
    }
}

@Suite("Dense: activations and dropout")
struct ActivationTests {
    typealias S = DenseTestSupport

    @Test(arguments: [Activation.identity, .relu, .gelu, .sigmoid, .tanh])
    func gradientCheck(activation: Activation) {
        // Inputs at least 0.1 from 0, so ReLU's kink is out of reach of the 1e-2 step.
        S.expectGradients("\(activation)", input: S.awayFromZero(4, 6, seed: 8), parameters: []) { _, x in
            activation.forward(x).output
        } backward: { _, x, dy in
            (activation.backward(dy, cache: activation.forward(x).cache), [])
        }
    }

    @Test func valuesAtKnownPoints() {
        let x = Matrix(rows: 1, cols: 5, values: [-100, -1, 0, 1, 100])
        #expect(Activation.relu.forward(x).output.values == [0, 0, 0, 1, 100])
        let s = Activation.sigmoid.forward(x).output.values
        #expect(s.allSatisfy { $0.isFinite } && s[0] < 1e-30 && s[2] == 0.5 && s[4] == 1)
        let g = Activation.gelu.forward(x).output.values
        #expect(g[2] == 0 && abs(g[3] - 0.841192) < 1e-5 && abs(g[1] + 0.158808) < 1e-5 && g[4] == 100 && g[0] == 0)
        let t = Activation.tanh.forward(x).output.values
        #expect(abs(t[3] - 0.761594) < 1e-6 && t[4] == 1)
    }

    @Test func dropoutIsIdentityAtInferenceAndSeededInTraining() {
        let dropout = Dropout(rate: 0.25)
        let x = Matrix(rows: 100, cols: 40, repeating: 1)
        #expect(dropout.forward(x, mode: .inference).output == x)
        let (y, cache) = dropout.forward(x, mode: .training(seed: 3))
        #expect(y == dropout.forward(x, mode: .training(seed: 3)).output)
        #expect(y != dropout.forward(x, mode: .training(seed: 4)).output)
        let kept = y.values.filter { $0 != 0 }
        #expect(kept.allSatisfy { abs($0 - 1 / 0.75) < 1e-6 })
        let dropped = Double(y.count - kept.count) / Double(y.count)
        #expect(abs(dropped - 0.25) < 0.03)
        // Backward masks exactly the same entries.
        #expect(dropout.backward(x, cache: cache) == y)
        #expect(Dropout(rate: 0).forward(x, mode: .training(seed: 1)).output == x)
    }

    @Test func dropoutGradientCheck() {
        let dropout = Dropout(rate: 0.3)
        S.expectGradients("Dropout", input: S.random(5, 6, seed: 9), parameters: []) { _, x in
            dropout.forward(x, mode: .training(seed: 11)).output
        } backward: { _, x, dy in
            (dropout.backward(dy, cache: dropout.forward(x, mode: .training(seed: 11)).cache), [])
        }
    }
}
