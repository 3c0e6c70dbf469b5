/// Stable 64-bit hashing. Every process of a cluster must place and seed keys
/// identically, so nothing here may depend on Swift's per-process `Hasher` seed.
public enum Hashing {
    /// The SplitMix64 finalizer: a bijective, well-mixed 64-bit permutation.
    @inlinable
    public static func mix64(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Mixes two words into one hash (order matters).
    @inlinable
    public static func combine(_ a: UInt64, _ b: UInt64) -> UInt64 {
        mix64(a ^ (mix64(b) &+ 0x632B_E59B_D9B4_E019))
    }

    /// FNV-1a over the UTF-8 bytes of `string`, then mixed.
    public static func hash(_ string: String) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in string.utf8 {
            h ^= UInt64(byte)
            h = h &* 0x0000_0100_0000_01B3
        }
        return mix64(h)
    }
}
