import Foundation

/// An elementwise nonlinearity with its derivative. No parameters.
///
/// - `relu`: `max(0, x)`; derivative taken as 0 at `x = 0`.
/// - `gelu`: the tanh approximation `0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³)))`.
/// - `sigmoid`: `1 / (1 + e^-x)`, computed without overflow.
/// - `tanh`.
/// - `identity`.
public enum Activation: Sendable, Hashable {
    case identity
    case relu
    case gelu
    case sigmoid
    case tanh

    /// What `backward` needs: the input (for GELU) and the output (for the others).
    public struct Cache: Sendable {
        public let input: Matrix
        public let output: Matrix
    }

    /// `f(x)` elementwise.
    public func forward(_ x: Matrix) -> (output: Matrix, cache: Cache) {
        var y = x
        apply(to: &y)
        return (y, Cache(input: x, output: y))
    }

    /// `f(x)` elementwise, in place (inference, or when the input is not needed again).
    public func apply(to x: inout Matrix) {
        switch self {
        case .identity: return
        // Branch-free selects (random signs would defeat the branch predictor).
        case .relu: x.withUnsafeMutableBufferPointer { p in for i in 0..<p.count { p[i] = p[i] < 0 ? 0 : p[i] } }
        case .gelu: x.withUnsafeMutableBufferPointer { p in for i in 0..<p.count { p[i] = Activation.gelu(p[i]) } }
        case .sigmoid: x.withUnsafeMutableBufferPointer { p in for i in 0..<p.count { p[i] = Activation.sigmoid(p[i]) } }
        case .tanh: x.withUnsafeMutableBufferPointer { p in for i in 0..<p.count { p[i] = Foundation.tanh(p[i]) } }
        }
    }

    /// `dx = dy ⊙ f'(x)`. Precondition: `dy` has the cached shape.
    public func backward(_ dy: Matrix, cache: Cache) -> Matrix {
        precondition(dy.rows == cache.output.rows && dy.cols == cache.output.cols,
                     "activation gradient is \(dy.rows)x\(dy.cols), output \(cache.output.rows)x\(cache.output.cols)")
        if self == .identity { return dy }
        var dx = dy
        let source = self == .gelu ? cache.input : cache.output
        source.withUnsafeBufferPointer { s in
            dx.withUnsafeMutableBufferPointer { g in
                switch self {
                case .identity: break
                case .relu: Activation.maskWherePositive(g.baseAddress!, by: s.baseAddress!, count: g.count)
                case .gelu: for i in 0..<g.count { g[i] *= Activation.geluDerivative(s[i]) }
                case .sigmoid: for i in 0..<g.count { g[i] *= s[i] * (1 - s[i]) }
                case .tanh: for i in 0..<g.count { g[i] *= 1 - s[i] * s[i] }
                }
            }
        }
        return dx
    }

    private static let geluC: Float = 0.797_884_560_802_865_4 // √(2/π)
    private static let geluA: Float = 0.044_715

    @inline(__always)
    static func gelu(_ x: Float) -> Float {
        0.5 * x * (1 + Foundation.tanh(geluC * (x + geluA * x * x * x)))
    }

    @inline(__always)
    static func geluDerivative(_ x: Float) -> Float {
        let t = Foundation.tanh(geluC * (x + geluA * x * x * x))
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * geluC * (1 + 3 * geluA * x * x)
    }

    /// `g[i] = s[i] > 0 ? g[i] : 0`, eight lanes at a time (a scalar select compiles to a
    /// branch, which random signs mispredict half the time).
    @inline(__always)
    static func maskWherePositive(_ g: UnsafeMutablePointer<Float>, by s: UnsafePointer<Float>, count: Int) {
        var i = 0
        while i + 8 <= count {
            let sv = UnsafeRawPointer(s + i).loadUnaligned(as: SIMD8<Float>.self)
            var gv = UnsafeRawPointer(g + i).loadUnaligned(as: SIMD8<Float>.self)
            gv.replace(with: 0, where: .!(sv .> 0))
            UnsafeMutableRawPointer(g + i).storeBytes(of: gv, as: SIMD8<Float>.self)
            i += 8
        }
        while i < count {
            if !(s[i] > 0) { g[i] = 0 }
            i += 1
        }
    }

    /// `1 / (1 + e^-x)` without overflow for large `|x|`.
    @inline(__always)
    static func sigmoid(_ x: Float) -> Float {
        x >= 0 ? 1 / (1 + expf(-x)) : expf(x) / (1 + expf(x))
    }
}
