import Foundation
import Testing
import TesseraCore

/// The Gamma and Beta samplers behind Thompson sampling.
@Suite struct BetaSamplingTests {
    static func moments(_ count: Int, _ draw: () -> Double) -> (mean: Double, variance: Double) {
        var sum = 0.0, squares = 0.0
        for _ in 0..<count {
            let x = draw()
            sum += x
            squares += x * x
        }
        let mean = sum / Double(count)
        return (mean, squares / Double(count) - mean * mean)
    }

    @Test(arguments: [0.3, 1.0, 4.5])
    func gammaMeanAndVarianceEqualTheShape(shape: Double) {
        var rng = SplitMix64(seed: 17)
        let (mean, variance) = Self.moments(20_000) { rng.nextGamma(shape: shape) }
        // Standard error of the mean: sqrt(shape / 20 000) ≤ 0.015.
        #expect(abs(mean - shape) < 5 * (shape / 20_000).squareRoot())
        #expect(abs(variance - shape) < 0.1 * shape)
    }

    @Test func betaMeanAndVariance() {
        var rng = SplitMix64(seed: 3)
        for (a, b) in [(2.0, 5.0), (0.5, 0.5), (0.2, 9.8), (30.0, 70.0)] {
            let (mean, variance) = Self.moments(20_000) { rng.nextBeta(alpha: a, beta: b) }
            let expectedVariance = a * b / ((a + b) * (a + b) * (a + b + 1))
            #expect(abs(mean - a / (a + b)) < 5 * (expectedVariance / 20_000).squareRoot(), "Beta(\(a), \(b))")
            #expect(abs(variance - expectedVariance) < 0.1 * expectedVariance, "Beta(\(a), \(b))")
        }
    }

    @Test func tinyParametersStayInRange() {
        var rng = SplitMix64(seed: 8)
        for _ in 0..<1000 {
            let x = rng.nextBeta(alpha: 1e-3, beta: 1e-3)
            #expect(x >= 0 && x <= 1)
        }
    }
}
