import Foundation
import Testing
import TesseraCore

/// The STAR layer: shapes, its reduction to `Linear` at initialisation, and gradients.
@Suite("Towers: STAR layer")
struct MultiScenarioStarLayerTests {
    typealias D = DenseTestSupport

    @Test func startsAsTheSharedLinearLayer() {
        var starLayout = ParameterLayout(), linearLayout = ParameterLayout()
        let star = MultiScenarioStarLayer("star", inputs: 5, outputs: 3, scenarios: 4, layout: &starLayout)
        let linear = Linear("star.shared", inputs: 5, outputs: 3, layout: &linearLayout)
        #expect(starLayout.count == 5 * 3 + 3 + 4 * (5 * 3 + 3))
        // Same names, so the same initial shared weight; W_s = 1 and b_s = 0.
        var starParameters = starLayout.initialize(seed: 1)
        var linearParameters = linearLayout.initialize(seed: 1)
        starParameters[star.sharedBiasOffset + 1] = 0.5
        linearParameters[linear.biasOffset! + 1] = 0.5
        let x = D.random(6, 5, seed: 2)
        let y = star.forward(x, scenarios: [0, 3, 1, 1, 2, 0], parameters: starParameters).output
        #expect(y.isApproximatelyEqual(to: linear.forward(x, parameters: linearParameters).output))
    }

    @Test func rowsUseTheirScenariosWeights() {
        var layout = ParameterLayout()
        let star = MultiScenarioStarLayer("star", inputs: 3, outputs: 2, scenarios: 2, layout: &layout)
        let parameters = D.parameters(layout, seed: 3)
        let x = D.random(4, 3, seed: 4)
        let scenarios = [1, 0, 1, 0]
        let y = star.forward(x, scenarios: scenarios, parameters: parameters).output
        for r in 0..<4 {
            let (w, b) = star.effective(scenario: scenarios[r], parameters: parameters)
            for o in 0..<2 {
                var expected = b[o]
                for i in 0..<3 { expected += w[o, i] * x[r, i] }
                #expect(abs(y[r, o] - expected) < 1e-5)
            }
        }
    }

    @Test func gradientsMatchFiniteDifferences() {
        var layout = ParameterLayout()
        let star = MultiScenarioStarLayer("star", inputs: 4, outputs: 3, scenarios: 3, layout: &layout)
        // Scenario 1 is absent: its parameters must get exactly zero gradient.
        let scenarios = [0, 2, 2, 0, 0]
        let parameters = D.parameters(layout, seed: 5)
        D.expectGradients("STAR layer", input: D.random(5, 4, seed: 6), parameters: parameters) { p, x in
            star.forward(x, scenarios: scenarios, parameters: p).output
        } backward: { p, x, dy in
            let (_, cache) = star.forward(x, scenarios: scenarios, parameters: p)
            var g = layout.zeros()
            let dx = star.backward(dy, cache: cache, parameters: p, gradients: &g)
            return (dx, g)
        }
        var g = layout.zeros()
        let x = D.random(5, 4, seed: 6)
        let (y, cache) = star.forward(x, scenarios: scenarios, parameters: parameters)
        _ = star.backward(D.random(y.rows, y.cols, seed: 7), cache: cache, parameters: parameters, gradients: &g)
        let own = layout["star.scenario.weight"]!
        #expect(g[(own.offset + 12)..<(own.offset + 24)].allSatisfy { $0 == 0 })
    }
}
