/// A stack of `Linear` layers with an activation (and optional dropout) between them: the
/// towers of a two-tower model and the experts of MMoE/STAR.
///
/// For `sizes = [d₀, d₁, …, d_L]`: layer `k` is `Linear("\(name).\(k)", d_k -> d_{k+1})`;
/// every hidden layer is followed by `activation` then `dropout`; the last layer's output
/// is left linear unless `activateOutput` is set (then activation, no dropout).
/// Input `batch x d₀`, output `batch x d_L`.
public struct MLP: Sendable, Hashable {
    /// The linear layers, input side first.
    public let layers: [Linear]
    /// Nonlinearity between layers.
    public let activation: Activation
    /// Whether the output layer is also activated.
    public let activateOutput: Bool
    /// Dropout after each hidden activation (training only).
    public let dropout: Dropout

    /// What `backward` needs, one entry per layer.
    public struct Cache: Sendable {
        let linear: [Linear.Cache]
        let activation: [Activation.Cache?]
        let dropout: [Dropout.Cache?]
    }

    /// Registers `sizes.count - 1` Linear layers under `name`. Precondition: `sizes.count >= 2`.
    public init(
        _ name: String, sizes: [Int], activation: Activation = .relu, activateOutput: Bool = false,
        dropout: Float = 0, bias: Bool = true, layout: inout ParameterLayout
    ) {
        precondition(sizes.count >= 2, "an MLP needs at least an input and an output size, got \(sizes)")
        var layers: [Linear] = []
        for k in 0..<(sizes.count - 1) {
            layers.append(Linear("\(name).\(k)", inputs: sizes[k], outputs: sizes[k + 1], bias: bias, layout: &layout))
        }
        self.layers = layers
        self.activation = activation
        self.activateOutput = activateOutput
        self.dropout = Dropout(rate: dropout)
    }

    /// Input width.
    public var inputs: Int { layers[0].inputs }
    /// Output width.
    public var outputs: Int { layers[layers.count - 1].outputs }

    /// The network's output for `x` (`batch x inputs`).
    public func forward(_ x: Matrix, parameters: [Float], mode: ForwardMode = .inference) -> (output: Matrix, cache: Cache) {
        var h = x
        var linearCaches: [Linear.Cache] = []
        var activationCaches: [Activation.Cache?] = []
        var dropoutCaches: [Dropout.Cache?] = []
        for (k, layer) in layers.enumerated() {
            let (z, cz) = layer.forward(h, parameters: parameters)
            linearCaches.append(cz)
            h = z
            let isLast = k == layers.count - 1
            if !isLast || activateOutput {
                let (a, ca) = activation.forward(h)
                activationCaches.append(ca)
                h = a
            } else {
                activationCaches.append(nil)
            }
            if !isLast {
                let (d, cd) = dropout.forward(h, mode: mode.derived(UInt64(k)))
                dropoutCaches.append(cd)
                h = d
            } else {
                dropoutCaches.append(nil)
            }
        }
        return (h, Cache(linear: linearCaches, activation: activationCaches, dropout: dropoutCaches))
    }

    /// Returns `dx` and accumulates every layer's parameter gradients.
    public func backward(_ dy: Matrix, cache: Cache, parameters: [Float], gradients: inout [Float]) -> Matrix {
        var g = dy
        for k in stride(from: layers.count - 1, through: 0, by: -1) {
            if let cd = cache.dropout[k] { g = dropout.backward(g, cache: cd) }
            if let ca = cache.activation[k] { g = activation.backward(g, cache: ca) }
            g = layers[k].backward(g, cache: cache.linear[k], parameters: parameters, gradients: &gradients)
        }
        return g
    }
}
