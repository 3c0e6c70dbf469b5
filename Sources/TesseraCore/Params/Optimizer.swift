import Foundation

/// The update kernel of one `OptimizerSpec` for rows of one dimension: applies
/// one step to one row in place. This is the parameter server's hot loop.
///
/// A row is `dim` value floats followed by `stateWidth` state floats (the
/// layouts are described on `OptimizerSpec`'s cases). Constants are computed
/// once in `init`; `step` allocates nothing and touches only the row.
///
/// Thread safety: a value type without mutable state, so any thread may use it;
/// the caller must hold whatever lock guards the row it passes.
///
/// FTRL and initial rows: FTRL keeps the weight as a function of (z, n). Rather
/// than forcing FTRL tables to start at zero (which would, for instance, leave a
/// factorization model stuck at its zero saddle), `initializeState` sets
/// `z = -w0 * (beta / alpha + l2) - sign(w0) * l1` with `n = 0`, which is exactly
/// the (z, n) whose closed form gives back `w0` (up to float rounding). A row that
/// starts at 0 gets z = 0, the conventional FTRL start. So any initializer works,
/// and `value` always equals the closed-form weight.
public struct Optimizer: Sendable {
    public let spec: OptimizerSpec
    public let dim: Int
    /// Floats of state after the `dim` values of each row.
    public let stateWidth: Int
    private let kernel: Kernel

    private enum Kernel: Sendable {
        case sgd(lr: Float)
        case adagrad(lr: Float, initial: Float, eps: Float)
        case adam(lr: Float, b1: Float, b2: Float, eps: Float, logB1: Double, logB2: Double)
        /// `k0 = beta / alpha + l2`: the denominator before any gradient.
        case ftrl(invAlpha: Float, betaOverAlpha: Float, l1: Float, l2: Float, k0: Float)
    }

    /// Precondition: `dim > 0`. The spec should have passed `validate()`.
    public init(_ spec: OptimizerSpec, dim: Int) {
        precondition(dim > 0, "row dimension must be positive, got \(dim)")
        self.spec = spec
        self.dim = dim
        self.stateWidth = spec.stateWidth(dim: dim)
        switch spec {
        case let .sgd(lr):
            kernel = .sgd(lr: lr)
        case let .adagrad(lr, initial, eps):
            kernel = .adagrad(lr: lr, initial: initial, eps: eps)
        case let .adam(lr, b1, b2, eps):
            kernel = .adam(lr: lr, b1: b1, b2: b2, eps: eps, logB1: log(Double(b1)), logB2: log(Double(b2)))
        case let .ftrl(alpha, beta, l1, l2):
            kernel = .ftrl(invAlpha: 1 / alpha, betaOverAlpha: beta / alpha, l1: l1, l2: l2, k0: beta / alpha + l2)
        }
    }

    /// Writes the state of a newly created row whose `dim` values are already in `value`.
    ///
    /// `state` must have room for `stateWidth` floats (nothing is written for SGD).
    /// Adagrad: every accumulator is `initialAccumulator`. Adam: m = v = 0, t = 0.
    /// FTRL: n = 0 and z chosen so that the closed-form weight equals `value` (see the type doc).
    public func initializeState(_ state: UnsafeMutablePointer<Float>, value: UnsafePointer<Float>) {
        let dim = self.dim
        switch kernel {
        case .sgd:
            break
        case let .adagrad(_, initial, _):
            state.update(repeating: initial, count: dim)
        case .adam:
            state.update(repeating: 0, count: 2 * dim + 1)
        case let .ftrl(_, _, l1, _, k0):
            let z = state, n = state + dim
            for i in 0..<dim {
                let w = value[i]
                z[i] = w == 0 ? 0 : -w * k0 - (w > 0 ? l1 : -l1)
                n[i] = 0
            }
        }
    }

