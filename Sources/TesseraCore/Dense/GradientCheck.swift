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
/// `tolerance` 1e-2, `floor` 1e-2 (so derivatives are checked to 1% or 1e-4 absolute): right
/// for one layer. Deep compositions (attention, transformer blocks, MLPs, MMoE) accumulate
/// ~1e-4..1e-3 of `Float` noise per numeric derivative at h = 1e-2; check them with
/// `tolerance: 2e-2, floor: 0.1` (2%, or 2e-3 absolute below 0.1). A smaller `step` does not
/// help: the noise grows as 1/h.
///
/// Non-differentiable points (ReLU at 0) inside `[vᵢ - h, vᵢ + h]` make the central
/// difference meaningless. With `allowsKinks`, a coordinate that fails is counted in
/// `Report.kinks` instead of failing when either (a) its analytic derivative matches one
/// one-sided difference (`(L(v ± h·eᵢ) - L(v)) / ±h`, within `kinkTolerance`) while the two
/// one-sided differences disagree (a kink at `vᵢ`), or (b) the central difference passes at
/// `h/4` or `h/16` (kinks within the step). A wrong gradient is wrong at every step, so it
/// still fails; `kinks` should stay a small fraction of `checked`.
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
            let a = Double(analytic[i])
            let probe = differences(&v, at: i, step: step, loss: loss)
            let error = relativeError(a, probe.central)
            if error > tolerance, allowsKinks, isKink(a, probe, center: center, at: i, in: &v, loss: loss) {
                kinks += 1
                continue
            }
            let coordinate = Coordinate(index: i, analytic: a, numeric: probe.central, error: error)
            if worst == nil || error > worst!.error { worst = coordinate }
            if error > tolerance { failures.append(coordinate) }
        }
        return Report(checked: indices.count, kinks: kinks, maxError: worst?.error ?? 0, worst: worst, failures: failures)
    }

    /// Losses one step either side of `v[i]` and the central difference; restores `v[i]`.
    private func differences(
        _ v: inout [Float], at i: Int, step: Float, loss: ([Float]) -> Double
    ) -> (central: Double, up: Double, down: Double, hUp: Double, hDown: Double) {
        let x = v[i]
        let up = x + step, down = x - step
        v[i] = up
        let lossUp = loss(v)
        v[i] = down
        let lossDown = loss(v)
        v[i] = x
        let hUp = Double(up) - Double(x), hDown = Double(x) - Double(down)
        return ((lossUp - lossDown) / (hUp + hDown), lossUp, lossDown, hUp, hDown)
    }

    /// Whether a failed coordinate is explained by a kink: the analytic derivative matches a
    /// one-sided difference while the two sides disagree (a kink right at `v[i]`), or the
    /// central difference agrees at `step / 4` or `step / 16` (kinks within the step).
    private func isKink(
        _ a: Double, _ probe: (central: Double, up: Double, down: Double, hUp: Double, hDown: Double),
        center: Double, at i: Int, in v: inout [Float], loss: ([Float]) -> Double
    ) -> Bool {
        let right = (probe.up - center) / probe.hUp, left = (center - probe.down) / probe.hDown
        if relativeError(right, left) > kinkTolerance, min(relativeError(a, right), relativeError(a, left)) <= kinkTolerance {
            return true
        }
        for divisor: Float in [4, 16] {
            let smaller = differences(&v, at: i, step: step / divisor, loss: loss)
            if relativeError(a, smaller.central) <= tolerance { return true }
        }
        return false
    }

    private func relativeError(_ a: Double, _ b: Double) -> Double {
        abs(a - b) / max(abs(a), abs(b), floor)
    }
}
