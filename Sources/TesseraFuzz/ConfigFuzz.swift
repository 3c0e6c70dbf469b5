import Foundation
import TesseraCore

/// YAML text → `ClusterConfig`, as `tessera launch` and the scheduler read it.
///
/// Lines `#set key=value` (YAML comments) also become command-line overrides,
/// so the override path (`ConfigOverride(parsing:)`, `withOverrides`) is fuzzed too.
/// A config that parses is encoded and decoded as JSON, as the scheduler sends it to members.
enum ConfigFuzz {
    static func run(_ input: [UInt8]) {
        let text = String(decoding: input, as: UTF8.self)
        var overrides: [ConfigOverride] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) where line.hasPrefix("#set ") {
            if let override = try? ConfigOverride(parsing: String(line.dropFirst(5))) {
                overrides.append(override)
            }
        }
        guard let config = try? ClusterConfig.parse(yaml: text, file: "fuzz.yaml", baseDirectory: "/nonexistent",
                                                     overrides: overrides) else { return }
        guard let json = try? JSONEncoder().encode(config) else { return }
        _ = try? JSONDecoder().decode(ClusterConfig.self, from: json)
    }
}
