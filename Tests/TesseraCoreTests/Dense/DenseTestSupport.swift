import Foundation
import Testing
import TesseraCore

/// Shared helpers for the dense-layer tests: random inputs and a probe-loss gradient check.
enum DenseTestSupport {
    /// Set `TESSERA_GRADCHECK_VERBOSE=1` to print every gradient-check report.
    static let verbose = ProcessInfo.processInfo.environment["TESSERA_GRADCHECK_VERBOSE"] != nil

    /// Single layers: the checker's defaults (relative error <= 1e-2, floor 1e-2, h = 1e-2).
    static let strict = GradientCheck()
    /// Compositions (attention, transformer block, MLP, MMoE): Float32 rounding through many
    /// layers puts ~1e-4..1e-3 of noise on each numeric derivative at h = 1e-2, so tiny
    /// derivatives are held to an absolute 2e-3 (floor 0.1) and the rest to 2%.
    static let composite = GradientCheck(tolerance: 2e-2, floor: 0.1)
    /// Compositions with ReLU: a smaller step makes crossing a kink rarer, and coordinates
    /// whose analytic derivative matches a one-sided difference at a kink are excused.
    static let reluComposite = GradientCheck(step: 3e-3, tolerance: 2e-2, floor: 0.1, allowsKinks: true)
    /// Kinks cluster (one hidden pre-activation near 0 is crossed by every coordinate that
    /// feeds it), so a quarter of a small sample may be excused.
    static let reluKinkFraction = 0.25

    static func random(_ rows: Int, _ cols: Int, seed: UInt64, std: Float = 1) -> Matrix {
        var rng = SplitMix64(seed: seed)
        return Matrix.randomNormal(rows: rows, cols: cols, std: std, using: &rng)
    }

    /// Entries of magnitude at least `margin`, random sign: keeps ReLU inputs off the kink.
    static func awayFromZero(_ rows: Int, _ cols: Int, seed: UInt64, margin: Float = 0.1) -> Matrix {
        var m = random(rows, cols, seed: seed)
        m.apply { $0 < 0 ? $0 - margin : $0 + margin }
        return m
    }

    /// `layout.initialize(seed:)` plus N(0, std²) noise everywhere, so gains are not 1 and
    /// biases not 0 (an all-zero bias would hide a broken bias gradient).
    static func parameters(_ layout: ParameterLayout, seed: UInt64, noise: Float = 0.3) -> [Float] {
        var p = layout.initialize(seed: seed)
        var rng = SplitMix64(seed: seed ^ 0xABCD)
        for i in p.indices { p[i] += noise * rng.nextGaussian() }
        return p
    }

    /// Gradient checks of a layer for input and parameters under the probe loss
    /// `L = Σ R ⊙ f(x, θ)` with fixed random `R` (so `dL/dy = R`).
    ///
    /// `forward` returns `f(x, θ)`; `backward(x, θ, dy)` runs forward and backward and returns
    /// `dx` and the accumulated parameter gradient (starting from zeros).
    static func check(
        _ label: String,
        input: Matrix, parameters: [Float], checker: GradientCheck = GradientCheck(), probeSeed: UInt64 = 99,
        forward: ([Float], Matrix) -> Matrix,
        backward: ([Float], Matrix, Matrix) -> (input: Matrix, parameters: [Float])
    ) -> (input: GradientCheck.Report, parameters: GradientCheck.Report) {
        let y = forward(parameters, input)
        let probe = random(y.rows, y.cols, seed: probeSeed)
        let analytic = backward(parameters, input, probe)
        #expect(analytic.input.rows == input.rows && analytic.input.cols == input.cols)
        #expect(analytic.parameters.count == parameters.count)
        let inputReport = checker.check(input.values, analytic: analytic.input.values) { v in
            forward(parameters, Matrix(rows: input.rows, cols: input.cols, values: v)).dotProduct(probe)
        }
        let parameterReport = checker.check(parameters, analytic: analytic.parameters) { p in
            forward(p, input).dotProduct(probe)
        }
        if verbose {
            print("gradcheck \(label) input: \(inputReport)")
            print("gradcheck \(label) parameters: \(parameterReport)")
        }
        return (inputReport, parameterReport)
    }

    /// `check` plus expectations that both reports passed.
    static func expectGradients(
        _ label: String,
        input: Matrix, parameters: [Float], checker: GradientCheck = GradientCheck(), probeSeed: UInt64 = 99,
        maxKinkFraction: Double = 0,
        sourceLocation: SourceLocation = #_sourceLocation,
        forward: ([Float], Matrix) -> Matrix,
        backward: ([Float], Matrix, Matrix) -> (input: Matrix, parameters: [Float])
    ) {
        let (i, p) = check(label, input: input, parameters: parameters, checker: checker, probeSeed: probeSeed,
                           forward: forward, backward: backward)
        #expect(i.passed, "\(label) input gradient: \(i)", sourceLocation: sourceLocation)
        #expect(p.passed, "\(label) parameter gradient: \(p)", sourceLocation: sourceLocation)
        #expect(Double(i.kinks) <= maxKinkFraction * Double(i.checked), "\(label): too many kinks \(i)", sourceLocation: sourceLocation)
        #expect(Double(p.kinks) <= maxKinkFraction * Double(p.checked), "\(label): too many kinks \(p)", sourceLocation: sourceLocation)
    }

    /// Naive triple-loop `a · b`.
    static func naiveProduct(_ a: Matrix, _ b: Matrix) -> Matrix {
        var c = Matrix(rows: a.rows, cols: b.cols)
        for i in 0..<a.rows {
            for j in 0..<b.cols {
                var s: Float = 0
                for k in 0..<a.cols { s += a[i, k] * b[k, j] }
                c[i, j] = s
            }
        }
        return c
    }
}
