/// Packs float rows as little-endian IEEE binary16 for the wire (half the bytes
/// of float32, about 3 significant decimal digits).
///
/// Encoding rounds to nearest even; magnitudes above 65504 become ±infinity and
/// those below about 6e-8 become ±0. Byte order is little-endian on every host.
/// Requires Swift's `Float16` (Linux on x86_64/arm64, Apple silicon).
public enum Float16Codec {
    /// Bytes needed for `count` floats.
    public static func byteCount(forFloats count: Int) -> Int { count * 2 }

    /// Writes `values` into `bytes` (2 bytes each). Throws `TableError` unless
    /// `bytes.count == values.count * 2`.
    public static func encode(_ values: UnsafeBufferPointer<Float>, into bytes: UnsafeMutableRawBufferPointer) throws(TableError) {
        guard bytes.count == values.count * 2 else {
            throw .sizeMismatch("float16 encoding of \(values.count) floats", expected: values.count * 2, got: bytes.count)
        }
        for (i, x) in values.enumerated() {
            bytes.storeBytes(of: Float16(x).bitPattern.littleEndian, toByteOffset: 2 * i, as: UInt16.self)
        }
    }

    /// Reads `values.count` binary16 numbers from `bytes` into `values`. Throws
    /// `TableError` unless `bytes.count == values.count * 2`.
    public static func decode(_ bytes: UnsafeRawBufferPointer, into values: UnsafeMutableBufferPointer<Float>) throws(TableError) {
        guard bytes.count == values.count * 2 else {
            throw .sizeMismatch("float16 decoding into \(values.count) floats: bytes", expected: values.count * 2, got: bytes.count)
        }
        for i in values.indices {
            let bits = UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
            values[i] = Float(Float16(bitPattern: bits))
        }
    }

    /// Array form of `encode(_:into:)`.
    public static func encode(_ values: [Float]) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: values.count * 2) { buffer, count in
            values.withUnsafeBufferPointer { v in
                // Sizes match by construction.
                try! encode(v, into: UnsafeMutableRawBufferPointer(buffer))
            }
            count = values.count * 2
        }
    }

    /// Array form of `decode(_:into:)`. Throws `TableError` if the byte count is odd.
    public static func decode(_ bytes: [UInt8]) throws(TableError) -> [Float] {
        guard bytes.count % 2 == 0 else {
            throw TableError(.sizeMismatch, "float16 data must have an even number of bytes, got \(bytes.count)")
        }
        var values = [Float](repeating: 0, count: bytes.count / 2)
        values.withUnsafeMutableBufferPointer { v in
            bytes.withUnsafeBytes { try! decode($0, into: v) }
        }
        return values
    }
}
