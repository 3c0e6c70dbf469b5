import Foundation

extension SplitMix64 {
    /// A standard normal sample in double precision (Box–Muller, one of the pair).
    @inlinable
    public mutating func nextGaussianDouble() -> Double {
        var u1 = nextUnitDouble()
        if u1 < 1e-300 { u1 = 1e-300 }
        let u2 = nextUnitDouble()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }

    /// A Gamma(shape, 1) sample (Marsaglia & Tsang 2000; shape < 1 by the
    /// boost `Gamma(shape + 1)·U^(1/shape)`).
    ///
    /// Precondition: `shape > 0` and finite (asserted in debug; otherwise 0 is returned).
    public mutating func nextGamma(shape: Double) -> Double {
        assert(shape > 0 && shape.isFinite, "gamma shape must be a finite number > 0, got \(shape)")
        guard shape > 0, shape.isFinite else { return 0 }
        if shape < 1 {
            let boost = pow(1 - nextUnitDouble(), 1 / shape)  // U in (0, 1]
            return nextGamma(shape: shape + 1) * boost
        }
        let d = shape - 1.0 / 3
        let c = 1 / (9 * d).squareRoot()
        while true {
            let x = nextGaussianDouble()
            var v = 1 + c * x
            if v <= 0 { continue }
            v = v * v * v
            let u = nextUnitDouble()
            let x2 = x * x
            if u < 1 - 0.0331 * x2 * x2 { return d * v }
            if log(u) < 0.5 * x2 + d * (1 - v + log(v)) { return d * v }
        }
    }

    /// A Beta(alpha, beta) sample in [0, 1], as X/(X+Y) with X ~ Gamma(alpha), Y ~ Gamma(beta).
    ///
    /// Precondition: both parameters > 0 and finite. When both gamma draws
    /// underflow to 0 (tiny parameters) the mean alpha/(alpha+beta) is returned.
    public mutating func nextBeta(alpha: Double, beta: Double) -> Double {
        let x = nextGamma(shape: alpha)
        let y = nextGamma(shape: beta)
        let sum = x + y
        guard sum > 0, sum.isFinite else { return alpha / (alpha + beta) }
        return x / sum
    }
}
