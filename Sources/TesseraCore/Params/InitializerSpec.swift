import Foundation

/// How a table fills a row the first time its key is seen.
///
/// Rows are a pure function of (table seed, key): every replica and every
/// process (of the same platform and build) creates the identical row, so a row
/// can be created wherever it is first pulled without coordination.
///
/// Coded as a one-key object (`{"normal": {"std": 0.01}}`,
/// `{"uniform": {"limit": 0.05}}`, `{"constant": {"value": 0.5}}`) or, for
/// `zeros`, also as the plain string `"zeros"`.
public enum InitializerSpec: Sendable, Hashable {
    /// Independent N(0, std²) entries.
    case normal(std: Float)
    /// Independent uniform entries in [-limit, limit).
    case uniform(limit: Float)
    /// All zeros.
    case zeros
    /// Every entry equal to `value`.
    case constant(value: Float)

    /// A short name for messages ("normal", "uniform", "zeros", "constant").
    public var name: String {
        switch self {
        case .normal: "normal"
        case .uniform: "uniform"
        case .zeros: "zeros"
        case .constant: "constant"
        }
    }

    /// Throws when a parameter is negative or not finite.
    public func validate() throws(TableError) {
        let ok: Bool
        switch self {
        case let .normal(std): ok = std.isFinite && std >= 0
        case let .uniform(limit): ok = limit.isFinite && limit >= 0
        case .zeros: ok = true
        case let .constant(value): ok = value.isFinite
        }
        if !ok { throw TableError(.invalidSpec, "initializer \(self) is out of range (must be finite, scale >= 0)") }
    }

    /// Fills `row[0..<dim]` with the initial values of `key` in a table seeded `tableSeed`.
    ///
    /// Deterministic: draws from `SplitMix64(seed: Hashing.combine(tableSeed, key))`.
    /// Normal entries come from Box–Muller pairs (both outputs used). Allocates nothing.
    public func initializeRow(_ row: UnsafeMutablePointer<Float>, dim: Int, key: UInt64, tableSeed: UInt64) {
        switch self {
        case .zeros:
            row.update(repeating: 0, count: dim)
        case let .constant(value):
            row.update(repeating: value, count: dim)
        case let .uniform(limit):
            var rng = SplitMix64(seed: Hashing.combine(tableSeed, key))
            let scale = 2 * limit
            for i in 0..<dim {
                row[i] = (rng.nextUnitFloat() - 0.5) * scale
            }
        case let .normal(std):
            var rng = SplitMix64(seed: Hashing.combine(tableSeed, key))
            let s = Double(std)
            var i = 0
            while i < dim {
                // u1 in (0, 1]: 1 - [0, 1) avoids log(0).
                let u1 = 1 - rng.nextUnitDouble()
                let u2 = rng.nextUnitDouble()
                let r = (-2 * log(u1)).squareRoot() * s
                let theta = 2 * Double.pi * u2
                row[i] = Float(r * cos(theta))
                if i + 1 < dim { row[i + 1] = Float(r * sin(theta)) }
                i += 2
            }
        }
    }
}

extension InitializerSpec: Codable {
    public init(from decoder: any Decoder) throws {
        if let single = try? decoder.singleValueContainer(), let word = try? single.decode(String.self) {
            guard word == "zeros" else {
                throw DecodingError.dataCorrupted(.init(
                    codingPath: decoder.codingPath,
                    debugDescription: "initializer '\(word)' needs parameters; only \"zeros\" may be a plain string"))
            }
            self = .zeros
            return
        }
        let outer = try decoder.container(keyedBy: SpecCodingKey.self)
        let kindKey = try SpecCodingKey.single(
            in: outer, choices: ["normal", "uniform", "zeros", "constant"], what: "initializer")
        let field: String? = switch kindKey.stringValue {
        case "normal": "std"
        case "uniform": "limit"
        case "constant": "value"
        default: nil
        }
        let f = try outer.nestedContainer(keyedBy: SpecCodingKey.self, forKey: kindKey)
        try SpecCodingKey.rejectUnknown(in: f, allowed: field.map { [$0] } ?? [], what: "\(kindKey.stringValue) initializer")
        guard let field else {
            self = .zeros
            return
        }
        let x = try f.decode(Float.self, forKey: SpecCodingKey(field))
        switch kindKey.stringValue {
        case "normal": self = .normal(std: x)
        case "uniform": self = .uniform(limit: x)
        default: self = .constant(value: x)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        let field: (String, Float)
        switch self {
        case .zeros:
            var single = encoder.singleValueContainer()
            try single.encode("zeros")
            return
        case let .normal(std): field = ("std", std)
        case let .uniform(limit): field = ("limit", limit)
        case let .constant(value): field = ("value", value)
        }
        var outer = encoder.container(keyedBy: SpecCodingKey.self)
        var f = outer.nestedContainer(keyedBy: SpecCodingKey.self, forKey: SpecCodingKey(name))
        try f.encode(field.1, forKey: SpecCodingKey(field.0))
    }
}
