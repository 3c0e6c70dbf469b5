import Foundation
import Testing
import TesseraCore

/// Each optimizer against steps worked out by hand on a 2-dim row.
@Suite struct OptimizerTests {
    @Test func sgdSteps() {
        // w = [1, -2], lr = 0.1
        // g1 = [0.5, -1]: w = [1 - 0.05, -2 + 0.1]   = [0.95, -1.9]
        // g2 = [1, 2]:    w = [0.95 - 0.1, -1.9 - 0.2] = [0.85, -2.1]
        let trace = runOptimizer(.sgd(learningRate: 0.1), value: [1, -2], gradients: [[0.5, -1], [1, 2]])
        #expect(isClose(trace[0].value, [0.95, -1.9]))
        #expect(isClose(trace[1].value, [0.85, -2.1]))
        #expect(trace[1].state.isEmpty)
    }

    @Test func adagradSteps() {
        // w = [1, -2], lr = 0.1, a0 = 0.1, eps = 1e-10 (negligible here)
        // g1 = [0.3, -0.4]: a = [0.1 + 0.09, 0.1 + 0.16] = [0.19, 0.26]
        //   w0 = 1 - 0.1 * 0.3 / sqrt(0.19)    = 1 - 0.03 / 0.4358899 = 0.9311753
        //   w1 = -2 - 0.1 * (-0.4) / sqrt(0.26) = -2 + 0.04 / 0.5099020 = -1.9215535
        // g2 = [0.3, 0]: a = [0.28, 0.26]
        //   w0 = 0.9311753 - 0.03 / sqrt(0.28) = 0.9311753 - 0.0566947 = 0.8744806
        //   w1 unchanged (zero gradient), a1 unchanged
        let trace = runOptimizer(
            .adagrad(learningRate: 0.1), value: [1, -2], gradients: [[0.3, -0.4], [0.3, 0]])
        #expect(isClose(trace[0].state, [0.19, 0.26]))
        #expect(isClose(trace[0].value, [0.9311753, -1.9215535]))
        #expect(isClose(trace[1].state, [0.28, 0.26]))
        #expect(isClose(trace[1].value, [0.8744806, -1.9215535]))
    }

    @Test func adamStepsWithBiasCorrection() {
        // w = [1, -2], lr = 0.1, b1 = 0.9, b2 = 0.999, eps = 1e-8
        // t = 1, g1 = [0.5, -1]:
        //   m = 0.1 g = [0.05, -0.1]; v = 0.001 g² = [0.00025, 0.001]
        //   m̂ = m / (1 - 0.9) = [0.5, -1]; v̂ = v / (1 - 0.999) = [0.25, 1]
        //   w -= 0.1 * m̂ / sqrt(v̂) = 0.1 * [1, -1]  ->  w = [0.9, -1.9]
        // t = 2, g2 = [-0.5, 0.5]:
        //   m = 0.9 m + 0.1 g = [0.045 - 0.05, -0.09 + 0.05] = [-0.005, -0.04]
        //   v = 0.999 v + 0.001 g² = [0.00024975 + 0.00025, 0.000999 + 0.00025] = [0.00049975, 0.001249]
        //   c1 = 1 - 0.9² = 0.19; c2 = 1 - 0.999² = 0.001999
        //   m̂ = [-0.0263158, -0.2105263]; v̂ = [0.25, 0.6248124]; sqrt(v̂) = [0.5, 0.7904508]
        //   w -= 0.1 * m̂ / sqrt(v̂) = [-0.0052632, -0.0266337]  ->  w = [0.9052632, -1.8733663]
        let trace = runOptimizer(
            .adam(learningRate: 0.1), value: [1, -2], gradients: [[0.5, -1], [-0.5, 0.5]])
        #expect(isClose(trace[0].value, [0.9, -1.9]))
        #expect(isClose(trace[0].state, [0.05, -0.1, 0.00025, 0.001, 1], tolerance: 1e-7))
        #expect(isClose(trace[1].value, [0.9052632, -1.8733663]))
        #expect(isClose(trace[1].state, [-0.005, -0.04, 0.00049975, 0.001249, 2], tolerance: 1e-7))
    }

