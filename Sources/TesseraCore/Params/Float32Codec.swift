/// Copies float rows to and from little-endian IEEE binary32 bytes, the wire
/// form of rows: one `memcpy` on little-endian hosts (x86_64, arm64), a
/// byte-swapping loop on big-endian ones.
public enum Float32Codec {
    /// Bytes needed for `count` floats.
    public static func byteCount(forFloats count: Int) -> Int { count * 4 }

    /// Writes `values` into `bytes` (4 bytes each, any alignment). Throws
    /// `TableError` unless `bytes.count == values.count * 4`.
    public static func encode(_ values: UnsafeBufferPointer<Float>, into bytes: UnsafeMutableRawBufferPointer) throws(TableError) {
        guard bytes.count == values.count * 4 else {
            throw .sizeMismatch("float32 encoding of \(values.count) floats", expected: values.count * 4, got: bytes.count)
        }
        #if _endian(little)
        if let base = bytes.baseAddress, let source = values.baseAddress {
            base.copyMemory(from: source, byteCount: values.count * 4)
        }
        #else
        for (i, x) in values.enumerated() {
            bytes.storeBytes(of: x.bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self)
        }
        #endif
    }

    /// Reads `values.count` floats from `bytes` (any alignment). Throws
    /// `TableError` unless `bytes.count == values.count * 4`.
    public static func decode(_ bytes: UnsafeRawBufferPointer, into values: UnsafeMutableBufferPointer<Float>) throws(TableError) {
        guard bytes.count == values.count * 4 else {
            throw .sizeMismatch("float32 decoding into \(values.count) floats: bytes", expected: values.count * 4, got: bytes.count)
        }
        #if _endian(little)
        if let base = bytes.baseAddress, let target = values.baseAddress {
            UnsafeMutableRawPointer(target).copyMemory(from: base, byteCount: values.count * 4)
        }
        #else
        for i in values.indices {
            values[i] = Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
        }
        #endif
    }

    /// Array form of `encode(_:into:)`.
    public static func encode(_ values: [Float]) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: values.count * 4) { buffer, count in
            values.withUnsafeBufferPointer { v in
                try! encode(v, into: UnsafeMutableRawBufferPointer(buffer))  // sizes match by construction
            }
            count = values.count * 4
        }
    }

    /// Array form of `decode(_:into:)`. Throws `TableError` unless the byte count is a multiple of 4.
    public static func decode(_ bytes: [UInt8]) throws(TableError) -> [Float] {
        guard bytes.count % 4 == 0 else {
            throw TableError(.sizeMismatch, "float32 data must be a multiple of 4 bytes, got \(bytes.count)")
        }
        var values = [Float](repeating: 0, count: bytes.count / 4)
        values.withUnsafeMutableBufferPointer { v in
            bytes.withUnsafeBytes { try! decode($0, into: v) }
        }
        return values
    }
}
