/// A fully connected layer over the rows of a matrix: `y = x · Wᵀ + b`.
///
/// Shapes: `x` is `batch x inputs`, `y` is `batch x outputs`. The weight `W` is stored
/// `[outputs, inputs]` row-major (PyTorch's convention: row `o` holds the weights into
/// output `o`), the optional bias `b` is `[outputs]`. Both live in the model's flat
/// parameter vector at offsets assigned by the `ParameterLayout` the layer was built with;
/// the layer itself holds only shapes and offsets, so it is a small `Sendable` value.
///
/// Forward is one `sgemm` (bias broadcast first, then `beta = 1`); backward is two
/// `sgemm`s (`dx = dy · W`, `dW += dyᵀ · x`) and a column sum (`db += Σ_rows dy`).
public struct Linear: Sendable, Hashable {
    /// Input width.
    public let inputs: Int
    /// Output width.
    public let outputs: Int
    /// Offset of `W` (`outputs * inputs` entries) in the flat parameter vector.
    public let weightOffset: Int
    /// Offset of `b` (`outputs` entries), or nil without bias.
    public let biasOffset: Int?

    /// What `backward` needs: the forward input.
    public struct Cache: Sendable {
        public let input: Matrix
    }

    /// Registers `"\(name).weight"` (`[outputs, inputs]`, `weightInitializer`) and, with
    /// `bias`, `"\(name).bias"` (`[outputs]`, zeros) in `layout`.
    public init(
        _ name: String, inputs: Int, outputs: Int, bias: Bool = true,
        weightInitializer: ParameterInitializer = .xavierUniform,
        layout: inout ParameterLayout
    ) {
        precondition(inputs >= 1 && outputs >= 1, "Linear '\(name)' needs positive sizes, got \(inputs) -> \(outputs)")
        self.inputs = inputs
        self.outputs = outputs
        weightOffset = layout.register("\(name).weight", shape: [outputs, inputs], initializer: weightInitializer).offset
        biasOffset = bias ? layout.register("\(name).bias", shape: [outputs], initializer: .zeros).offset : nil
    }

    /// `x · Wᵀ + b`. Preconditions: `x.cols == inputs`; `parameters` is the model's flat vector.
    public func forward(_ x: Matrix, parameters: [Float]) -> (output: Matrix, cache: Cache) {
        precondition(x.cols == inputs, "Linear expects \(inputs) columns, got \(x.cols)")
        checkParameters(parameters.count)
        let (batch, inputs, outputs) = (x.rows, self.inputs, self.outputs)
        let y = Matrix(rows: batch, cols: outputs) { py in
            parameters.withUnsafeBufferPointer { p in
                x.withUnsafeBufferPointer { px in
                    var beta: Float = 0
                    if let biasOffset {
                        let b = p.baseAddress! + biasOffset
                        for r in 0..<batch { (py.baseAddress! + r * outputs).initialize(from: b, count: outputs) }
                        beta = 1
                    }
                    BLAS.gemm(false, true, m: batch, n: outputs, k: inputs, alpha: 1,
                              px.baseAddress, lda: inputs, p.baseAddress! + weightOffset, ldb: inputs,
                              beta: beta, py.baseAddress, ldc: outputs)
                }
            }
        }
        return (y, Cache(input: x))
    }

    /// Returns `dx = dy · W` and adds `dyᵀ · x` to `W`'s gradient and `Σ_rows dy` to `b`'s.
    ///
    /// Preconditions: `dy` is `batch x outputs` for the cached `batch`; `gradients.count ==
    /// parameters.count`.
    public func backward(_ dy: Matrix, cache: Cache, parameters: [Float], gradients: inout [Float]) -> Matrix {
        let x = cache.input
        precondition(dy.rows == x.rows && dy.cols == outputs, "Linear gradient is \(dy.rows)x\(dy.cols), expected \(x.rows)x\(outputs)")
        checkParameters(parameters.count)
        precondition(gradients.count == parameters.count, "gradient vector has \(gradients.count) entries, parameters \(parameters.count)")
        let (batch, inputs, outputs) = (x.rows, self.inputs, self.outputs)
        let dx = Matrix(rows: batch, cols: inputs) { pdx in
            parameters.withUnsafeBufferPointer { p in
                dy.withUnsafeBufferPointer { pdy in
                    BLAS.gemm(false, false, m: batch, n: inputs, k: outputs, alpha: 1,
                              pdy.baseAddress, lda: outputs, p.baseAddress! + weightOffset, ldb: inputs,
                              beta: 0, pdx.baseAddress, ldc: inputs)
                }
            }
        }
        dy.withUnsafeBufferPointer { pdy in
            x.withUnsafeBufferPointer { px in
                gradients.withUnsafeMutableBufferPointer { g in
                    BLAS.gemm(true, false, m: outputs, n: inputs, k: batch, alpha: 1,
                              pdy.baseAddress, lda: outputs, px.baseAddress, ldb: inputs,
                              beta: 1, g.baseAddress! + weightOffset, ldc: inputs)
                    if let biasOffset, batch > 0 {
                        BLAS.addColumnSums(rows: batch, cols: outputs, pdy.baseAddress!, ld: outputs,
                                           into: g.baseAddress! + biasOffset)
                    }
                }
            }
        }
        return dx
    }

    private func checkParameters(_ count: Int) {
        precondition(weightOffset + inputs * outputs <= count && (biasOffset.map { $0 + outputs <= count } ?? true),
                     "parameter vector of \(count) entries is too short for this Linear layer")
    }
}
