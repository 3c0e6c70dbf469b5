import Testing
import TesseraCore

@Suite struct CRC32CTests {
    @Test func knownVectors() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8]()) == 0)
        #expect(CRC32C.checksum(Array("a".utf8)) == 0xC1D0_4330)
        // RFC 3720 (iSCSI), appendix B.4.
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum((0..<32).map { UInt8($0) }) == 0x46DD_794E)
        #expect(CRC32C.checksum((0..<32).reversed().map { UInt8($0) }) == 0x113F_DB5C)
    }

    /// The eight-bytes-at-a-time path agrees with a bit-at-a-time reference at
    /// every length and alignment, and pieces chain.
    @Test func matchesBitwiseReferenceAndChains() {
        func reference(_ bytes: ArraySlice<UInt8>) -> UInt32 {
            var crc: UInt32 = 0xFFFF_FFFF
            for byte in bytes {
                crc ^= UInt32(byte)
                for _ in 0..<8 { crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
            }
            return ~crc
        }
        let data = StorageTestSupport.payload(7, size: 300)
        for start in 0..<9 {
            for end in stride(from: start, through: data.count, by: 13) {
                let slice = data[start..<end]
                #expect(CRC32C.checksum(slice) == reference(slice), "bytes \(start)..<\(end)")
                let split = (start + end) / 2
                #expect(CRC32C.update(CRC32C.checksum(data[start..<split]), data[split..<end]) == reference(slice))
            }
        }
    }
}
