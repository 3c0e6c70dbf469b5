import Foundation

/// Samples read from Prometheus text exposition format (version 0.0.4): what a
/// `/metrics` scrape returns, and what `tessera report` reads back from a run.
public struct PrometheusText: Sendable {
    public struct Sample: Sendable, Equatable {
        public var name: String
        public var labels: [String: String]
        public var value: Double
    }

    public private(set) var samples: [Sample] = []
    /// `# TYPE` lines: metric family name to "counter", "gauge", "histogram", ….
    public private(set) var types: [String: String] = [:]

    /// Parses `text`; throws on a line that is not a comment, blank or a sample.
    public init(parsing text: String) throws {
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty { continue }
            if line.hasPrefix("#") {
                let parts = line.split(separator: " ", maxSplits: 3).map(String.init)
                if parts.count >= 4, parts[1] == "TYPE" { types[parts[2]] = parts[3] }
                continue
            }
            guard let sample = Self.sample(line) else {
                throw ObservabilityError("line \(number + 1) is not a Prometheus sample: \(line)")
            }
            samples.append(sample)
        }
    }

    /// Samples named `name` whose labels include `labels`.
    public func samples(_ name: String, where labels: [String: String] = [:]) -> [Sample] {
        samples.filter { sample in sample.name == name && labels.allSatisfy { sample.labels[$0.key] == $0.value } }
    }

    /// The one value of `name` with `labels` (the sum when several match); nil when none does.
    public func value(_ name: String, where labels: [String: String] = [:]) -> Double? {
        let matching = samples(name, where: labels)
        return matching.isEmpty ? nil : matching.reduce(0) { $0 + $1.value }
    }

    /// A histogram's cumulative buckets (upper bound, count), ascending, `+Inf` last.
    public func buckets(_ name: String, where labels: [String: String] = [:]) -> [(upperBound: Double, count: Double)] {
        samples(name + "_bucket", where: labels).compactMap { sample in
            guard let le = sample.labels["le"], let bound = le == "+Inf" ? Double.infinity : Double(le) else { return nil }
            return (bound, sample.value)
        }.sorted { $0.upperBound < $1.upperBound }
    }

    private static func sample(_ line: String) -> Sample? {
        var name = ""
        var labels: [String: String] = [:]
        var rest = Substring(line)
        if let brace = line.firstIndex(of: "{") {
            name = String(line[..<brace])
            var index = line.index(after: brace)
            while index < line.endIndex, line[index] != "}" {
                guard let equals = line[index...].firstIndex(of: "=") else { return nil }
                let key = line[index..<equals].trimmingCharacters(in: .whitespaces.union(.init(charactersIn: ",")))
                var cursor = line.index(after: equals)
                guard cursor < line.endIndex, line[cursor] == "\"" else { return nil }
                cursor = line.index(after: cursor)
                var value = ""
                while cursor < line.endIndex, line[cursor] != "\"" {
                    if line[cursor] == "\\", line.index(after: cursor) < line.endIndex {
                        cursor = line.index(after: cursor)
                        value.append(line[cursor] == "n" ? "\n" : line[cursor])
                    } else {
                        value.append(line[cursor])
                    }
                    cursor = line.index(after: cursor)
                }
                guard cursor < line.endIndex else { return nil }
                labels[key] = value
                index = line.index(after: cursor)
                while index < line.endIndex, line[index] == "," || line[index] == " " { index = line.index(after: index) }
            }
            guard index < line.endIndex else { return nil }
            rest = line[line.index(after: index)...]
        } else {
            guard let space = line.firstIndex(of: " ") else { return nil }
            name = String(line[..<space])
            rest = line[space...]
        }
        let fields = rest.split(separator: " ")
        guard !name.isEmpty, let first = fields.first else { return nil }
        let text = String(first)
        let value: Double? = switch text {
        case "+Inf": .infinity
        case "-Inf": -.infinity
        case "NaN": .nan
        default: Double(text)
        }
        guard let value else { return nil }
        return Sample(name: name, labels: labels, value: value)
    }
}
