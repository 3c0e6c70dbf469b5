/// Groups users by the direction of their embedding, for per-(group, item)
/// feedback counters: `bits` random hyperplanes (seeded) split the embedding
/// space into `2^bits` cones (locality-sensitive hashing), so users with
/// similar tastes share a group and its click rates.
///
/// Users without a vector (unknown, or all-zero) form their own group,
/// `coldGroup`. Every process builds the same hyperplanes from the same seed.
public struct UserGroups: Sendable {
    public let bits: Int
    public let dim: Int
    private let planes: [Float]

    public init(bits: Int, dim: Int, seed: UInt64) {
        precondition(bits >= 0 && bits <= 16 && dim > 0)
        self.bits = bits
        self.dim = dim
        var rng = SplitMix64(seed: seed)
        planes = (0..<(bits * dim)).map { _ in rng.nextGaussian() }
    }

    /// Groups of users with a vector: `0 ..< 2^bits`.
    public var count: Int { 1 << bits }

    /// The group of users without a vector.
    public var coldGroup: UInt32 { UInt32(count) }

    /// The group of `vector` (`dim` values); `coldGroup` for nil or all zeros.
    public func group(of vector: ArraySlice<Float>?) -> UInt32 {
        guard let vector, vector.count == dim, vector.contains(where: { $0 != 0 }) else { return coldGroup }
        var group: UInt32 = 0
        for b in 0..<bits {
            var dot: Float = 0
            for (d, value) in vector.enumerated() { dot += value * planes[b * dim + d] }
            if dot >= 0 { group |= 1 << UInt32(b) }
        }
        return group
    }
}
