/// A problem in a configuration file, located by file, line and key.
///
/// Its description reads like a compiler diagnostic:
/// `Cluster/local.yaml:12:5: tables[1].optimizer.kind: unknown value 'adamw' (expected one of: sgd, adagrad, adam, ftrl)`.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    /// The file, as the user named it.
    public var file: String
    /// 1-based line and column, when known.
    public var line: Int?
    public var column: Int?
    /// Dotted key path, e.g. `tables[1].optimizer.kind`; empty for the whole file.
    public var key: String
    public var message: String

    public init(file: String, line: Int? = nil, column: Int? = nil, key: String, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.key = key
        self.message = message
    }

    public var description: String {
        var location = file
        if let line {
            location += ":\(line)"
            if let column { location += ":\(column)" }
        }
        return key.isEmpty ? "\(location): \(message)" : "\(location): \(key): \(message)"
    }
}