    /// Applies one optimizer step with `gradient` (dim floats) to the row at
    /// `value` (dim floats) and its `state` (stateWidth floats), in place.
    ///
    /// Eight coordinates at a time (SIMD), then one at a time for the rest; both
    /// paths do the same IEEE operations in the same order, so results do not
    /// depend on where a coordinate falls.
    ///
    /// Adam counts the step in the row's own `t`, which is a float: exact up to
    /// 2^24 steps per row, after which it stops increasing — by then the bias
    /// corrections are 1 to float precision, so updates are unaffected.
    @inline(__always)
    public func step(value: UnsafeMutablePointer<Float>, state: UnsafeMutablePointer<Float>, gradient: UnsafePointer<Float>) {
        let dim = self.dim
        let vectorEnd = dim & ~7
        switch kernel {
        case let .sgd(lr):
            let lr8 = Lanes(repeating: lr)
            for i in stride(from: 0, to: vectorEnd, by: 8) {
                store(load(value + i) - lr8 * load(gradient + i), value + i)
            }
            for i in vectorEnd..<dim {
                value[i] -= lr * gradient[i]
            }

        case let .adagrad(lr, _, eps):
            let lr8 = Lanes(repeating: lr), eps8 = Lanes(repeating: eps)
            for i in stride(from: 0, to: vectorEnd, by: 8) {
                let g = load(gradient + i)
                let a = load(state + i) + g * g
                store(a, state + i)
                store(load(value + i) - lr8 * g / (root(a) + eps8), value + i)
            }
            for i in vectorEnd..<dim {
                let g = gradient[i]
                let a = state[i] + g * g
                state[i] = a
                value[i] -= lr * g / (root(a) + eps)
            }

        case let .adam(lr, b1, b2, eps, logB1, logB2):
            let m = state, v = state + dim
            let t = state[2 * dim] + 1
            state[2 * dim] = t
            // w -= lr * m̂ / (sqrt(v̂) + eps) with m̂ = m / c1, v̂ = v / c2, rewritten as
            // w -= [lr * sqrt(c2) / c1] * m / (sqrt(v) + eps * sqrt(c2)): equal in exact arithmetic, fewer ops.
            let c1 = -expm1(Double(t) * logB1)  // 1 - beta1^t
            let c2 = -expm1(Double(t) * logB2)  // 1 - beta2^t
            let rootC2 = c2.squareRoot()
            let stepSize = Float(Double(lr) * rootC2 / c1)
            let epsHat = Float(Double(eps) * rootC2)
            let a1 = 1 - b1, a2 = 1 - b2
            let b1x8 = Lanes(repeating: b1), b2x8 = Lanes(repeating: b2)
            let a1x8 = Lanes(repeating: a1), a2x8 = Lanes(repeating: a2)
            let step8 = Lanes(repeating: stepSize), eps8 = Lanes(repeating: epsHat)
            for i in stride(from: 0, to: vectorEnd, by: 8) {
                let g = load(gradient + i)
                let mi = b1x8 * load(m + i) + a1x8 * g
                let vi = b2x8 * load(v + i) + a2x8 * g * g
                store(mi, m + i)
                store(vi, v + i)
                store(load(value + i) - step8 * mi / (root(vi) + eps8), value + i)
            }
            for i in vectorEnd..<dim {
                let g = gradient[i]
                let mi = b1 * m[i] + a1 * g
                let vi = b2 * v[i] + a2 * g * g
                m[i] = mi
                v[i] = vi
                value[i] -= stepSize * mi / (root(vi) + epsHat)
            }

        case let .ftrl(invAlpha, betaOverAlpha, l1, l2, _):
            let z = state, n = state + dim
            let invAlpha8 = Lanes(repeating: invAlpha), betaOverAlpha8 = Lanes(repeating: betaOverAlpha)
            let l1x8 = Lanes(repeating: l1), l2x8 = Lanes(repeating: l2)
            for i in stride(from: 0, to: vectorEnd, by: 8) {
                let g = load(gradient + i)
                let nOld = load(n + i)
                let nNew = nOld + g * g
                let rootNew = root(nNew)
                let sigma = (rootNew - root(nOld)) * invAlpha8
                let zi = load(z + i) + g - sigma * load(value + i)
                store(zi, z + i)
                store(nNew, n + i)
                let negative = zi .<= 0
                let shrunk = (zi - l1x8).replacing(with: zi + l1x8, where: negative)  // z - sign(z)·l1
                let w = -shrunk / (betaOverAlpha8 + rootNew * invAlpha8 + l2x8)
                let magnitude = zi.replacing(with: -zi, where: negative)
                store(w.replacing(with: 0, where: magnitude .<= l1x8), value + i)
            }
            for i in vectorEnd..<dim {
                let g = gradient[i]
                let nOld = n[i]
                let nNew = nOld + g * g
                let rootNew = root(nNew)
                let sigma = (rootNew - root(nOld)) * invAlpha
                let zi = z[i] + g - sigma * value[i]
                z[i] = zi
                n[i] = nNew
                let shrunk = zi > 0 ? zi - l1 : zi + l1  // z - sign(z)·l1
                let w = -shrunk / (betaOverAlpha + rootNew * invAlpha + l2)
                value[i] = abs(zi) <= l1 ? 0 : w
            }
        }
    }
}

private typealias Lanes = SIMD8<Float>

@inline(__always)
private func load(_ p: UnsafePointer<Float>) -> Lanes {
    UnsafeRawPointer(p).loadUnaligned(as: Lanes.self)
}

@inline(__always)
private func load(_ p: UnsafeMutablePointer<Float>) -> Lanes {
    UnsafeRawPointer(p).loadUnaligned(as: Lanes.self)
}

/// Square root of a value that is never negative (accumulators, second
/// moments, n). Taking `.magnitude` first changes nothing for such values but
/// lets LLVM emit the plain (vector) sqrt instruction: a bare `squareRoot()` on
/// Linux keeps a scalar libm fallback for negative inputs, which blocks SIMD.
@inline(__always)
private func root(_ x: Float) -> Float {
    x.magnitude.squareRoot()
}

/// Lane-wise `root`; compiles to one vector sqrt per register.
@inline(__always)
private func root(_ x: Lanes) -> Lanes {
    var r = Lanes()
    for k in 0..<8 { r[k] = x[k].magnitude.squareRoot() }
    return r
}

@inline(__always)
private func store(_ lanes: Lanes, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: lanes, as: Lanes.self)
}
