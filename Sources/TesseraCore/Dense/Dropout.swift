/// Inverted dropout: in training, zeroes each entry with probability `rate` and scales the
/// rest by `1 / (1 - rate)`; at inference, the identity.
///
/// The mask is drawn from `SplitMix64(seed:)` of the training mode's seed, one uniform per
/// entry in row-major order. No parameters.
public struct Dropout: Sendable, Hashable {
    /// Probability of zeroing an entry, in [0, 1).
    public let rate: Float

    /// What `backward` needs: the scaled keep-mask (`0` or `1 / (1 - rate)` per entry), or
    /// nil when the forward pass was the identity.
    public struct Cache: Sendable {
        public let mask: [Float]?
    }

    /// Precondition: `0 <= rate < 1`.
    public init(rate: Float) {
        precondition(rate >= 0 && rate < 1, "dropout rate must be in [0, 1), got \(rate)")
        self.rate = rate
    }

    /// `y = x ⊙ mask` in training (`rate > 0`), else `y = x` (no copy).
    public func forward(_ x: Matrix, mode: ForwardMode) -> (output: Matrix, cache: Cache) {
        guard case let .training(seed) = mode, rate > 0 else { return (x, Cache(mask: nil)) }
        let mask = Dropout.mask(count: x.count, rate: rate, seed: seed)
        var y = x
        y.withUnsafeMutableBufferPointer { p in
            mask.withUnsafeBufferPointer { m in
                for i in 0..<p.count { p[i] *= m[i] }
            }
        }
        return (y, Cache(mask: mask))
    }

    /// `dx = dy ⊙ mask` (or `dy` when the forward pass was the identity).
    public func backward(_ dy: Matrix, cache: Cache) -> Matrix {
        guard let mask = cache.mask else { return dy }
        precondition(mask.count == dy.count, "dropout gradient has \(dy.count) entries, mask \(mask.count)")
        var dx = dy
        dx.withUnsafeMutableBufferPointer { p in
            mask.withUnsafeBufferPointer { m in
                for i in 0..<p.count { p[i] *= m[i] }
            }
        }
        return dx
    }

    /// `count` entries, each `0` with probability `rate`, else `1 / (1 - rate)`.
    static func mask(count: Int, rate: Float, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        let keep = 1 / (1 - rate)
        var mask = [Float](repeating: 0, count: count)
        mask.withUnsafeMutableBufferPointer { m in
            for i in 0..<count { m[i] = rng.nextUnitFloat() < rate ? 0 : keep }
        }
        return mask
    }
}