    @Test func adamBiasCorrectionUsesEachRowsOwnStepCount() throws {
        // Row A gets two pushes, row B only the second. B's first step must be a
        // t = 1 step (exactly lr * sign(g) = 0.1 per coordinate). With a global
        // t = 2 it would be 0.0744 (m̂ = 0.1 g / 0.19, v̂ = 0.001 g² / 0.001999).
        let table = try EmbeddingTable(spec: testSpec(dim: 2, optimizer: .adam(learningRate: 0.1), initializer: .zeros))
        try table.push(keys: [1], gradients: [0.5, -1])
        try table.push(keys: [1, 2], gradients: [-0.5, 0.5, 0.5, -1])
        let b = try #require(table.row(for: 2))
        #expect(isClose(b.value, [-0.1, 0.1]))
        #expect(b.state.last == 1)
        let a = try #require(table.row(for: 1))
        #expect(a.state.last == 2)
        #expect(isClose(a.value, [0.0052632 - 0.1, 0.1266337], tolerance: 1e-5))
    }

    @Test func ftrlSteps() {
        // alpha = 0.1, beta = 1, l1 = l2 = 0, w = [0, 0] (z = n = 0)
        // g1 = [0.5, -1]:
        //   c0: n = 0.25, sigma = (0.5 - 0) / 0.1 = 5, z = 0.5 - 5 * 0 = 0.5,
        //       w = -0.5 / ((1 + 0.5) / 0.1) = -0.5 / 15 = -0.0333333
        //   c1: n = 1, sigma = 10, z = -1, w = 1 / ((1 + 1) / 0.1) = 0.05
        // g2 = [0.5, 0.5]:
        //   c0: n = 0.5, sigma = (0.7071068 - 0.5) / 0.1 = 2.0710678,
        //       z = 0.5 + 0.5 - 2.0710678 * (-0.0333333) = 1.0690356,
        //       w = -1.0690356 / ((1 + 0.7071068) / 0.1) = -0.0626227
        //   c1: n = 1.25, sigma = (1.1180340 - 1) / 0.1 = 1.1803399,
        //       z = -1 + 0.5 - 1.1803399 * 0.05 = -0.5590170,
        //       w = 0.5590170 / ((1 + 1.1180340) / 0.1) = 0.0263932
        let trace = runOptimizer(.ftrl(alpha: 0.1), value: [0, 0], gradients: [[0.5, -1], [0.5, 0.5]])
        #expect(isClose(trace[0].value, [-0.0333333, 0.05]))
        #expect(isClose(trace[0].state, [0.5, -1, 0.25, 1]))
        #expect(isClose(trace[1].value, [-0.0626227, 0.0263932]))
        #expect(isClose(trace[1].state, [1.0690356, -0.5590170, 0.5, 1.25]))
    }

    @Test func ftrlL1KeepsSmallCoordinatesAtZero() {
        // As above with l1 = 0.6:
        // g1: c0 z = 0.5, |z| <= 0.6 -> w = 0.
        //     c1 z = -1 -> w = -(-1 + 0.6) / 20 = 0.02
        // g2: c0 sigma = 2.0710678, z = 1 - 2.0710678 * 0 = 1 -> w = -(1 - 0.6) / 17.0710678 = -0.0234315
        //     c1 sigma = 1.1803399, z = -0.5 - 1.1803399 * 0.02 = -0.5236068, |z| <= 0.6 -> w = 0
        let trace = runOptimizer(.ftrl(alpha: 0.1, l1: 0.6), value: [0, 0], gradients: [[0.5, -1], [0.5, 0.5]])
        #expect(trace[0].value[0] == 0)
        #expect(isClose(trace[0].value, [0, 0.02]))
        #expect(isClose(trace[1].value, [-0.0234315, 0]))
        #expect(trace[1].value[1] == 0)
        #expect(isClose(trace[1].state, [1, -0.5236068, 0.5, 1.25]))
    }

    @Test func ftrlStateReproducesANonZeroInitialRow() {
        // alpha = 0.1, beta = 1, l1 = 0.2, l2 = 0.5, w0 = [0.3, -0.3, 0]:
        //   z = -w0 * (beta / alpha + l2) - sign(w0) * l1 = -0.3 * 10.5 - 0.2 = -3.35 (and +3.35, 0)
        //   closed form: -(z - sign(z) l1) / (10 + 0.5) = -(-3.35 + 0.2) / 10.5 = 0.3
        // A zero gradient leaves z and n alone, so w must stay at w0.
        let trace = runOptimizer(
            .ftrl(alpha: 0.1, beta: 1, l1: 0.2, l2: 0.5), value: [0.3, -0.3, 0], gradients: [[0, 0, 0]])
        #expect(isClose(trace[0].state, [-3.35, 3.35, 0, 0, 0, 0]))
        #expect(isClose(trace[0].value, [0.3, -0.3, 0]))
    }

