/// Layer normalization over each row, with a learned gain and bias.
///
/// For a row `x` of length `dim`: `μ = mean(x)`, `σ² = mean((x - μ)²)` (biased),
/// `x̂ = (x - μ) / √(σ² + ε)`, `y = γ ⊙ x̂ + β`. `γ` (`"\(name).gain"`, ones) and `β`
/// (`"\(name).bias"`, zeros) are `[dim]` tensors in the flat parameter vector.
///
/// Backward, per row with `g = dy ⊙ γ` and `r = 1/√(σ² + ε)`:
/// `dx = r · (g - mean(g) - x̂ · mean(g ⊙ x̂))`, `dγ += Σ_rows dy ⊙ x̂`, `dβ += Σ_rows dy`.
/// A constant row (σ² = 0) normalizes to zeros without dividing by zero.
public struct LayerNorm: Sendable, Hashable {
    /// Row length.
    public let dim: Int
    /// ε added to the variance.
    public let epsilon: Float
    /// Offset of `γ` in the flat parameter vector.
    public let gainOffset: Int
    /// Offset of `β` in the flat parameter vector.
    public let biasOffset: Int

    /// What `backward` needs: `x̂` and `1/√(σ² + ε)` per row.
    public struct Cache: Sendable {
        public let normalized: Matrix
        public let inverseStd: [Float]
    }

    /// Registers `"\(name).gain"` and `"\(name).bias"`. Preconditions: `dim >= 1`, `epsilon > 0`.
    public init(_ name: String, dim: Int, epsilon: Float = 1e-5, layout: inout ParameterLayout) {
        precondition(dim >= 1 && epsilon > 0, "LayerNorm '\(name)' needs dim >= 1 and epsilon > 0")
        self.dim = dim
        self.epsilon = epsilon
        gainOffset = layout.register("\(name).gain", shape: [dim], initializer: .ones).offset
        biasOffset = layout.register("\(name).bias", shape: [dim], initializer: .zeros).offset
    }

    /// `γ ⊙ x̂ + β` per row. Precondition: `x.cols == dim`.
    public func forward(_ x: Matrix, parameters: [Float]) -> (output: Matrix, cache: Cache) {
        precondition(x.cols == dim, "LayerNorm expects \(dim) columns, got \(x.cols)")
        precondition(max(gainOffset, biasOffset) + dim <= parameters.count, "parameter vector too short for LayerNorm")
        let (rows, dim, eps) = (x.rows, self.dim, epsilon)
        var xhat = Matrix(rows: rows, cols: dim)
        var y = Matrix(rows: rows, cols: dim)
        var inverseStd = [Float](repeating: 0, count: rows)
        parameters.withUnsafeBufferPointer { p in
            let gain = p.baseAddress! + gainOffset, bias = p.baseAddress! + biasOffset
            x.withUnsafeBufferPointer { px in
                xhat.withUnsafeMutableBufferPointer { ph in
                    y.withUnsafeMutableBufferPointer { py in
                        inverseStd.withUnsafeMutableBufferPointer { rs in
                            for r in 0..<rows {
                                let xr = px.baseAddress! + r * dim, hr = ph.baseAddress! + r * dim, yr = py.baseAddress! + r * dim
                                // Two passes (mean, then centred squares): no cancellation.
                                let mu = LayerNorm.sum(xr, count: dim) / Float(dim)
                                let variance = LayerNorm.sumOfSquares(xr, minus: mu, count: dim) / Float(dim)
                                let inv = 1 / (variance + eps).squareRoot()
                                rs[r] = inv
                                for j in 0..<dim {
                                    let h = (xr[j] - mu) * inv
                                    hr[j] = h
                                    yr[j] = gain[j] * h + bias[j]
                                }
                            }
                        }
                    }
                }
            }
        }
        return (y, Cache(normalized: xhat, inverseStd: inverseStd))
    }

    /// `Σ x[0..<count]` with eight independent lanes (a single running sum is a chain of
    /// dependent adds the compiler may not reorder).
    @inline(__always)
    static func sum(_ x: UnsafePointer<Float>, count: Int) -> Float {
        var lanes = SIMD8<Float>()
        var j = 0
        while j + 8 <= count {
            lanes += UnsafeRawPointer(x + j).loadUnaligned(as: SIMD8<Float>.self)
            j += 8
        }
        var total = lanes.sum()
        while j < count {
            total += x[j]
            j += 1
        }
        return total
    }

    /// `Σ (x[j] - mean)²` over `count` entries, eight lanes at a time.
    @inline(__always)
    static func sumOfSquares(_ x: UnsafePointer<Float>, minus mean: Float, count: Int) -> Float {
        var lanes = SIMD8<Float>()
        var j = 0
        while j + 8 <= count {
            let d = UnsafeRawPointer(x + j).loadUnaligned(as: SIMD8<Float>.self) - mean
            lanes += d * d
            j += 8
        }
        var total = lanes.sum()
        while j < count {
            let d = x[j] - mean
            total += d * d
            j += 1
        }
        return total
    }

    /// Returns `dx` and adds `Σ dy ⊙ x̂` to `γ`'s gradient and `Σ dy` to `β`'s.
    /// Precondition: `dy` has the cached shape.
    public func backward(_ dy: Matrix, cache: Cache, parameters: [Float], gradients: inout [Float]) -> Matrix {
        let xhat = cache.normalized
        precondition(dy.rows == xhat.rows && dy.cols == dim, "LayerNorm gradient is \(dy.rows)x\(dy.cols), expected \(xhat.rows)x\(dim)")
        precondition(gradients.count == parameters.count, "gradient vector has \(gradients.count) entries, parameters \(parameters.count)")
        let (rows, dim) = (xhat.rows, self.dim)
        let invDim = 1 / Float(dim)
        var dx = Matrix(rows: rows, cols: dim)
        parameters.withUnsafeBufferPointer { p in
            let gain = p.baseAddress! + gainOffset
            gradients.withUnsafeMutableBufferPointer { g in
                let dGain = g.baseAddress! + gainOffset, dBias = g.baseAddress! + biasOffset
                dy.withUnsafeBufferPointer { pdy in
                    xhat.withUnsafeBufferPointer { ph in
                        cache.inverseStd.withUnsafeBufferPointer { rs in
                            dx.withUnsafeMutableBufferPointer { pdx in
                                for r in 0..<rows {
                                    let dyr = pdy.baseAddress! + r * dim, hr = ph.baseAddress! + r * dim
                                    let dxr = pdx.baseAddress! + r * dim
                                    var sumG: Float = 0, sumGH: Float = 0
                                    for j in 0..<dim {
                                        let gj = dyr[j] * gain[j]
                                        sumG += gj
                                        sumGH += gj * hr[j]
                                        dGain[j] += dyr[j] * hr[j]
                                        dBias[j] += dyr[j]
                                    }
                                    let meanG = sumG * invDim, meanGH = sumGH * invDim, inv = rs[r]
                                    for j in 0..<dim {
                                        dxr[j] = inv * (dyr[j] * gain[j] - meanG - hr[j] * meanGH)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return dx
    }
}
