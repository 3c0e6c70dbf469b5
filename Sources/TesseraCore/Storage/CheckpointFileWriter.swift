import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes one checkpoint file atomically: blocks go to `.NAME.tmp` in the
/// target directory through a buffer; `commit` fsyncs it, renames it to `NAME`
/// and fsyncs the directory. A writer dropped without `commit` removes its
/// temp file.
///
/// Not thread-safe: one owner writes one file.
final class CheckpointFileWriter {
    let path: String
    let temporaryPath: String
    private var file: FileDescriptor?
    private var buffer: [UInt8] = []
    private var flushed: Int64 = 0
    private(set) var crc: UInt32 = 0
    private(set) var blocks = 0
    private var committed = false

    /// Creates (or truncates) the temp file of `path`, whose directory must exist.
    init(path: String) throws(CheckpointError) {
        self.path = path
        temporaryPath = SystemCalls.parent(of: path) + "/." + SystemCalls.lastComponent(of: path) + ".tmp"
        do {
            file = try FileDescriptor(path: temporaryPath, flags: O_WRONLY | O_CREAT | O_TRUNC)
        } catch {
            throw .io(temporaryPath, error)
        }
        buffer.reserveCapacity(CheckpointFormat.maxBlockBytes + 64 << 10)
    }

    deinit {
        if !committed {
            file = nil
            _ = unlink(temporaryPath)
        }
    }

    /// Bytes written so far.
    var size: Int64 { flushed + Int64(buffer.count) }

    /// Appends raw bytes (the magic).
    func write(raw bytes: [UInt8]) throws(CheckpointError) {
        buffer += bytes
        try flushIfFull()
    }

    /// Appends one block whose payload `fill` appends to the given array.
    func writeBlock(_ type: CheckpointFormat.BlockType, _ fill: (inout [UInt8]) -> Void) throws(CheckpointError) {
        let headerStart = buffer.count
        buffer += [UInt8](repeating: 0, count: CheckpointFormat.blockHeaderBytes)
        let payloadStart = buffer.count
        fill(&buffer)
        let length = buffer.count - payloadStart
        precondition(length <= CheckpointFormat.blockLimit, "checkpoint block of \(length) bytes is over the limit")
        let payloadCRC = buffer.withUnsafeBytes { CRC32C.update(0, UnsafeRawBufferPointer(rebasing: $0[payloadStart...])) }
        buffer.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: type.rawValue.littleEndian, toByteOffset: headerStart, as: UInt32.self)
            raw.storeBytes(of: UInt32(length).littleEndian, toByteOffset: headerStart + 4, as: UInt32.self)
            raw.storeBytes(of: payloadCRC.littleEndian, toByteOffset: headerStart + 8, as: UInt32.self)
            let headerCRC = CRC32C.update(0, UnsafeRawBufferPointer(rebasing: raw[headerStart..<headerStart + 12]))
            raw.storeBytes(of: headerCRC.littleEndian, toByteOffset: headerStart + 12, as: UInt32.self)
        }
        blocks += 1
        try flushIfFull()
    }

    /// Appends a block whose payload is `value` as JSON.
    func writeJSONBlock(_ type: CheckpointFormat.BlockType, _ value: some Encodable) throws(CheckpointError) {
        let data: Data
        do {
            data = try CheckpointFormat.jsonEncoder().encode(value)
        } catch {
            throw .file(.invalidArgument, path, "cannot encode the \(type.name) block: \(error)")
        }
        try writeBlock(type) { $0 += data }
    }

    /// Flushes, fsyncs, renames the temp file to `path` and fsyncs the directory.
    /// Returns the file's size and CRC-32C.
    func commit() throws(CheckpointError) -> (bytes: Int64, crc32c: UInt32) {
        try flush()
        do {
            try file?.sync()
            file = nil
            try SystemCalls.call("rename", path: path) { rename(temporaryPath, path) }
            committed = true
            try SystemCalls.syncDirectory(SystemCalls.parent(of: path))
        } catch {
            throw .io(path, error)
        }
        return (flushed, crc)
    }

    private func flushIfFull() throws(CheckpointError) {
        if buffer.count >= CheckpointFormat.maxBlockBytes { try flush() }
    }

    private func flush() throws(CheckpointError) {
        guard !buffer.isEmpty, let file else { return }
        do {
            try buffer.withUnsafeBytes { bytes in
                crc = CRC32C.update(crc, bytes)
                try file.write(bytes, at: flushed)
            }
        } catch {
            throw .io(temporaryPath, error)
        }
        flushed += Int64(buffer.count)
        buffer.removeAll(keepingCapacity: true)
    }
}

extension Array where Element == UInt8 {
    /// Appends the in-memory (little-endian) bytes of `values`.
    mutating func appendBytes<T: BitwiseCopyable>(of values: UnsafeBufferPointer<T>) {
        append(contentsOf: UnsafeRawBufferPointer(values))
    }

    mutating func appendLittleEndian(_ value: UInt32) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }
}

extension CheckpointFileWriter {
    /// Appends rows blocks for `keys` and their whole rows (`width` floats each),
    /// splitting so each block's payload stays near `maxBlockBytes`.
    func writeRows(keys: UnsafeBufferPointer<UInt64>, rows: UnsafeBufferPointer<Float>, width: Int) throws(CheckpointError) {
        precondition(rows.count == keys.count * width, "rows must hold keys.count * width floats")
        let perRow = 8 + 4 * width
        let rowsPerBlock = max(1, CheckpointFormat.maxBlockBytes / perRow)
        var start = 0
        while start < keys.count {
            let end = min(start + rowsPerBlock, keys.count)
            try writeBlock(.rows) { payload in
                payload.appendLittleEndian(UInt32(end - start))
                payload.appendLittleEndian(UInt32(width))
                payload.appendBytes(of: UnsafeBufferPointer(rebasing: keys[start..<end]))
                payload.appendBytes(of: UnsafeBufferPointer(rebasing: rows[start * width..<end * width]))
            }
            start = end
        }
    }

    /// Appends removed blocks for `keys`.
    func writeRemoved(keys: [UInt64]) throws(CheckpointError) {
        let perBlock = CheckpointFormat.maxBlockBytes / 8
        var start = 0
        while start < keys.count {
            let end = min(start + perBlock, keys.count)
            try writeBlock(.removed) { payload in
                payload.appendLittleEndian(UInt32(end - start))
                keys[start..<end].withUnsafeBufferPointer { payload.appendBytes(of: $0) }
            }
            start = end
        }
    }
}
