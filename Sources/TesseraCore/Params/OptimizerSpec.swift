/// Which sparse optimizer a table uses, with its hyperparameters.
///
/// Optimizers are pure: weight decay or L2 regularization belongs to the model,
/// which adds it to the gradient before pushing. Every optimizer here is *lazy*:
/// a row's state changes only when that row receives a gradient.
///
/// Coded (JSON/YAML) as a one-key object naming the case; omitted fields take
/// the defaults below, unknown fields are an error:
/// `{"adagrad": {"learningRate": 0.05}}`.
public enum OptimizerSpec: Sendable, Hashable {
    /// Plain SGD: `w -= learningRate * g`. No state.
    case sgd(learningRate: Float)
    /// Adagrad: `a += g²; w -= learningRate * g / (sqrt(a) + epsilon)`.
    /// State: the accumulator `a`, one float per coordinate, starting at `initialAccumulator`.
    case adagrad(learningRate: Float, initialAccumulator: Float = 0.1, epsilon: Float = 1e-10)
    /// Lazy (sparse) Adam with bias correction by the row's own step count `t`.
    /// State: first moments `m[dim]`, second moments `v[dim]`, then `t` (one float).
    case adam(learningRate: Float, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8)
    /// FTRL-Proximal (McMahan et al. 2013), per coordinate.
    /// State: `z[dim]`, then `n[dim]`; the row's value is always the closed-form
    /// weight of (z, n), see `Optimizer`.
    case ftrl(alpha: Float, beta: Float = 1, l1: Float = 0, l2: Float = 0)

    /// A short name for messages and stats ("sgd", "adagrad", "adam", "ftrl").
    public var name: String {
        switch self {
        case .sgd: "sgd"
        case .adagrad: "adagrad"
        case .adam: "adam"
        case .ftrl: "ftrl"
        }
    }

    /// Floats of optimizer state stored after each row's `dim` values.
    public func stateWidth(dim: Int) -> Int {
        switch self {
        case .sgd: 0
        case .adagrad: dim
        case .adam: 2 * dim + 1
        case .ftrl: 2 * dim
        }
    }

    /// Throws when a hyperparameter is out of range (non-positive rate, beta outside [0, 1), …).
    public func validate() throws(TableError) {
        func check(_ ok: Bool, _ what: String) throws(TableError) {
            if !ok { throw TableError(.invalidSpec, "\(name) optimizer: \(what)") }
        }
        switch self {
        case let .sgd(lr):
            try check(lr.isFinite && lr > 0, "learningRate must be positive and finite, got \(lr)")
        case let .adagrad(lr, initial, eps):
            try check(lr.isFinite && lr > 0, "learningRate must be positive and finite, got \(lr)")
            try check(initial.isFinite && initial >= 0, "initialAccumulator must be >= 0, got \(initial)")
            try check(eps.isFinite && eps >= 0, "epsilon must be >= 0, got \(eps)")
            try check(initial > 0 || eps > 0, "initialAccumulator and epsilon cannot both be 0 (division by zero)")
        case let .adam(lr, b1, b2, eps):
            try check(lr.isFinite && lr > 0, "learningRate must be positive and finite, got \(lr)")
            try check(b1 >= 0 && b1 < 1, "beta1 must be in [0, 1), got \(b1)")
            try check(b2 >= 0 && b2 < 1, "beta2 must be in [0, 1), got \(b2)")
            try check(eps.isFinite && eps > 0, "epsilon must be positive, got \(eps)")
        case let .ftrl(alpha, beta, l1, l2):
            try check(alpha.isFinite && alpha > 0, "alpha must be positive and finite, got \(alpha)")
            try check(beta.isFinite && beta >= 0, "beta must be >= 0, got \(beta)")
            try check(l1.isFinite && l1 >= 0, "l1 must be >= 0, got \(l1)")
            try check(l2.isFinite && l2 >= 0, "l2 must be >= 0, got \(l2)")
            try check(beta > 0 || l2 > 0, "beta and l2 cannot both be 0 (division by zero before the first gradient)")
        }
    }
}

extension OptimizerSpec: Codable {
    private enum Kind: String, CaseIterable {
        case sgd, adagrad, adam, ftrl