    /// The hand-checked 2-dim cases above run only the scalar tail; rows of 18
    /// (two 8-lane SIMD blocks plus a tail) repeating the same pair must give
    /// every pair exactly the tail's result.
    @Test(arguments: [
        OptimizerSpec.sgd(learningRate: 0.1), .adagrad(learningRate: 0.1), .adam(learningRate: 0.1),
        .ftrl(alpha: 0.1), .ftrl(alpha: 0.1, l1: 0.6), .ftrl(alpha: 0.1, beta: 1, l1: 0.2, l2: 0.5),
    ])
    func simdLanesMatchTheScalarTail(spec: OptimizerSpec) {
        let tile = { (pair: [Float]) in Array([[Float]](repeating: pair, count: 9).joined()) }
        let narrow = runOptimizer(spec, value: [0.3, -2], gradients: [[0.5, -1], [0.5, 0.5], [-0.25, 0]])
        let wide = runOptimizer(spec, value: tile([0.3, -2]), gradients: [tile([0.5, -1]), tile([0.5, 0.5]), tile([-0.25, 0])])
        for (n, w) in zip(narrow, wide) {
            #expect(w.value == tile(n.value))  // exact: the same IEEE operations per coordinate
        }
    }

    @Test func stateWidthsAndNames() {
        #expect(OptimizerSpec.sgd(learningRate: 1).stateWidth(dim: 8) == 0)
        #expect(OptimizerSpec.adagrad(learningRate: 1).stateWidth(dim: 8) == 8)
        #expect(OptimizerSpec.adam(learningRate: 1).stateWidth(dim: 8) == 17)
        #expect(OptimizerSpec.ftrl(alpha: 1).stateWidth(dim: 8) == 16)
        #expect(OptimizerSpec.ftrl(alpha: 1).name == "ftrl")
    }

    @Test func decodingFillsDefaultsOfTheCaseDeclarations() throws {
        let decoder = JSONDecoder()
        func decode(_ json: String) throws -> OptimizerSpec {
            try decoder.decode(OptimizerSpec.self, from: Data(json.utf8))
        }
        #expect(try decode(#"{"adagrad": {"learningRate": 0.5}}"#) == .adagrad(learningRate: 0.5))
        #expect(try decode(#"{"adam": {"learningRate": 0.5}}"#) == .adam(learningRate: 0.5))
        #expect(try decode(#"{"ftrl": {"alpha": 0.5}}"#) == .ftrl(alpha: 0.5))
        #expect(try decode(#"{"adam": {"learningRate": 1, "beta2": 0.99}}"#) == .adam(learningRate: 1, beta2: 0.99))
        #expect(throws: DecodingError.self) { try decode(#"{"adam": {"learningRate": 1, "beta3": 0.99}}"#) }
        #expect(throws: DecodingError.self) { try decode(#"{"adamw": {"learningRate": 1}}"#) }
        #expect(throws: DecodingError.self) { try decode(#"{"sgd": {}}"#) }
        for spec: OptimizerSpec in [
            .sgd(learningRate: 0.25), .adagrad(learningRate: 0.1, initialAccumulator: 0, epsilon: 1e-6),
            .adam(learningRate: 0.001, beta1: 0.8), .ftrl(alpha: 0.05, beta: 2, l1: 1, l2: 0.5),
        ] {
            #expect(try decoder.decode(OptimizerSpec.self, from: JSONEncoder().encode(spec)) == spec)
        }
    }

    @Test func validationRejectsOutOfRangeHyperparameters() {
        #expect(throws: TableError.self) { try OptimizerSpec.sgd(learningRate: 0).validate() }
        #expect(throws: TableError.self) { try OptimizerSpec.adam(learningRate: 0.1, beta1: 1).validate() }
        #expect(throws: TableError.self) { try OptimizerSpec.ftrl(alpha: 0.1, beta: 0).validate() }
        #expect(throws: TableError.self) {
            try OptimizerSpec.adagrad(learningRate: 0.1, initialAccumulator: 0, epsilon: 0).validate()
        }
        #expect(throws: Never.self) { try OptimizerSpec.ftrl(alpha: 0.1).validate() }
    }
}
