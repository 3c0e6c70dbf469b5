/// A data file that cannot be read or understood, with the place to fix it.
///
/// `description` reads like a compiler diagnostic, for example
/// `ratings.csv:17: expected 4 fields separated by '::', found 2 ("1::2")`.
/// Errors about one line carry its 1-based physical line number (blank lines and
/// the header count) and quote a prefix of the line.
public struct DataError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is.
    public enum Code: String, Sendable, Hashable {
        /// The file is missing, is a folder, or cannot be opened, read or written.
        case io
        /// One line breaks the format (a bad number, a wrong field count…).
        case malformedLine
        /// The file as a whole is unusable: a header without a named column,
        /// or a format that cannot be told from the path and first line.
        case malformedFile
        /// A setting is out of range (synthetic spec) or data cannot be
        /// written as asked (a key without its raw id).
        case invalidArgument
    }

    public var code: Code
    /// The file as it was named (the path given to the reader), or a label such
    /// as `synthetic` for data that has no file.
    public var file: String
    /// The 1-based line number, or nil when the error is about the whole file.
    public var line: Int?
    /// What is wrong, in words a person can act on.
    public var message: String
    /// The underlying error, when another layer raised one (file I/O).
    public var cause: (any Error & Sendable)?

    public init(_ code: Code, file: String, line: Int? = nil, message: String, cause: (any Error & Sendable)? = nil) {
        self.code = code
        self.file = file
        self.line = line
        self.message = message
        self.cause = cause
    }

    public var description: String {
        let location = line.map { "\(file):\($0)" } ?? file
        return "\(location): \(message)"
    }

    /// The longest line prefix quoted in a message, in bytes.
    static let quoteLimit = 80

    /// `text` in double quotes, cut to `quoteLimit` bytes with a trailing `…`.
    static func quote(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        let cut = bytes.count > quoteLimit
        let prefix = UnsafeBufferPointer(rebasing: bytes[0..<min(bytes.count, quoteLimit)])
        // A cut may split a UTF-8 sequence; decoding replaces the fragment.
        let text = String(decoding: prefix, as: UTF8.self)
        return "(\"" + text + (cut ? "…" : "") + "\")"
    }
}
