/// Turns ids as they appear in data files ("42", "B00005N5PF") into the
/// `UInt64` keys that tables are indexed by, the same way in every process.
///
/// A decimal id below 2^63 is its own key, so keys of numeric data sets read
/// naturally in logs; any other id hashes to a key with the top bit set, so the
/// two kinds never collide.
public enum EntityKey {
    public static func key(for rawID: Substring) -> UInt64 {
        if let value = UInt64(rawID), value < (1 << 63) {
            return value
        }
        return Hashing.hash(String(rawID)) | (1 << 63)
    }

    public static func key(for rawID: String) -> UInt64 {
        key(for: rawID[...])
    }

    /// True when `key` came from a decimal id, so `String(key)` is that id.
    public static func isNumeric(_ key: UInt64) -> Bool {
        key < (1 << 63)
    }
}
