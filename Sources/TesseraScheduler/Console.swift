import Foundation

/// Progress lines for the person watching a run: plain text on standard output,
/// one line per event, flushed at once.
public struct Console: Sendable {
    public var enabled: Bool

    public init(enabled: Bool = true) {
        self.enabled = enabled
    }

    public func line(_ text: String) {
        guard enabled else { return }
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }
}

/// Number formatting for progress lines.
enum Format {
    static func metric(_ value: Double?) -> String {
        guard let value else { return "-" }
        return String(format: "%.4f", value)
    }

    static func seconds(_ value: Double) -> String {
        value < 10 ? String(format: "%.2f s", value) : String(format: "%.1f s", value)
    }

    /// `value` bytes in KB, MB or GB (powers of 1000).
    static func bytes(_ value: Double) -> String {
        switch value {
        case ..<1e3: String(format: "%.0f B", value)
        case ..<1e6: String(format: "%.1f KB", value / 1e3)
        case ..<1e9: String(format: "%.1f MB", value / 1e6)
        default: String(format: "%.2f GB", value / 1e9)
        }
    }

    static func count(_ value: Double) -> String {
        let rounded = Int(value.rounded())
        var digits = String(abs(rounded))
        var groups: [Substring] = []
        while digits.count > 3 {
            groups.insert(digits.suffix(3), at: 0)
            digits = String(digits.dropLast(3))
        }
        groups.insert(Substring(digits), at: 0)
        return (rounded < 0 ? "-" : "") + groups.joined(separator: ",")
    }

    static func metrics(_ metrics: [String: Double], k: Int, keys: [String] = ["recall", "ndcg", "hit", "mrr", "precision"]) -> String {
        keys.compactMap { key in metrics["\(key)@\(k)"].map { "\(key)@\(k) \(metric($0))" } }.joined(separator: "  ")
    }
}
