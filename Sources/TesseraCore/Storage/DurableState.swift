import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A small file that is replaced atomically and durably: consumer offsets, job
/// state. Readers see the old contents or the new, never a mix, even across a
/// crash or power loss.
///
/// `save` writes `.<name>.tmp` in the same directory, fsyncs it, renames it over
/// `path`, and fsyncs the directory. A temp file left by a crash is never read
/// and is overwritten by the next save.
///
/// Thread safety: saves through one instance are serialized; loads may run at
/// any time. Use one instance per path (two instances, or two processes, saving
/// the same path at once would share the temp file).
public final class DurableState: Sendable {
    public let path: String
    private let saving = Mutex(())

    /// `path`'s directory must exist.
    public init(path: String) {
        self.path = path
    }

    var temporaryPath: String {
        let directory = SystemCalls.parent(of: path)
        return directory + "/." + SystemCalls.lastComponent(of: path) + ".tmp"
    }

    /// Saves `value` as JSON (sorted keys), replacing the previous contents.
    public func save<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        let data: Data
        do {
            data = try encoder.encode(value)
        } catch {
            throw LogError(.invalidArgument, "cannot encode \(T.self) for \(path): \(error)", path: path)
        }
        try saveBytes(Array(data) + [0x0A])
    }

    /// The value last saved, or nil if nothing was ever saved. Throws `.corrupt`
    /// if the file does not decode as `T`.
    public func load<T: Decodable>(_ type: T.Type = T.self) throws -> T? {
        guard let bytes = try loadBytes() else { return nil }
        do {
            return try JSONDecoder().decode(T.self, from: Data(bytes))
        } catch {
            throw LogError(
                .corrupt, "\(path) does not hold a valid \(T.self): \(error)", path: path, cause: error)
        }
    }

    /// Replaces the file's contents with `bytes`, atomically and durably.
    public func saveBytes(_ bytes: [UInt8]) throws {
        try saving.withLock { _ in
            let temporary = temporaryPath
            do {
                let file = try FileDescriptor(path: temporary, flags: O_WRONLY | O_CREAT | O_TRUNC)
                try bytes.withUnsafeBytes { try file.write($0, at: 0) }
                try file.sync()
            } catch {
                _ = unlink(temporary)
                throw error
            }
            do {
                try SystemCalls.call("rename", path: path) { rename(temporary, path) }
            } catch {
                _ = unlink(temporary)
                throw error
            }
            try SystemCalls.syncDirectory(SystemCalls.parent(of: path))
        }
    }

    /// The file's contents, or nil if it does not exist.
    public func loadBytes() throws -> [UInt8]? {
        let file: FileDescriptor
        do {
            file = try FileDescriptor(path: path, flags: O_RDONLY)
        } catch let error as LogError where (error.cause as? SystemCallError)?.errno == ENOENT {
            return nil
        }
        let size = Int(try file.size())
        var bytes = [UInt8](repeating: 0, count: size)
        let got = try bytes.withUnsafeMutableBytes { try file.read(into: $0, at: 0) }
        return Array(bytes.prefix(got))
    }

    /// Deletes the file (and a leftover temp file); nothing if there is none.
    public func remove() throws {
        try saving.withLock { _ in
            _ = unlink(temporaryPath)
            if unlink(path) == -1 && errno != ENOENT {
                throw SystemCalls.failure("unlink", path: path, errno: errno)
            }
            try SystemCalls.syncDirectory(SystemCalls.parent(of: path))
        }
    }
}
