import ArgumentParser
import Foundation
import TesseraCore

/// The config file and the command-line settings layered over it.
struct ConfigOptions: ParsableArguments {
    @Argument(help: "Cluster config (YAML), e.g. Cluster/local.yaml.")
    var config: String

    @Option(name: .customLong("set"), help: ArgumentHelp("Override a config key, e.g. --set training.epochs=5 (repeatable).", valueName: "key=value"))
    var settings: [String] = []

    @Option(help: "Train on this data file (split per user by the config's `split`).")
    var data: String?

    @Option(help: "A training file split by the user (with --test, optionally --valid).")
    var train: String?

    @Option(help: "The validation part of a user-made split.")
    var valid: String?

    @Option(help: "The test part of a user-made split.")
    var test: String?

    /// `--set`, `--data`, `--train`, `--valid` and `--test` as config overrides.
    func overrides() throws -> [ConfigOverride] {
        var overrides = try settings.map { try ConfigOverride(parsing: $0) }
        // Data named on the command line replaces the config file's data source.
        if data != nil {
            overrides += ["train", "valid", "test"].map { ConfigOverride(path: "data.\($0)", value: "null") }
        } else if train != nil || valid != nil || test != nil {
            overrides.append(ConfigOverride(path: "data.path", value: "null"))
        }
        for (key, value) in [("path", data), ("train", train), ("valid", valid), ("test", test)] {
            if let value { overrides.append(ConfigOverride(path: "data.\(key)", value: quoted(absolute(value)))) }
        }
        return overrides
    }

    /// The config with overrides applied; a problem exits with the message naming file, line and key.
    func load() throws -> ClusterConfig {
        do {
            return try ClusterConfig.load(path: config, overrides: try overrides())
        } catch let error as ConfigError {
            throw UserError(description: error.description)
        }
    }

    private func quoted(_ value: String) -> String {
        "'" + value.replacingOccurrences(of: "'", with: "''") + "'"
    }
}

/// A mistake in what the user gave us; ArgumentParser prints it as `Error: …` and exits non-zero.
struct UserError: Error, CustomStringConvertible {
    var description: String
}

/// Absolute form of a path given on the command line.
func absolute(_ path: String) -> String {
    path.hasPrefix("/") ? path : URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(path).standardizedFileURL.path
}
