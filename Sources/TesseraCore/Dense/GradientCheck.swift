/// Compares analytic gradients with central finite differences.
///
/// For each checked coordinate `i` of `values`, the numeric derivative is
/// `(L(v + h·eᵢ) - L(v - h·eᵢ)) / (h₊ + h₋)`, where `h₊`, `h₋` are the steps actually
/// representable in `Float` at `vᵢ` and `L` returns a `Double` (accumulate the loss in
/// `Double`; `Matrix.dotProduct(_:)` with random weights makes a good probe loss). The
/// coordinate passes when
///
///     |analytic - numeric| / max(|analytic|, |numeric|, floor) <= tolerance
///
/// i.e. a relative error bound that becomes an absolute bound `tolerance · floor` for tiny
/// derivatives, where `Float` rounding in the forward pass dominates. Defaults: `step` 1e-2,
/// `tolerance` 1e-2, `floor` 1e-2 (so derivatives are checked to 1% or 1e-4 absolute).
///
/// Non-differentiable points (ReLU at 0) inside `[vᵢ - h, vᵢ + h]` make the central
/// difference meaningless. With `allowsKinks`, a coordinate that fails but whose analytic
/// derivative matches one one-sided difference (`(L(v ± h·eᵢ) - L(v)) / ±h`, within
/// `kinkTolerance`) while the two one-sided differences disagree, is counted in
/// `Report.kinks` instead of failing; a wrong gradient does not match either side.
///
/// Large vectors are sampled: at most `maxCoordinates` coordinates, chosen by `seed`.
public struct GradientCheck: Sendable, Hashable {
    /// Perturbation `h`.
    public var step: Float
    /// Bound on the relative error.
    public var tolerance: Double
    /// Lower bound of the relative error's denominator.
    public var floor: Double
    /// Most coordinates checked per call (a seeded random subset beyond that).
    public var maxCoordinates: Int
    /// Seed of the coordinate sample.
    public var seed: UInt64
    /// Whether kinks are tolerated (see the type's documentation).
    public var allowsKinks: Bool
    /// Relative bound for matching a one-sided difference at a kink.
    public var kinkTolerance: Double

    public init(
        step: Float = 1e-2, tolerance: Double = 1e-2, floor: Double = 1e-2, maxCoordinates: Int = 200,
        seed: UInt64 = 0x5EED, allowsKinks: Bool = false, kinkTolerance: Double = 5e-2
    ) {
        precondition(step > 0 && tolerance > 0 && floor > 0 && maxCoordinates >= 1, "gradient check settings must be positive")
        self.step = step
        self.tolerance = tolerance
        self.floor = floor
        self.maxCoordinates = maxCoordinates
        self.seed = seed
        self.allowsKinks = allowsKinks
        self.kinkTolerance = kinkTolerance
    }

    /// One checked coordinate.
    public struct Coordinate: Sendable, Hashable, CustomStringConvertible {
        public let index: Int
        public let analytic: Double
        public let numeric: Double
        public let error: Double
        public var description: String {
            "[\(index)] analytic \(analytic) numeric \(numeric) error \(error)"
        }
    }

    /// The outcome of one `check`.
    public struct Report: Sendable, Hashable, CustomStringConvertible {
        /// Coordinates compared.
        public let checked: Int
        /// Coordinates excused as kinks (only with `allowsKinks`).
        public let kinks: Int
        /// The largest relative error among non-kink coordinates.
        public let maxError: Double
        /// The coordinate with `maxError`.
        public let worst: Coordinate?
        /// Coordinates over the tolerance.
        public let failures: [Coordinate]

        /// True when no coordinate failed.
        public var passed: Bool { failures.isEmpty }

        public var description: String {
            let head = "\(passed ? "passed" : "FAILED"): \(checked) checked, \(kinks) kinks, max error \(maxError)"
            let worstText = worst.map { ", worst \($0)" } ?? ""
            let failed = failures.prefix(5).map(\.description).joined(separator: "; ")
            return head + worstText + (failures.isEmpty ? "" : "; failures (\(failures.count)): \(failed)")
        }
    }

    /// Checks `analytic` (the claimed gradient of `loss` at `values`).
    /// Precondition: `analytic.count == values.count`.
    public func check(_ values: [Float], analytic: [Float], loss: ([Float]) -> Double) -> Report {
        precondition(analytic.count == values.count, "\(analytic.count) gradient entries for \(values.count) values")
        var indices = Array(values.indices)
        if indices.count > maxCoordinates {
            var rng = SplitMix64(seed: seed)
            indices.shuffle(using: &rng)
            indices = Array(indices.prefix(maxCoordinates)).sorted()
        }
        var v = values
        let center = allowsKinks ? loss(values) : 0
        var failures: [Coordinate] = []
        var worst: Coordinate?
        var kinks = 0
        for i in indices {
            let x = values[i]
            let up = x + step, down = x - step
            let hUp = Double(up) - Double(x), hDown = Double(x) - Double(down)
            v[i] = up
            let lossUp = loss(v)
            v[i] = down
            let lossDown = loss(v)
            v[i] = x
            let numeric = (lossUp - lossDown) / (hUp + hDown)
            let a = Double(analytic[i])
            let error = relativeError(a, numeric)
            let coordinate = Coordinate(index: i, analytic: a, numeric: numeric, error: error)
            if error > tolerance, allowsKinks {
                let right = (lossUp - center) / hUp, left = (center - lossDown) / hDown
                let sidesDisagree = relativeError(right, left) > kinkTolerance
                if sidesDisagree, min(relativeError(a, right), relativeError(a, left)) <= kinkTolerance {
                    kinks += 1
                    continue
                }
            }
            if worst == nil || error > worst!.error { worst = coordinate }
            if error > tolerance { failures.append(coordinate) }
        }
        return Report(checked: indices.count, kinks: kinks, maxError: worst?.error ?? 0, worst: worst, failures: failures)
    }

    private func relativeError(_ a: Double, _ b: Double) -> Double {
        abs(a - b) / max(abs(a), abs(b), floor)
    }
}
