/// The star-topology fully connected layer of STAR (Sheng et al., "One Model to Serve
/// All: Star Topology Adaptive Recommender for Multi-Domain CTR Prediction", CIKM 2021):
/// one weight shared by every scenario, specialised per scenario by an element-wise product.
///
///     y_i = x_i · (W ⊙ W_{s_i})ᵀ + b + b_{s_i}
///
/// for row `i` in scenario `s_i`. Shapes follow `Linear`: `x` is `batch x inputs`, `y` is
/// `batch x outputs`; `W` (`"\(name).shared.weight"`, `[outputs, inputs]`, Xavier) and
/// `b` (`"\(name).shared.bias"`, `[outputs]`, zeros) are shared; `W_s`
/// (`"\(name).scenario.weight"`, `[scenarios, outputs, inputs]`, ones) and `b_s`
/// (`"\(name).scenario.bias"`, `[scenarios, outputs]`, zeros) are per scenario. With `W_s`
/// starting at 1 and `b_s` at 0, every scenario starts as the shared layer.
///
/// Rows are processed a scenario at a time: one `sgemm` per scenario present, against
/// that scenario's effective weight `W ⊙ W_s`. Backward, with `G_s = dy_sᵀ · x_s`:
/// `dW += Σ_s G_s ⊙ W_s`, `dW_s += G_s ⊙ W`, `db += Σ_rows dy`, `db_s += Σ_{rows in s} dy`,
/// `dx_s = dy_s · (W ⊙ W_s)`. Holds only shapes and offsets: `Sendable`.
public struct MultiScenarioStarLayer: Sendable, Hashable {
    public let inputs: Int
    public let outputs: Int
    public let scenarios: Int
    /// Offsets of `W`, `b`, `W_s` (scenario-major) and `b_s` in the flat parameter vector.
    public let sharedWeightOffset: Int
    public let sharedBiasOffset: Int
    public let scenarioWeightOffset: Int
    public let scenarioBiasOffset: Int

    /// What `backward` needs: the input and its rows grouped by scenario.
    public struct Cache: Sendable {
        let input: Matrix
        let groups: [[Int32]]
    }

    /// Registers the four tensors under `name`. Precondition: positive sizes.
    public init(_ name: String, inputs: Int, outputs: Int, scenarios: Int, layout: inout ParameterLayout) {
        precondition(inputs >= 1 && outputs >= 1 && scenarios >= 1, "STAR layer '\(name)' needs positive sizes")
        self.inputs = inputs
        self.outputs = outputs
        self.scenarios = scenarios
        sharedWeightOffset = layout.register("\(name).shared.weight", shape: [outputs, inputs], initializer: .xavierUniform).offset
        sharedBiasOffset = layout.register("\(name).shared.bias", shape: [outputs], initializer: .zeros).offset
        scenarioWeightOffset = layout.register("\(name).scenario.weight", shape: [scenarios, outputs, inputs], initializer: .ones).offset
        scenarioBiasOffset = layout.register("\(name).scenario.bias", shape: [scenarios, outputs], initializer: .zeros).offset
    }

    /// `W ⊙ W_s` (`outputs x inputs`) and `b + b_s` for `scenario`.
    public func effective(scenario s: Int, parameters: [Float]) -> (weight: Matrix, bias: [Float]) {
        precondition(s >= 0 && s < scenarios, "scenario \(s) outside 0..<\(scenarios)")
        let n = outputs * inputs
        var weight = Matrix(rows: outputs, cols: inputs)
        var bias = [Float](repeating: 0, count: outputs)
        parameters.withUnsafeBufferPointer { p in
            weight.withUnsafeMutableBufferPointer { w in
                let shared = p.baseAddress! + sharedWeightOffset, own = p.baseAddress! + scenarioWeightOffset + s * n
                for k in 0..<n { w[k] = shared[k] * own[k] }
            }
            for o in 0..<outputs { bias[o] = p[sharedBiasOffset + o] + p[scenarioBiasOffset + s * outputs + o] }
        }
        return (weight, bias)
    }

    /// `y` for `x` with `scenarios[i]` the scenario of row `i`.
    /// Preconditions: `x.cols == inputs`; `scenarios.count == x.rows`, each in `0..<scenarios`.
    public func forward(_ x: Matrix, scenarios rowScenarios: [Int], parameters: [Float]) -> (output: Matrix, cache: Cache) {
        precondition(x.cols == inputs, "STAR layer expects \(inputs) columns, got \(x.cols)")
        precondition(rowScenarios.count == x.rows, "\(rowScenarios.count) scenarios for \(x.rows) rows")
        var groups = [[Int32]](repeating: [], count: scenarios)
        for (row, s) in rowScenarios.enumerated() {
            precondition(s >= 0 && s < scenarios, "scenario \(s) outside 0..<\(scenarios)")
            groups[s].append(Int32(row))
        }
        var y = Matrix(rows: x.rows, cols: outputs)
        for (s, rows) in groups.enumerated() where !rows.isEmpty {
            let (weight, bias) = effective(scenario: s, parameters: parameters)
            var ys = matmul(EmbeddingLookup.gather(x.values, dim: inputs, indices: rows), weight, transposeB: true)
            ys.addToEachRow(bias)
            EmbeddingLookup.scatterAdd(ys, indices: rows, into: &y.values)
        }
        return (y, Cache(input: x, groups: groups))
    }

    /// Returns `dx` and accumulates the gradients of `W`, `b`, `W_s`, `b_s`.
    /// Preconditions: `dy` is `batch x outputs` for the cached batch; `gradients.count == parameters.count`.
    public func backward(_ dy: Matrix, cache: Cache, parameters: [Float], gradients: inout [Float]) -> Matrix {
        let x = cache.input
        precondition(dy.rows == x.rows && dy.cols == outputs, "STAR gradient is \(dy.rows)x\(dy.cols), expected \(x.rows)x\(outputs)")
        precondition(gradients.count == parameters.count, "gradient vector has \(gradients.count) entries, parameters \(parameters.count)")
        let n = outputs * inputs
        var dx = Matrix(rows: x.rows, cols: inputs)
        for (s, rows) in cache.groups.enumerated() where !rows.isEmpty {
            let dys = EmbeddingLookup.gather(dy.values, dim: outputs, indices: rows)
            let xs = EmbeddingLookup.gather(x.values, dim: inputs, indices: rows)
            let (weight, _) = effective(scenario: s, parameters: parameters)
            EmbeddingLookup.scatterAdd(matmul(dys, weight), indices: rows, into: &dx.values)
            let g = matmul(dys, xs, transposeA: true)  // dL/d(W ⊙ W_s), outputs x inputs
            let biasGradient = dys.columnSums()
            parameters.withUnsafeBufferPointer { p in
                gradients.withUnsafeMutableBufferPointer { d in
                    g.withUnsafeBufferPointer { pg in
                        let shared = sharedWeightOffset, own = scenarioWeightOffset + s * n
                        for k in 0..<n {
                            d[shared + k] += pg[k] * p[own + k]
                            d[own + k] += pg[k] * p[shared + k]
                        }
                    }
                    for o in 0..<outputs {
                        d[sharedBiasOffset + o] += biasGradient[o]
                        d[scenarioBiasOffset + s * outputs + o] += biasGradient[o]
                    }
                }
            }
        }
        return dx
    }
}
