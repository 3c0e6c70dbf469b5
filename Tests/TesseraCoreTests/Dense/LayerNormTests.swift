import Testing
import TesseraCore

@Suite("Dense: LayerNorm")
struct LayerNormTests {
    typealias S = DenseTestSupport

    @Test func normalizesEachRowWithDefaultGainAndBias() {
        var layout = ParameterLayout()
        let norm = LayerNorm("ln", dim: 8, layout: &layout)
        let p = layout.initialize(seed: 1)
        var x = S.random(3, 8, seed: 2, std: 5)
        x.addToEachRow([Float](repeating: 3, count: 8))
        let y = norm.forward(x, parameters: p).output
        for r in 0..<3 {
            let row = y.row(r).map(Double.init)
            let mean = row.reduce(0, +) / 8
            let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 8
            #expect(abs(mean) < 1e-5 && abs(variance - 1) < 1e-3)
        }
    }

    @Test func constantRowNormalizesToBias() {
        var layout = ParameterLayout()
        let norm = LayerNorm("ln", dim: 4, layout: &layout)
        let p = layout.initialize(seed: 1)
        let x = Matrix(rows: 1, cols: 4, repeating: 7)
        let (y, cache) = norm.forward(x, parameters: p)
        #expect(y.values == [0, 0, 0, 0])
        var g = layout.zeros()
        let dx = norm.backward(Matrix(rows: 1, cols: 4, values: [1, 2, 3, 4]), cache: cache, parameters: p, gradients: &g)
        #expect(dx.values.allSatisfy { $0.isFinite })
    }

    @Test func gradientCheck() {
        var layout = ParameterLayout()
        let norm = LayerNorm("ln", dim: 6, layout: &layout)
        S.expectGradients("LayerNorm", input: S.random(5, 6, seed: 3), parameters: S.parameters(layout, seed: 4)) { p, x in
            norm.forward(x, parameters: p).output
        } backward: { p, x, dy in
            var g = layout.zeros()
            let dx = norm.backward(dy, cache: norm.forward(x, parameters: p).cache, parameters: p, gradients: &g)
            return (dx, g)
        }
    }
}
