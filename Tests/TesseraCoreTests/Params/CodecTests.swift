import Testing
import TesseraCore

@Suite struct CodecTests {
    @Test func float16IsLittleEndianBinary16() throws {
        // 1.0 = 0x3C00, -2.0 = 0xC000, 0.5 = 0x3800
        #expect(Float16Codec.encode([1, -2, 0.5]) == [0x00, 0x3C, 0x00, 0xC0, 0x00, 0x38])
        let exact: [Float] = [0, 1, -2, 0.5, 65504, 0.099975586, -0.000061035156]
        #expect(try Float16Codec.decode(Float16Codec.encode(exact)) == exact)
        #expect(try Float16Codec.decode(Float16Codec.encode([1e6]))[0] == .infinity)
    }

    @Test func float16RoundTripIsWithinHalfPrecision() throws {
        var rng = SplitMix64(seed: 3)
        let values = (0..<1000).map { _ in rng.nextGaussian() * 0.1 }
        let decoded = try Float16Codec.decode(Float16Codec.encode(values))
        for (x, y) in zip(values, decoded) {
            // 11 significant bits: relative error ≤ 2^-11 (normal range), absolute ≤ 2^-25 near zero.
            #expect(abs(x - y) <= max(abs(x) * 0.000489, 3e-8))
        }
        #expect(throws: TableError.self) { try Float16Codec.decode([1, 2, 3]) }
        var out = [Float](repeating: 0, count: 2)
        #expect(throws: TableError.self) {
            try out.withUnsafeMutableBufferPointer { o in
                try [UInt8](repeating: 0, count: 6).withUnsafeBytes { try Float16Codec.decode($0, into: o) }
            }
        }
    }

    @Test func float32IsLittleEndianAndCopiesAtAnyAlignment() throws {
        #expect(Float32Codec.encode([1, -2]) == [0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0])
        let values: [Float] = [0.1, -3.5, .greatestFiniteMagnitude, Float(bitPattern: 0x0001_2345)]  // the last one subnormal
        #expect(try Float32Codec.decode(Float32Codec.encode(values)) == values)
        // Decode from an odd byte offset.
        let shifted: [UInt8] = [0xEE] + Float32Codec.encode(values)
        var out = [Float](repeating: 0, count: 4)
        try out.withUnsafeMutableBufferPointer { o in
            try shifted.withUnsafeBytes { try Float32Codec.decode(UnsafeRawBufferPointer(rebasing: $0[1...]), into: o) }
        }
        #expect(out == values)
        #expect(throws: TableError.self) { try Float32Codec.decode([0, 0, 0]) }
    }
}
