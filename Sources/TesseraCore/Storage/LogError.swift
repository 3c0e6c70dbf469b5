/// A failure of the storage layer (`AppendLog`, `DurableState`), with the file
/// and place to look at.
///
/// `message` names the file and, for damaged data, the byte position and record
/// offset, and says what to do. The structured fields carry the same facts for
/// code that wants to react to them.
public struct LogError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        /// A system call failed (open, write, fsync, rename…); `cause` holds the errno.
        case io
        /// Stored data fails its checks: a bad checksum with valid records after
        /// it, a missing or misnamed segment, a state file that does not decode.
        case corrupt
        /// Too many appends are waiting for the disk; retry later
        /// (servers answer RESOURCE_EXHAUSTED).
        case overloaded
        /// The log was closed, or a write or fsync failed and the log stopped
        /// accepting appends (reopen it to recover).
        case closed
        /// Another `AppendLog` (in this or another process) holds the directory.
        case locked
        /// The caller asked for something impossible: an empty append, a record
        /// over `maxRecordBytes`, a setting out of range.
        case invalidArgument
        /// A read asked for an offset before the first record the log still holds.
        case outOfRange
    }

    public var code: Code
    /// What went wrong and what to do, naming the file and place.
    public var message: String
    /// The file involved, when there is one.
    public var path: String?
    /// The byte position within `path` of the damage, when known.
    public var position: Int64?
    /// The record offset at `position`, when known.
    public var offset: UInt64?
    /// The underlying error (a `SystemCallError`, a decoding error).
    public var cause: (any Error & Sendable)?

    public init(
        _ code: Code, _ message: String, path: String? = nil, position: Int64? = nil,
        offset: UInt64? = nil, cause: (any Error & Sendable)? = nil
    ) {
        self.code = code
        self.message = message
        self.path = path
        self.position = position
        self.offset = offset
        self.cause = cause
    }

    public var description: String {
        "\(code): \(message)"
    }
}

/// A system call that failed, with its errno.
public struct SystemCallError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The call, such as `fsync`.
    public var call: String
    public var errno: Int32

    public init(call: String, errno: Int32) {
        self.call = call
        self.errno = errno
    }

    public var description: String {
        "\(call): \(SystemCalls.errorText(errno)) (errno \(errno))"
    }
}
