import Foundation
import Yams

/// A YAML node with its location, for reading settings with precise errors.
///
/// Readers walk the document with typed accessors; each failure names the
/// file, line and key. Mappings remember which keys were read, and
/// `rejectUnknownKeys()` turns a misspelt key into an error instead of a
/// silently ignored setting.
public final class ConfigNode {
    public let file: String
    public let path: String
    let node: Yams.Node
    /// Key paths whose values came from the command line rather than the file.
    let overridden: Set<String>
    private var readKeys: Set<String> = []

    init(file: String, path: String, node: Yams.Node, overridden: Set<String> = []) {
        self.file = file
        self.path = path
        self.node = node
        self.overridden = overridden
    }

    /// Parses `text` (the contents of `file`) into its root node.
    public static func parse(_ text: String, file: String) throws(ConfigError) -> ConfigNode {
        let root: Yams.Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw ConfigError(file: file, key: "", message: "not valid YAML: \(Self.describe(error))")
        }
        guard let root else {
            return ConfigNode(file: file, path: "", node: .mapping(Node.Mapping([])))
        }
        return ConfigNode(file: file, path: "", node: root)
    }

    /// Reads and parses a file.
    public static func load(path: String) throws(ConfigError) -> ConfigNode {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError(file: path, key: "", message: "cannot read the config file: \(error.localizedDescription)")
        }
        return try parse(text, file: path)
    }

    /// An error located at this node.
    public func error(_ message: String) -> ConfigError {
        error(message, at: path, mark: node.mark)
    }

    /// An error at `path`, located in the file or, for a command-line override, on the command line.
    private func error(_ message: String, at path: String, mark: Mark?) -> ConfigError {
        if overridden.contains(where: { path == $0 || path.hasPrefix($0 + ".") || path.hasPrefix($0 + "[") }) {
            return ConfigError(file: "--set \(path) on the command line", key: path, message: message)
        }
        return ConfigError(file: file, line: mark?.line, column: mark?.column, key: path, message: message)
    }

    // MARK: Mappings

    private func mapping() throws(ConfigError) -> Node.Mapping {
        guard let mapping = node.mapping else {
            throw error("expected a mapping of keys to values, found \(kindDescription)")
        }
        return mapping
    }

    /// The keys present in this mapping, in file order.
    public func keys() throws(ConfigError) -> [String] {
        try mapping().keys.compactMap(\.string)
    }

    /// The child under `key`, or nil when absent or null.
    public func child(_ key: String) throws(ConfigError) -> ConfigNode? {
        let mapping = try mapping()
        readKeys.insert(key)
        guard let value = mapping[key], !Self.isNull(value) else { return nil }
        return ConfigNode(file: file, path: path.isEmpty ? key : "\(path).\(key)", node: value, overridden: overridden)
    }

    /// Fails on any key that no accessor asked for, suggesting the closest known key.
    public func rejectUnknownKeys() throws(ConfigError) {
        for (keyNode, _) in try mapping() {
            guard let key = keyNode.string, !readKeys.contains(key) else { continue }
            let known = readKeys.sorted()
            var message = "unknown key '\(key)'"
            if let suggestion = Self.closest(to: key, among: known) {
                message += " (did you mean '\(suggestion)'?)"
            } else if !known.isEmpty {
                message += " (known keys: \(known.joined(separator: ", ")))"
            }
            let fullPath = path.isEmpty ? key : "\(path).\(key)"
            if overridden.contains(where: { $0 == fullPath || $0.hasPrefix(fullPath + ".") || $0.hasPrefix(fullPath + "[") }) {
                throw ConfigError(file: "--set on the command line", key: fullPath, message: message)
            }
            throw error(message, at: fullPath, mark: keyNode.mark)
        }
    }

    // MARK: Scalars

    /// This node as a string scalar.
    public func string() throws(ConfigError) -> String {
        guard let scalar = node.scalar else { throw error("expected a string, found \(kindDescription)") }
        return scalar.string
    }

    /// This node as an integer within `range`.
    public func int(in range: ClosedRange<Int> = Int.min...Int.max) throws(ConfigError) -> Int {
        guard let value = node.int else { throw error("expected an integer, found \(valueDescription)") }
        guard range.contains(value) else { throw error("\(value) is out of range (\(Self.describe(range)))") }
        return value
    }

    /// This node as a number within `range`.
    public func double(in range: ClosedRange<Double> = -Double.greatestFiniteMagnitude...Double.greatestFiniteMagnitude) throws(ConfigError) -> Double {
        guard let value = node.float, value.isFinite else { throw error("expected a number, found \(valueDescription)") }
        guard range.contains(value) else { throw error("\(value) is out of range (\(range.lowerBound)...\(range.upperBound))") }
        return value
    }

    /// This node as a boolean (`true`/`false`).
    public func bool() throws(ConfigError) -> Bool {
        guard let value = node.bool else { throw error("expected true or false, found \(valueDescription)") }
        return value
    }

    /// This node as one of `choices`.
    public func choice(_ choices: [String]) throws(ConfigError) -> String {
        let value = try string()
        guard choices.contains(value) else {
            throw error("unknown value '\(value)' (expected one of: \(choices.joined(separator: ", ")))")
        }
        return value
    }

    /// This node as a sequence of nodes.
    public func sequence() throws(ConfigError) -> [ConfigNode] {
        guard let sequence = node.sequence else { throw error("expected a list, found \(kindDescription)") }
        return sequence.enumerated().map { ConfigNode(file: file, path: "\(path)[\($0.offset)]", node: $0.element, overridden: overridden) }
    }

    // MARK: Keyed conveniences

    public func string(_ key: String, default value: String) throws(ConfigError) -> String {
        try child(key)?.string() ?? value
    }

    public func int(_ key: String, default value: Int, in range: ClosedRange<Int> = Int.min...Int.max) throws(ConfigError) -> Int {
        try child(key)?.int(in: range) ?? value
    }

    public func double(_ key: String, default value: Double,
                       in range: ClosedRange<Double> = -Double.greatestFiniteMagnitude...Double.greatestFiniteMagnitude) throws(ConfigError) -> Double {
        try child(key)?.double(in: range) ?? value
    }

    public func bool(_ key: String, default value: Bool) throws(ConfigError) -> Bool {
        try child(key)?.bool() ?? value
    }

    public func choice(_ key: String, _ choices: [String], default value: String) throws(ConfigError) -> String {
        try child(key)?.choice(choices) ?? value
    }

    // MARK: Helpers

    private static func isNull(_ node: Node) -> Bool {
        if case .scalar(let scalar) = node, scalar.style == .plain {
            return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
        }
        return false
    }

    private var kindDescription: String {
        switch node {
        case .scalar(let scalar): "'\(scalar.string)'"
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        }
    }

    private var valueDescription: String { kindDescription }

    private static func describe(_ range: ClosedRange<Int>) -> String {
        switch (range.lowerBound == Int.min, range.upperBound == Int.max) {
        case (true, true): "any integer"
        case (false, true): "must be at least \(range.lowerBound)"
        case (true, false): "must be at most \(range.upperBound)"
        case (false, false): "must be \(range.lowerBound)...\(range.upperBound)"
        }
    }

    private static func describe(_ error: any Error) -> String {
        if let yaml = error as? YamlError {
            // Yams' description embeds the whole document; keep the first line.
            return String(describing: yaml).split(separator: "\n").first.map(String.init) ?? "\(yaml)"
        }
        return "\(error)"
    }

    /// The known key within edit distance 2 of `key`, if any.
    static func closest(to key: String, among known: [String]) -> String? {
        known.map { ($0, editDistance(key, $0)) }
            .filter { $0.1 <= 2 }
            .min { $0.1 < $1.1 }?.0
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
