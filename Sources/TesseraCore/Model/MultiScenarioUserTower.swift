/// The scenario-dependent user side of `MultiScenarioModel`: a user embedding (`d`) in
/// scenario `s` to a `d`-wide query part.
///
/// - `.star`/`.blind`: star layers `[d] + starHidden + [d]` with activation and dropout
///   between them (see `MultiScenarioStarLayer`); `.blind` has one partition.
/// - `.mmoe`: `MixtureOfExperts` over the embedding with one gate per scenario, then
///   scenario `s`'s tower `MLP([expertSizes.last] + towerHidden + [d])` on its gated mix.
///
/// With `residual`, the embedding is added to the output. Shapes and offsets only: `Sendable`.
public struct MultiScenarioUserTower: Sendable, Hashable {
    enum Body: Sendable, Hashable {
        case star([MultiScenarioStarLayer])
        case mmoe(MixtureOfExperts, towers: [MLP])
    }

    let body: Body
    let activation: Activation
    let dropout: Dropout
    let residual: Bool

    /// What `backward` needs.
    public struct Cache: Sendable {
        fileprivate enum Body: Sendable {
            case star(layers: [MultiScenarioStarLayer.Cache], activations: [Activation.Cache], dropouts: [Dropout.Cache])
            case mmoe(MixtureOfExperts.Cache, groups: [[Int32]], towers: [MLP.Cache?], width: Int)
        }
        fileprivate let body: Body
    }

    /// Registers the tower's tensors (`"star.*"` or `"mmoe.*"`, `"tower.*"`) in `layout`.
    /// Precondition: `config.validate()` passes.
    public init(config: MultiScenarioConfig, layout: inout ParameterLayout) {
        let d = config.embeddingDim
        activation = config.activation
        dropout = Dropout(rate: config.dropout)
        residual = config.residual
        switch config.kind {
        case .star, .blind:
            let partitions = config.kind == .blind ? 1 : config.scenarios
            let sizes = [d] + config.starHidden + [d]
            body = .star((0..<(sizes.count - 1)).map { k in
                MultiScenarioStarLayer("star.\(k)", inputs: sizes[k], outputs: sizes[k + 1], scenarios: partitions, layout: &layout)
            })
        case .mmoe:
            let mixture = MixtureOfExperts("mmoe", inputs: d, expertSizes: config.expertSizes, experts: config.experts,
                                           tasks: config.scenarios, activation: config.activation, dropout: config.dropout,
                                           layout: &layout)
            let width = config.expertSizes[config.expertSizes.count - 1]
            body = .mmoe(mixture, towers: (0..<config.scenarios).map { s in
                MLP("tower.\(s)", sizes: [width] + config.towerHidden + [d], activation: config.activation,
                    dropout: config.dropout, layout: &layout)
            })
        }
    }

    /// Query parts for `x` (`batch x d`), row `i` in scenario `scenarios[i]`.
    public func forward(_ x: Matrix, scenarios: [Int], parameters: [Float], mode: ForwardMode) -> (output: Matrix, cache: Cache) {
        var y: Matrix
        let cache: Cache.Body
        switch body {
        case let .star(layers):
            var h = x
            var layerCaches: [MultiScenarioStarLayer.Cache] = [], activations: [Activation.Cache] = [], dropouts: [Dropout.Cache] = []
            for (k, layer) in layers.enumerated() {
                let (z, cz) = layer.forward(h, scenarios: scenarios, parameters: parameters)
                layerCaches.append(cz)
                h = z
                if k < layers.count - 1 {
                    let (a, ca) = activation.forward(h)
                    let (o, co) = dropout.forward(a, mode: mode.derived(UInt64(k)))
                    activations.append(ca)
                    dropouts.append(co)
                    h = o
                }
            }
            y = h
            cache = .star(layers: layerCaches, activations: activations, dropouts: dropouts)
        case let .mmoe(mixture, towers):
            let (mixed, mixtureCache) = mixture.forward(x, parameters: parameters, mode: mode.derived(1))
            let groups = Self.groups(scenarios, count: towers.count)
            let width = mixed[0].cols
            y = Matrix(rows: x.rows, cols: x.cols)
            var towerCaches: [MLP.Cache?] = []
            for (s, rows) in groups.enumerated() {
                guard !rows.isEmpty else {
                    towerCaches.append(nil)
                    continue
                }
                let input = EmbeddingLookup.gather(mixed[s].values, dim: width, indices: rows)
                let (out, towerCache) = towers[s].forward(input, parameters: parameters, mode: mode.derived(UInt64(100 + s)))
                EmbeddingLookup.scatterAdd(out, indices: rows, into: &y.values)
                towerCaches.append(towerCache)
            }
            cache = .mmoe(mixtureCache, groups: groups, towers: towerCaches, width: width)
        }
        if residual { y.add(x) }
        return (y, Cache(body: cache))
    }

    /// Returns `dx` and accumulates the tower's parameter gradients.
    public func backward(_ dy: Matrix, cache: Cache, parameters: [Float], gradients: inout [Float]) -> Matrix {
        var dx: Matrix
        switch (body, cache.body) {
        case let (.star(layers), .star(layerCaches, activations, dropouts)):
            var g = dy
            for k in stride(from: layers.count - 1, through: 0, by: -1) {
                if k < layers.count - 1 {
                    g = dropout.backward(g, cache: dropouts[k])
                    g = activation.backward(g, cache: activations[k])
                }
                g = layers[k].backward(g, cache: layerCaches[k], parameters: parameters, gradients: &gradients)
            }
            dx = g
        case let (.mmoe(mixture, towers), .mmoe(mixtureCache, groups, towerCaches, width)):
            var dMixed = [Matrix](repeating: Matrix(rows: dy.rows, cols: width), count: towers.count)
            for (s, rows) in groups.enumerated() {
                guard let towerCache = towerCaches[s] else { continue }
                let dOut = EmbeddingLookup.gather(dy.values, dim: dy.cols, indices: rows)
                let dInput = towers[s].backward(dOut, cache: towerCache, parameters: parameters, gradients: &gradients)
                EmbeddingLookup.scatterAdd(dInput, indices: rows, into: &dMixed[s].values)
            }
            dx = mixture.backward(dMixed, cache: mixtureCache, parameters: parameters, gradients: &gradients)
        default:
            preconditionFailure("a cache from another tower")
        }
        if residual { dx.add(dy) }
        return dx
    }

    /// Row indices per scenario `0..<count`.
    static func groups(_ scenarios: [Int], count: Int) -> [[Int32]] {
        var groups = [[Int32]](repeating: [], count: count)
        for (row, s) in scenarios.enumerated() { groups[s].append(Int32(row)) }
        return groups
    }
}
