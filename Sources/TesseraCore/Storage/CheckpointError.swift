/// A checkpoint that cannot be written or restored, naming the file and what is wrong.
///
/// `message` reads like `checkpoint shard-1/000003.inc: checksum mismatch at
/// block 7 (byte 1048620)`: the shard directory and file, then the problem.
/// Nothing has been applied to any live table when one of these is thrown.
public struct CheckpointError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        /// A file named by the manifest does not exist.
        case missing
        /// A file's contents fail a check: size, checksum, structure, or a manifest that does not parse.
        case corrupt
        /// The checkpoint is intact but does not fit: another shard id, shard
        /// count or table shape than the caller expects.
        case mismatch
        /// The caller asked for something impossible: a sequence not above the
        /// last one, a directory to write into that already holds a checkpoint.
        case invalidArgument
        /// Another checkpoint of the same shard is being written; retry after it.
        case busy
        /// A system call failed (open, write, fsync, rename…); `cause` says which.
        case io
    }

    public var code: Code
    /// What is wrong, starting with the file (`checkpoint shard-1/000003.inc: …`).
    public var message: String
    /// The file involved, when there is one.
    public var path: String?
    /// The underlying error (a `LogError` from a system call, a decoding error).
    public var cause: (any Error & Sendable)?

    public init(_ code: Code, _ message: String, path: String? = nil, cause: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.path = path
        self.cause = cause
    }

    public var description: String { message }

    /// An error about `path`, shown as its last two components (`shard-1/000003.inc`).
    static func file(_ code: Code, _ path: String, _ problem: String, cause: (any Error & Sendable)? = nil) -> CheckpointError {
        CheckpointError(code, "checkpoint \(CheckpointFormat.displayName(path)): \(problem)", path: path, cause: cause)
    }

    /// Wraps a storage-layer failure (`LogError(.io)`) about `path`.
    static func io(_ path: String, _ error: any Error) -> CheckpointError {
        if let error = error as? CheckpointError { return error }
        let text = (error as? LogError)?.message ?? "\(error)"
        return file(.io, path, text, cause: error)
    }
}
