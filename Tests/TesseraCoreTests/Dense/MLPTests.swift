import Testing
import TesseraCore

@Suite("Dense: MLP, softmax gate, mixture of experts")
struct MLPTests {
    typealias S = DenseTestSupport

    @Test func mlpShapesAndLayout() {
        var layout = ParameterLayout()
        let mlp = MLP("tower", sizes: [6, 8, 4], layout: &layout)
        #expect(mlp.inputs == 6 && mlp.outputs == 4)
        #expect(layout.count == 6 * 8 + 8 + 8 * 4 + 4)
        #expect(layout["tower.1.weight"]?.shape == [4, 8])
        let y = mlp.forward(S.random(3, 6, seed: 1), parameters: layout.initialize(seed: 2)).output
        #expect(y.rows == 3 && y.cols == 4)
    }

    @Test(arguments: [Activation.relu, .gelu, .tanh])
    func mlpGradientCheck(activation: Activation) {
        var layout = ParameterLayout()
        let mlp = MLP("tower", sizes: [5, 7, 6, 3], activation: activation, layout: &layout)
        // ReLU: a perturbation can push a hidden pre-activation across 0; such coordinates
        // are excused only when the analytic gradient matches a one-sided difference.
        let checker = activation == .relu ? S.reluComposite : S.composite
        S.expectGradients("MLP(\(activation))", input: S.random(4, 5, seed: 3), parameters: S.parameters(layout, seed: 4),
                          checker: checker, maxKinkFraction: S.reluKinkFraction) { p, x in
            mlp.forward(x, parameters: p).output
        } backward: { p, x, dy in
            var g = layout.zeros()
            let dx = mlp.backward(dy, cache: mlp.forward(x, parameters: p).cache, parameters: p, gradients: &g)
            return (dx, g)
        }
    }

    @Test func mlpWithDropoutGradientCheck() {
        var layout = ParameterLayout()
        let mlp = MLP("tower", sizes: [5, 8, 3], activation: .gelu, activateOutput: true, dropout: 0.3, layout: &layout)
        let mode = ForwardMode.training(seed: 17)
        #expect(mlp.forward(S.random(4, 5, seed: 5), parameters: layout.initialize(seed: 1), mode: mode).output
            != mlp.forward(S.random(4, 5, seed: 5), parameters: layout.initialize(seed: 1)).output)
        S.expectGradients("MLP(dropout)", input: S.random(4, 5, seed: 5), parameters: S.parameters(layout, seed: 6),
                          checker: S.composite) { p, x in
            mlp.forward(x, parameters: p, mode: mode).output
        } backward: { p, x, dy in
            var g = layout.zeros()
            let dx = mlp.backward(dy, cache: mlp.forward(x, parameters: p, mode: mode).cache, parameters: p, gradients: &g)
            return (dx, g)
        }
    }

    @Test func gateRowsSumToOneAndMixIsTheGatedSum() {
        var layout = ParameterLayout()
        let gate = SoftmaxGate("gate", inputs: 4, experts: 3, layout: &layout)
        let g = gate.forward(S.random(5, 4, seed: 7), parameters: S.parameters(layout, seed: 8)).gates
        for r in 0..<5 { #expect(abs(g.row(r).reduce(0, +) - 1) < 1e-6) }
        let experts = (0..<3).map { S.random(5, 2, seed: 10 + UInt64($0)) }
        let y = SoftmaxGate.mix(gates: g, experts: experts)
        for r in 0..<5 {
            for c in 0..<2 {
                let expected = (0..<3).reduce(Float(0)) { $0 + g[r, $1] * experts[$1][r, c] }
                #expect(abs(y[r, c] - expected) < 1e-5)
            }
        }
    }

    @Test func gatedMixGradientCheck() {
        // Gate and two fixed "expert" outputs that depend on the input (x and tanh(x)), so
        // the input gradient flows through both the gate and the experts.
        var layout = ParameterLayout()
        let gate = SoftmaxGate("gate", inputs: 4, experts: 2, layout: &layout)
        func run(_ p: [Float], _ x: Matrix) -> (Matrix, SoftmaxGate.Cache, [Matrix], Activation.Cache) {
            let (g, cg) = gate.forward(x, parameters: p)
            let (t, ct) = Activation.tanh.forward(x)
            return (SoftmaxGate.mix(gates: g, experts: [x, t]), cg, [x, t], ct)
        }
        S.expectGradients("SoftmaxGate+mix", input: S.random(3, 4, seed: 12), parameters: S.parameters(layout, seed: 13)) { p, x in
            run(p, x).0
        } backward: { p, x, dy in
            let (_, cg, experts, ct) = run(p, x)
            let (dGates, dExperts) = SoftmaxGate.mixBackward(dy, gates: cg.gates, experts: experts)
            var g = layout.zeros()
            var dx = gate.backward(dGates, cache: cg, parameters: p, gradients: &g)
            dx.add(dExperts[0])
            dx.add(Activation.tanh.backward(dExperts[1], cache: ct))
            return (dx, g)
        }
    }

    @Test func multiGateMixtureOfExpertsGradientCheck() {
        var layout = ParameterLayout()
        let mmoe = MixtureOfExperts("mmoe", inputs: 5, expertSizes: [6, 4], experts: 3, tasks: 2,
                                    activation: .gelu, layout: &layout)
        // Probe both tasks: L = Σ R₀ ⊙ out₀ + Σ R₁ ⊙ out₁, packed side by side as one matrix.
        func joined(_ outs: [Matrix]) -> Matrix {
            var m = Matrix(rows: outs[0].rows, cols: 8)
            for r in 0..<m.rows { for c in 0..<4 { m[r, c] = outs[0][r, c]; m[r, c + 4] = outs[1][r, c] } }
            return m
        }
        S.expectGradients("MMoE", input: S.random(4, 5, seed: 14), parameters: S.parameters(layout, seed: 15),
                          checker: S.composite) { p, x in
            joined(mmoe.forward(x, parameters: p).outputs)
        } backward: { p, x, dy in
            var g = layout.zeros()
            let d0 = Matrix(rows: 4, cols: 4, values: (0..<16).map { dy[$0 / 4, $0 % 4] })
            let d1 = Matrix(rows: 4, cols: 4, values: (0..<16).map { dy[$0 / 4, $0 % 4 + 4] })
            let dx = mmoe.backward([d0, d1], cache: mmoe.forward(x, parameters: p).cache, parameters: p, gradients: &g)
            return (dx, g)
        }
    }
}