        var fields: [String] {
            switch self {
            case .sgd: ["learningRate"]
            case .adagrad: ["learningRate", "initialAccumulator", "epsilon"]
            case .adam: ["learningRate", "beta1", "beta2", "epsilon"]
            case .ftrl: ["alpha", "beta", "l1", "l2"]
            }
        }
    }

    public init(from decoder: any Decoder) throws {
        let outer = try decoder.container(keyedBy: SpecCodingKey.self)
        let kindKey = try SpecCodingKey.single(in: outer, choices: Kind.allCases.map(\.rawValue), what: "optimizer")
        let kind = Kind(rawValue: kindKey.stringValue)!
        let f = try outer.nestedContainer(keyedBy: SpecCodingKey.self, forKey: kindKey)
        try SpecCodingKey.rejectUnknown(in: f, allowed: kind.fields, what: "\(kind.rawValue) optimizer")
        func value(_ name: String, _ fallback: Float? = nil) throws -> Float {
            let key = SpecCodingKey(name)
            if let fallback { return try f.decodeIfPresent(Float.self, forKey: key) ?? fallback }
            return try f.decode(Float.self, forKey: key)
        }
        // Defaults repeat those of the case declarations; a test checks they agree.
        switch kind {
        case .sgd:
            self = .sgd(learningRate: try value("learningRate"))
        case .adagrad:
            self = .adagrad(
                learningRate: try value("learningRate"),
                initialAccumulator: try value("initialAccumulator", 0.1),
                epsilon: try value("epsilon", 1e-10))
        case .adam:
            self = .adam(
                learningRate: try value("learningRate"), beta1: try value("beta1", 0.9),
                beta2: try value("beta2", 0.999), epsilon: try value("epsilon", 1e-8))
        case .ftrl:
            self = .ftrl(
                alpha: try value("alpha"), beta: try value("beta", 1),
                l1: try value("l1", 0), l2: try value("l2", 0))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var outer = encoder.container(keyedBy: SpecCodingKey.self)
        var f = outer.nestedContainer(keyedBy: SpecCodingKey.self, forKey: SpecCodingKey(name))
        switch self {
        case let .sgd(lr):
            try f.encode(lr, forKey: SpecCodingKey("learningRate"))
        case let .adagrad(lr, initial, eps):
            try f.encode(lr, forKey: SpecCodingKey("learningRate"))
            try f.encode(initial, forKey: SpecCodingKey("initialAccumulator"))
            try f.encode(eps, forKey: SpecCodingKey("epsilon"))
        case let .adam(lr, b1, b2, eps):
            try f.encode(lr, forKey: SpecCodingKey("learningRate"))
            try f.encode(b1, forKey: SpecCodingKey("beta1"))
            try f.encode(b2, forKey: SpecCodingKey("beta2"))
            try f.encode(eps, forKey: SpecCodingKey("epsilon"))
        case let .ftrl(alpha, beta, l1, l2):
            try f.encode(alpha, forKey: SpecCodingKey("alpha"))
            try f.encode(beta, forKey: SpecCodingKey("beta"))
            try f.encode(l1, forKey: SpecCodingKey("l1"))
            try f.encode(l2, forKey: SpecCodingKey("l2"))
        }
    }
}

/// A coding key for any string, so spec decoders can name unknown fields in errors.
struct SpecCodingKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }

    init(_ string: String) { stringValue = string }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }

    /// The one key of a one-key "which case" object, checked against `choices`.
    static func single(
        in container: KeyedDecodingContainer<SpecCodingKey>, choices: [String], what: String
    ) throws -> SpecCodingKey {
        let keys = container.allKeys
        guard keys.count == 1, let key = keys.first, choices.contains(key.stringValue) else {
            throw DecodingError.dataCorrupted(.init(
                codingPath: container.codingPath,
                debugDescription: "\(what) must be an object with exactly one of \(choices), "
                    + "found \(keys.map(\.stringValue))"))
        }
        return key
    }

    /// Throws if `container` has a key not in `allowed` (catches typos in configs).
    static func rejectUnknown(
        in container: KeyedDecodingContainer<SpecCodingKey>, allowed: [String], what: String
    ) throws {
        for key in container.allKeys where !allowed.contains(key.stringValue) {
            throw DecodingError.dataCorrupted(.init(
                codingPath: container.codingPath + [key],
                debugDescription: "unknown field '\(key.stringValue)' for \(what); expected one of \(allowed)"))
        }
    }
}
