#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The one place where the storage layer calls the C library: every failure
/// becomes a `LogError(.io)` naming the call and the file, with the errno as cause.
enum SystemCalls {
    /// Runs `body`, retrying on EINTR; a result of -1 throws.
    @discardableResult
    static func call<T: FixedWidthInteger>(_ name: String, path: String, _ body: () -> T) throws -> T {
        while true {
            let result = body()
            if result != -1 { return result }
            let code = errno
            if code == EINTR { continue }
            throw failure(name, path: path, errno: code)
        }
    }

    static func failure(_ name: String, path: String, errno code: Int32) -> LogError {
        LogError(
            .io, "\(name) \(path): \(errorText(code))", path: path,
            cause: SystemCallError(call: name, errno: code))
    }

    static func errorText(_ code: Int32) -> String {
        String(cString: strerror(code))
    }

    /// Flushes `file`'s data and metadata to stable storage.
    static func sync(_ fd: Int32, path: String) throws {
        #if canImport(Darwin)
        // On Darwin fsync(2) only reaches the drive's cache.
        try call("fcntl(F_FULLFSYNC)", path: path) { fcntl(fd, F_FULLFSYNC) }
        #else
        try call("fsync", path: path) { fsync(fd) }
        #endif
    }

    /// Makes the creation, removal and renaming of entries in `directory` durable.
    static func syncDirectory(_ directory: String) throws {
        let fd = try call("open", path: directory) { open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        defer { _ = close(fd) }
        try sync(fd, path: directory)
    }

    /// The parent directory of `path` ("." for a bare name).
    static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// The last component of `path`.
    static func lastComponent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }
}

/// An open file descriptor with exactly one owner; `deinit` closes it.
///
/// Reads and writes take explicit positions (pread/pwrite), so one descriptor
/// serves the writer and any number of concurrent readers.
final class FileDescriptor: Sendable {
    let fd: Int32
    let path: String

    /// Opens `path` with open(2) `flags` (O_CLOEXEC is added).
    init(path: String, flags: Int32, mode: mode_t = 0o644) throws {
        self.path = path
        fd = try SystemCalls.call("open", path: path) { open(path, flags | O_CLOEXEC, mode) }
    }

    deinit {
        _ = close(fd)
    }

    /// The file's current size in bytes.
    func size() throws -> Int64 {
        var info = stat()
        try SystemCalls.call("fstat", path: path) { fstat(fd, &info) }
        return Int64(info.st_size)
    }

    /// Reads up to `buffer.count` bytes at `position`; fewer only at end of file.
    func read(into buffer: UnsafeMutableRawBufferPointer, at position: Int64) throws -> Int {
        var done = 0
        while done < buffer.count {
            let n = try SystemCalls.call("pread", path: path) {
                pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(position + Int64(done)))
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// Writes all of `buffer` at `position`.
    func write(_ buffer: UnsafeRawBufferPointer, at position: Int64) throws {
        var done = 0
        while done < buffer.count {
            let n = try SystemCalls.call("pwrite", path: path) {
                pwrite(fd, buffer.baseAddress! + done, buffer.count - done, off_t(position + Int64(done)))
            }
            done += n
        }
    }

    func sync() throws {
        try SystemCalls.sync(fd, path: path)
    }

    func truncate(to size: Int64) throws {
        try SystemCalls.call("ftruncate", path: path) { ftruncate(fd, off_t(size)) }
    }

    /// Takes an exclusive flock(2) without waiting; false if someone else holds it.
    func tryLock() throws -> Bool {
        while flock(fd, LOCK_EX | LOCK_NB) == -1 {
            let code = errno
            if code == EINTR { continue }
            if code == EWOULDBLOCK { return false }
            throw SystemCalls.failure("flock", path: path, errno: code)
        }
        return true
    }
}
