import Foundation

/// How a dense parameter tensor is filled before training.
public enum ParameterInitializer: Sendable, Hashable {
    /// All zeros (biases, LayerNorm bias).
    case zeros
    /// All ones (LayerNorm gain).
    case ones
    /// Every entry equal to `value`.
    case constant(Float)
    /// Independent N(0, std²) entries.
    case normal(std: Float)
    /// Independent uniform entries in [-limit, limit).
    case uniform(limit: Float)
    /// Glorot/Xavier uniform: U(-a, a) with `a = sqrt(6 / (fanIn + fanOut))`. For a shape
    /// `[d0, d1, ...]`, `fanOut = d0` and `fanIn = d1 · d2 · …` (PyTorch's convention for an
    /// `[out, in]` weight); a 1-D shape `[n]` uses `fanIn = fanOut = n`.
    case xavierUniform
}

/// The map from named dense tensors to ranges of one flat `[Float]` parameter vector.
///
/// Layers register their tensors when they are built (`Linear("tower.0", …, layout: &layout)`)
/// and remember the offsets; at run time they read a passed-in flat parameter vector and
/// accumulate into a flat gradient vector of the same `count`. So a model's dense weights are
/// one vector that the parameter server stores as keyed blocks (see `ParameterLayout+Blocks`).
///
/// Tensors are laid out back to back in registration order. Names must be unique. Value type;
/// building a model mutates its layout, after which it can be shared freely (`Sendable`).
public struct ParameterLayout: Sendable, Hashable {
    /// One registered tensor: a row-major block `offset ..< offset + count` of the flat vector.
    public struct Tensor: Sendable, Hashable {
        /// Unique name, conventionally dotted (`"block0.attention.qkv.weight"`).
        public let name: String
        /// Shape, outermost first; row-major.
        public let shape: [Int]
        /// First index in the flat vector.
        public let offset: Int
        /// How `ParameterLayout.initialize(seed:)` fills it.
        public let initializer: ParameterInitializer

        /// Number of entries (product of `shape`).
        public var count: Int { shape.reduce(1, *) }
        /// `offset ..< offset + count`.
        public var range: Range<Int> { offset..<(offset + count) }
    }

    /// Registered tensors, in flat-vector order.
    public private(set) var tensors: [Tensor] = []
    /// Total number of parameters (the flat vector's length).
    public private(set) var count: Int = 0
    private var indexByName: [String: Int] = [:]

    /// An empty layout.
    public init() {}

    /// Appends a tensor and returns it (with its offset).
    ///
    /// Preconditions: `name` not yet registered; every dimension `>= 1`.
    @discardableResult
    public mutating func register(_ name: String, shape: [Int], initializer: ParameterInitializer) -> Tensor {
        precondition(indexByName[name] == nil, "parameter tensor '\(name)' is registered twice")
        precondition(!shape.isEmpty && shape.allSatisfy { $0 >= 1 }, "tensor '\(name)' has shape \(shape)")
        let tensor = Tensor(name: name, shape: shape, offset: count, initializer: initializer)
        indexByName[name] = tensors.count
        tensors.append(tensor)
        count += tensor.count
        return tensor
    }

    /// The tensor called `name`, if registered.
    public subscript(name: String) -> Tensor? {
        indexByName[name].map { tensors[$0] }
    }

    /// The smallest range of the flat vector covering every tensor whose name starts with
    /// `prefix` (e.g. one scenario's tower), or nil if none does.
    public func range(ofTensorsWithPrefix prefix: String) -> Range<Int>? {
        let matching = tensors.filter { $0.name.hasPrefix(prefix) }
        guard let lower = matching.map(\.offset).min(), let upper = matching.map(\.range.upperBound).max() else { return nil }
        return lower..<upper
    }

    /// A fresh flat vector with every tensor initialized.
    ///
    /// Deterministic: tensor `t` draws from `SplitMix64(seed: Hashing.combine(seed, Hashing.hash(t.name)))`,
    /// so a tensor's values depend only on the seed, its name, shape and initializer — not on
    /// what else is registered — and every worker computes the same vector.
    public func initialize(seed: UInt64) -> [Float] {
        var flat = [Float](repeating: 0, count: count)
        flat.withUnsafeMutableBufferPointer { p in
            for t in tensors {
                var rng = SplitMix64(seed: Hashing.combine(seed, Hashing.hash(t.name)))
                let out = p.baseAddress! + t.offset
                switch t.initializer {
                case .zeros: out.update(repeating: 0, count: t.count)
                case .ones: out.update(repeating: 1, count: t.count)
                case let .constant(v): out.update(repeating: v, count: t.count)
                case let .normal(std):
                    for i in 0..<t.count { out[i] = std * rng.nextGaussian() }
                case let .uniform(limit):
                    for i in 0..<t.count { out[i] = (2 * rng.nextUnitFloat() - 1) * limit }
                case .xavierUniform:
                    let fanOut = t.shape[0]
                    let fanIn = t.shape.count == 1 ? t.shape[0] : t.count / t.shape[0]
                    let limit = Float((6.0 / Double(fanIn + fanOut)).squareRoot())
                    for i in 0..<t.count { out[i] = (2 * rng.nextUnitFloat() - 1) * limit }
                }
            }
        }
        return flat
    }

    /// A zero vector of `count` entries: a gradient buffer for `backward` to accumulate into.
    public func zeros() -> [Float] {
        [Float](repeating: 0, count: count)
    }

    /// A copy of tensor `name`'s values in `flat` as a matrix: `[d0, d1·d2·…]`, or `[1, n]`
    /// for a 1-D tensor. Precondition: `name` is registered and `flat.count == count`.
    public func matrix(_ name: String, in flat: [Float]) -> Matrix {
        guard let t = self[name] else { preconditionFailure("no parameter tensor '\(name)'") }
        precondition(flat.count == count, "flat vector has \(flat.count) entries, layout has \(count)")
        let rows = t.shape.count == 1 ? 1 : t.shape[0]
        return Matrix(rows: rows, cols: t.count / rows, values: Array(flat[t.range]))
    }
}
