/// A sliding window over a file for parsing records: `ensure` loads the bytes a
/// parser needs next, reading ahead, and the accessors read from the loaded
/// window. Never reads at or beyond `limit`.
///
/// The read-ahead starts at `readAhead` and doubles with every refill up to
/// `maxReadAhead`, so a short read costs little and a long one few system calls.
struct FileWindow {
    let file: FileDescriptor
    /// The first byte position that is not to be read (the durable or file end).
    let limit: Int64
    private var readAhead: Int
    private let maxReadAhead: Int
    private(set) var start: Int64 = 0
    private var bytes: [UInt8] = []

    init(file: FileDescriptor, limit: Int64, readAhead: Int, maxReadAhead: Int? = nil) {
        self.file = file
        self.limit = limit
        self.readAhead = max(readAhead, 64)
        self.maxReadAhead = max(maxReadAhead ?? readAhead, self.readAhead)
    }

    /// Loads `[position, position + count)`; false if that runs past `limit`.
    mutating func ensure(_ position: Int64, _ count: Int) throws -> Bool {
        if position >= start && position + Int64(count) <= start + Int64(bytes.count) { return true }
        guard position >= 0, position + Int64(count) <= limit else { return false }
        let size = Int(min(limit - position, Int64(max(count, readAhead))))
        readAhead = min(readAhead * 2, maxReadAhead)
        if bytes.count != size { bytes = [UInt8](repeating: 0, count: size) }
        let got = try bytes.withUnsafeMutableBytes { try file.read(into: $0, at: position) }
        start = position
        guard got == size else {
            bytes.removeAll()
            throw LogError(
                .io, "\(file.path) ended at byte \(position + Int64(got)) while reading up to byte \(position + Int64(size)); was it truncated by another program?",
                path: file.path, position: position + Int64(got))
        }
        return true
    }

    /// A little-endian integer at `position`; `ensure` must have covered it.
    func load<T: FixedWidthInteger>(_ type: T.Type, at position: Int64) -> T {
        bytes.withUnsafeBytes { LogFormat.loadLE(type, from: $0, at: Int(position - start)) }
    }

    /// The CRC-32C of `count` bytes at `position`; `ensure` must have covered them.
    func checksum(at position: Int64, count: Int) -> UInt32 {
        let from = Int(position - start)
        return bytes.withUnsafeBytes { CRC32C.update(0, UnsafeRawBufferPointer(rebasing: $0[from..<from + count])) }
    }

    /// A copy of `count` bytes at `position`; `ensure` must have covered them.
    func copy(at position: Int64, count: Int) -> [UInt8] {
        let from = Int(position - start)
        return Array(bytes[from..<from + count])
    }
}

/// One framed entry as the parser sees it.
enum LogFrame {
    /// A record whose header checksum holds; `payloadCRC` is still to be checked.
    case record(length: Int, payloadCRC: UInt32)
    /// A seal with a valid checksum.
    case seal(nextOffset: UInt64)
    /// Fewer than a header's bytes remain.
    case partialHeader(available: Int64)
    /// The header checksum fails.
    case badHeader
    /// The header holds but the payload runs past the end.
    case partialPayload(length: Int, available: Int64)
    /// The seal's payload checksum fails.
    case badSeal
}

extension LogFrame: CustomStringConvertible {
    var description: String {
        switch self {
        case .record(let length, _): "a record of \(length) bytes"
        case .seal(let next): "a seal (next offset \(next))"
        case .partialHeader(let available): "a partial record header (\(available) of \(LogFormat.recordHeaderSize) bytes)"
        case .badHeader: "a record header whose checksum fails"
        case .partialPayload(let length, let available): "a record of \(length) bytes cut short (\(available) bytes present)"
        case .badSeal: "a seal whose checksum fails"
        }
    }
}

extension FileWindow {
    /// Parses the frame header at `position` (and a seal's payload).
    mutating func frame(at position: Int64) throws -> LogFrame {
        guard try ensure(position, LogFormat.recordHeaderSize) else {
            return .partialHeader(available: limit - position)
        }
        let length = load(UInt32.self, at: position)
        let payloadCRC = load(UInt32.self, at: position + 4)
        guard load(UInt32.self, at: position + 8) == checksum(at: position, count: 8) else { return .badHeader }
        let available = limit - position - Int64(LogFormat.recordHeaderSize)
        if length == LogFormat.sealMarker {
            guard try ensure(position, LogFormat.sealSize) else { return .partialPayload(length: 8, available: available) }
            guard checksum(at: position + 12, count: 8) == payloadCRC else { return .badSeal }
            return .seal(nextOffset: load(UInt64.self, at: position + 12))
        }
        guard Int64(length) <= available else { return .partialPayload(length: Int(length), available: available) }
        return .record(length: Int(length), payloadCRC: payloadCRC)
    }

    /// Whether a whole, valid record or seal starts at `position`.
    mutating func validFrame(at position: Int64) throws -> Bool {
        switch try frame(at: position) {
        case .seal:
            return true
        case .record(let length, let payloadCRC):
            guard try ensure(position, LogFormat.recordHeaderSize + length) else { return false }
            return checksum(at: position + Int64(LogFormat.recordHeaderSize), count: length) == payloadCRC
        default:
            return false
        }
    }
}
