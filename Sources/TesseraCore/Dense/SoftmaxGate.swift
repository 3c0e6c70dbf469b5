/// A mixture-of-experts gate: `gates = softmax(x · Wᵀ + b)` over `experts` columns, and the
/// gated sum of expert outputs.
///
/// Input `batch x inputs`; gates `batch x experts`, each row summing to 1. Parameters:
/// `"\(name).weight"` `[experts, inputs]`, `"\(name).bias"` `[experts]`. `mix` and
/// `mixBackward` combine expert outputs with the gates; `MixtureOfExperts` puts the pieces
/// together as MMoE.
public struct SoftmaxGate: Sendable, Hashable {
    /// The gate logits layer, `inputs -> experts`.
    public let linear: Linear

    /// What `backward` needs.
    public struct Cache: Sendable {
        let linear: Linear.Cache
        /// The gates (softmax output).
        public let gates: Matrix
    }

    /// Registers the gate's Linear under `name`. Precondition: `experts >= 1`.
    public init(_ name: String, inputs: Int, experts: Int, layout: inout ParameterLayout) {
        linear = Linear(name, inputs: inputs, outputs: experts, layout: &layout)
    }

    /// Number of experts gated.
    public var experts: Int { linear.outputs }

    /// `softmax(x · Wᵀ + b)` per row.
    public func forward(_ x: Matrix, parameters: [Float]) -> (gates: Matrix, cache: Cache) {
        let (logits, cl) = linear.forward(x, parameters: parameters)
        let gates = softmax(logits)
        return (gates, Cache(linear: cl, gates: gates))
    }

    /// Returns `dx` for upstream gate gradients `dGates` and accumulates the Linear's gradients.
    public func backward(_ dGates: Matrix, cache: Cache, parameters: [Float], gradients: inout [Float]) -> Matrix {
        let dLogits = softmaxBackward(dGates, output: cache.gates)
        return linear.backward(dLogits, cache: cache.linear, parameters: parameters, gradients: &gradients)
    }

    /// `y[i] = Σ_e gates[i, e] · experts[e][i]`. Preconditions: `experts.count == gates.cols`;
    /// every expert output has `gates.rows` rows and the same width.
    public static func mix(gates: Matrix, experts: [Matrix]) -> Matrix {
        precondition(experts.count == gates.cols && !experts.isEmpty, "\(experts.count) expert outputs for \(gates.cols) gates")
        let (rows, width) = (gates.rows, experts[0].cols)
        var y = Matrix(rows: rows, cols: width)
        y.withUnsafeMutableBufferPointer { py in
            gates.withUnsafeBufferPointer { g in
                for (e, expert) in experts.enumerated() {
                    precondition(expert.rows == rows && expert.cols == width, "expert \(e) output is \(expert.rows)x\(expert.cols), expected \(rows)x\(width)")
                    expert.withUnsafeBufferPointer { pe in
                        for i in 0..<rows {
                            BLAS.axpy(width, g[i * experts.count + e], pe.baseAddress! + i * width, py.baseAddress! + i * width)
                        }
                    }
                }
            }
        }
        return y
    }

    /// Gradients of `mix` for upstream `dy`: `dGates[i, e] = ⟨dy[i], experts[e][i]⟩` and
    /// `dExperts[e][i] = gates[i, e] · dy[i]`.
    public static func mixBackward(_ dy: Matrix, gates: Matrix, experts: [Matrix]) -> (gates: Matrix, experts: [Matrix]) {
        precondition(experts.count == gates.cols && !experts.isEmpty, "\(experts.count) expert outputs for \(gates.cols) gates")
        let (rows, width, count) = (gates.rows, dy.cols, experts.count)
        precondition(dy.rows == rows, "mix gradient has \(dy.rows) rows for \(rows)")
        var dGates = Matrix(rows: rows, cols: count)
        var dExperts: [Matrix] = []
        dy.withUnsafeBufferPointer { pdy in
            gates.withUnsafeBufferPointer { g in
                dGates.withUnsafeMutableBufferPointer { dg in
                    for (e, expert) in experts.enumerated() {
                        precondition(expert.rows == rows && expert.cols == width, "expert \(e) output is \(expert.rows)x\(expert.cols), expected \(rows)x\(width)")
                        var dExpert = Matrix(rows: rows, cols: width)
                        expert.withUnsafeBufferPointer { pe in
                            dExpert.withUnsafeMutableBufferPointer { pd in
                                for i in 0..<rows {
                                    let dyr = pdy.baseAddress! + i * width, er = pe.baseAddress! + i * width
                                    let dr = pd.baseAddress! + i * width, gate = g[i * count + e]
                                    var dot: Float = 0
                                    for j in 0..<width {
                                        dot += dyr[j] * er[j]
                                        dr[j] = gate * dyr[j]
                                    }
                                    dg[i * count + e] = dot
                                }
                            }
                        }
                        dExperts.append(dExpert)
                    }
                }
            }
        }
        return (dGates, dExperts)
    }
}
