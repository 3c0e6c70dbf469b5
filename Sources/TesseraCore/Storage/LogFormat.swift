/// The on-disk format of an `AppendLog`, version 1. Every integer is little-endian.
///
/// A log is one directory:
///
///     LOCK                          flock(2)ed while an AppendLog has the directory open
///     00000000000000000001.log      segments, named by the offset of their first record
///     00000000000000052841.log      (20 decimal digits); each begins where the last ended
///
/// A segment is a header, records, and — once the writer has moved on to the next
/// segment — a seal:
///
///     header  20 bytes   "TSLG" | version u32 = 1 | first offset u64 | CRC32C of those 16 bytes u32
///     record  12 + n     length n u32 | CRC32C(payload) u32 | CRC32C of the 8 bytes before u32 | payload
///     seal    20 bytes   0xFFFFFFFF u32 | CRC32C(next offset) u32 | CRC32C of the 8 bytes before u32
///                        | next offset u64 (the first offset of the next segment)
///
/// Records carry no offset: record k of a segment (from 0) has offset first + k.
/// The header checksum (third word) means a damaged length is caught before it is
/// trusted, and lets recovery search the rest of a segment for valid records in
/// linear time: a torn tail has none, corruption in the middle does.
///
/// A segment is sealed (and fsync'd) before the next one is created, so only the
/// last segment can have a torn tail, and the seals let `open` check that the
/// segments are contiguous without reading them.
enum LogFormat {
    static let magic: UInt32 = 0x474C_5354  // "TSLG" read as little-endian
    static let version: UInt32 = 1
    static let headerSize = 20
    static let recordHeaderSize = 12
    static let sealMarker: UInt32 = 0xFFFF_FFFF
    static let sealSize = 20
    /// The largest payload the format can describe.
    static let maxPayloadBytes = Int(UInt32.max - 1)
    static let segmentSuffix = ".log"

    /// `00000000000000000001.log` for `base` 1.
    static func segmentName(base: UInt64) -> String {
        let digits = String(base)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits + segmentSuffix
    }

    /// The first offset a segment file name stands for, or nil if `name` is not one.
    static func base(ofSegmentName name: String) -> UInt64? {
        guard name.hasSuffix(segmentSuffix) else { return nil }
        let digits = name.dropLast(segmentSuffix.count)
        guard digits.count == 20, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return UInt64(digits)
    }

    static func header(base: UInt64) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(headerSize)
        appendLE(magic, to: &bytes)
        appendLE(version, to: &bytes)
        appendLE(base, to: &bytes)
        appendLE(CRC32C.checksum(bytes), to: &bytes)
        return bytes
    }

    /// Appends the framed record for `payload` to `buffer`.
    static func appendRecord(_ payload: [UInt8], to buffer: inout [UInt8]) {
        appendFrame(length: UInt32(payload.count), payload: payload, to: &buffer)
    }

    /// Appends a seal saying the next segment begins at `nextOffset`.
    static func appendSeal(nextOffset: UInt64, to buffer: inout [UInt8]) {
        var payload: [UInt8] = []
        appendLE(nextOffset, to: &payload)
        appendFrame(length: sealMarker, payload: payload, to: &buffer)
    }

    private static func appendFrame(length: UInt32, payload: [UInt8], to buffer: inout [UInt8]) {
        let start = buffer.count
        appendLE(length, to: &buffer)
        appendLE(CRC32C.checksum(payload), to: &buffer)
        let headerCRC = buffer.withUnsafeBytes { CRC32C.update(0, UnsafeRawBufferPointer(rebasing: $0[start..<start + 8])) }
        appendLE(headerCRC, to: &buffer)
        buffer.append(contentsOf: payload)
    }

    static func appendLE<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    static func loadLE<T: FixedWidthInteger>(_ type: T.Type, from bytes: UnsafeRawBufferPointer, at index: Int) -> T {
        T(littleEndian: bytes.loadUnaligned(fromByteOffset: index, as: T.self))
    }
}

/// Every so many bytes, the offset and file position of a record, so a read can
/// start near its target instead of at the segment's first record.
struct SparseIndex: Sendable {
    private(set) var offsets: [UInt64] = []
    private(set) var positions: [Int64] = []

    /// Adds an entry; offsets must increase.
    mutating func append(offset: UInt64, position: Int64) {
        assert(offsets.last.map { $0 < offset } ?? true, "index offsets must increase")
        offsets.append(offset)
        positions.append(position)
    }

    mutating func append(contentsOf other: SparseIndex) {
        offsets.append(contentsOf: other.offsets)
        positions.append(contentsOf: other.positions)
    }

    /// The entry with the greatest offset not above `offset`.
    func floor(_ offset: UInt64) -> (offset: UInt64, position: Int64)? {
        var low = 0
        var high = offsets.count
        while low < high {
            let mid = (low + high) / 2
            if offsets[mid] <= offset { low = mid + 1 } else { high = mid }
        }
        return low == 0 ? nil : (offsets[low - 1], positions[low - 1])
    }
}
