import Foundation

/// Reads a file in chunks and hands out its lines as byte buffers, without
/// building a `String` per line or holding the whole file.
///
/// Lines end at `\n`; a `\r` before it is dropped, and a last line without a
/// newline is still a line. A UTF-8 byte-order mark at the start is dropped.
/// The buffer given to `body` is valid only during that call.
enum LineReader {
    static let chunkSize = 1 << 20

    /// Calls `body(lineNumber, bytes)` for every line, line numbers from 1.
    static func forEachLine(
        path: String,
        _ body: (Int, UnsafeBufferPointer<UInt8>) throws -> Void
    ) throws {
        let handle = try open(path)
        defer { try? handle.close() }

        var buffer: [UInt8] = []
        buffer.reserveCapacity(chunkSize * 2)
        var lineNumber = 0
        var atStart = true
        while true {
            let chunk: Data?
            do {
                chunk = try handle.read(upToCount: chunkSize)
            } catch {
                throw DataError(.io, file: path, message: "cannot read: \(error.localizedDescription)", cause: error)
            }
            guard let chunk, !chunk.isEmpty else { break }
            buffer.append(contentsOf: chunk)
            if atStart, buffer.count >= 3 {
                if buffer[0] == 0xEF, buffer[1] == 0xBB, buffer[2] == 0xBF {
                    buffer.removeFirst(3)
                }
                atStart = false
            }
            let consumed = try buffer.withUnsafeBufferPointer { bytes -> Int in
                var lineStart = 0
                var index = 0
                let count = bytes.count
                while index < count {
                    if bytes[index] == UInt8(ascii: "\n") {
                        lineNumber += 1
                        try body(lineNumber, line(bytes, lineStart, index))
                        lineStart = index + 1
                    }
                    index += 1
                }
                return lineStart
            }
            buffer.removeFirst(consumed)
        }
        if atStart, buffer.starts(with: [0xEF, 0xBB, 0xBF]) {
            buffer.removeFirst(3)
        }
        if !buffer.isEmpty {
            lineNumber += 1
            try buffer.withUnsafeBufferPointer { bytes in
                try body(lineNumber, line(bytes, 0, bytes.count))
            }
        }
    }

    /// `bytes[start..<end]` without a trailing `\r`.
    @inline(__always)
    private static func line(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> UnsafeBufferPointer<UInt8> {
        var end = end
        if end > start, bytes[end - 1] == UInt8(ascii: "\r") {
            end -= 1
        }
        return UnsafeBufferPointer(rebasing: bytes[start..<end])
    }

    private static func open(_ path: String) throws -> FileHandle {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw DataError(.io, file: path, message: "no such file")
        }
        guard !isDirectory.boolValue else {
            throw DataError(.io, file: path, message: "is a directory, not a data file")
        }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw DataError(.io, file: path, message: "cannot open for reading (permissions?)")
        }
        return handle
    }
}
