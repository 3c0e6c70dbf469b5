#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads the blocks of one checkpoint file in order, checking each block's
/// header and payload checksums and, at the end, the whole file's size and
/// CRC-32C against what the manifest recorded.
///
/// Every failure is a `CheckpointError` naming the file and block
/// (`checkpoint shard-1/000003.inc: checksum mismatch at block 7 (byte …)`).
/// Not thread-safe: one owner reads one file.
struct CheckpointFileReader {
    let path: String
    let size: Int64
    private let file: FileDescriptor
    private var position: Int64 = 0
    private var crc: UInt32 = 0
    /// Index of the next block.
    private(set) var blockIndex = 0

    /// Opens `path` and checks its size and magic. `expectedSize` comes from the manifest.
    init(path: String, expectedSize: Int64) throws(CheckpointError) {
        self.path = path
        do {
            file = try FileDescriptor(path: path, flags: O_RDONLY)
        } catch let error as LogError where (error.cause as? SystemCallError)?.errno == ENOENT {
            throw .file(.missing, path, "file is missing (the manifest lists it)", cause: error)
        } catch {
            throw .io(path, error)
        }
        do {
            size = try file.size()
        } catch {
            throw .io(path, error)
        }
        if size != expectedSize {
            let what = size < expectedSize ? "truncated" : "longer than recorded"
            throw .file(.corrupt, path, "\(what): \(size) bytes, the manifest records \(expectedSize)")
        }
        let magic = try read(CheckpointFormat.magic.count, what: "the file header")
        guard magic == CheckpointFormat.magic else {
            throw .file(.corrupt, path, "not a Tessera checkpoint file (bad magic bytes)")
        }
    }

    /// The next block's type and payload, or nil after the last byte.
    mutating func next() throws(CheckpointError) -> (type: CheckpointFormat.BlockType, payload: [UInt8])? {
        guard position < size else { return nil }
        let start = position, index = blockIndex
        let header = try read(CheckpointFormat.blockHeaderBytes, what: "the header of block \(index)")
        let word = { (i: Int) -> UInt32 in
            header.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)) }
        }
        guard CRC32C.checksum(header[0..<12]) == word(3) else {
            throw .file(.corrupt, path, "checksum mismatch in the header of block \(index) (byte \(start))")
        }
        guard let type = CheckpointFormat.BlockType(rawValue: word(0)) else {
            throw .file(.corrupt, path, "unknown block type \(word(0)) at block \(index) (byte \(start))")
        }
        let length = Int(word(1))
        guard length <= CheckpointFormat.blockLimit, Int64(length) <= size - position else {
            throw .file(.corrupt, path, "block \(index) claims \(length) payload bytes, more than the \(size - position) left")
        }
        let payload = try read(length, what: "block \(index)")
        guard CRC32C.checksum(payload) == word(2) else {
            throw .file(.corrupt, path, "checksum mismatch at block \(index) (\(type.name), byte \(start))")
        }
        blockIndex += 1
        return (type, payload)
    }

    /// Checks the whole file's CRC-32C once every block was read.
    func verifyChecksum(_ expected: UInt32) throws(CheckpointError) {
        precondition(position == size, "verify after reading every block")
        guard crc == expected else {
            throw .file(.corrupt, path, "file checksum mismatch: CRC-32C \(hex(crc)), the manifest records \(hex(expected))")
        }
    }

    private mutating func read(_ count: Int, what: String) throws(CheckpointError) -> [UInt8] {
        guard Int64(count) <= size - position else {
            throw .file(.corrupt, path, "truncated in \(what): needs \(count) bytes at byte \(position), the file ends at \(size)")
        }
        var bytes = [UInt8](repeating: 0, count: count)
        let got: Int
        do {
            got = try bytes.withUnsafeMutableBytes { try file.read(into: $0, at: position) }
        } catch {
            throw .io(path, error)
        }
        guard got == count else {
            throw .file(.corrupt, path, "ended at byte \(position + Int64(got)) while reading \(what); was it truncated meanwhile?")
        }
        crc = CRC32C.update(crc, bytes)
        position += Int64(count)
        return bytes
    }
}

func hex(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
}
