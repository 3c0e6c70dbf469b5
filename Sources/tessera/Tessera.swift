import ArgumentParser
import Foundation
import Logging

/// The `tessera` executable: one binary for every role and client.
@main
struct Tessera: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tessera",
        abstract: "A sharded parameter server that trains and serves recommendation models.",
        subcommands: [
            Launch.self, SchedulerCommand.self, ServerCommand.self, WorkerCommand.self,
            Query.self, Status.self, Report.self, Eval.self, Split.self, Simulate.self, Bench.self, CheckpointCommand.self, Reshard.self,
        ])
}

/// Options every long-running role shares.
struct LoggingOptions: ParsableArguments {
    @Option(help: "Log level on standard error: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    /// Sets up logging (and the process's memory allocator) for a role; returns its logger.
    func bootstrap(label: String) throws -> Logger {
        guard let level = Logger.Level(rawValue: logLevel) else {
            throw ValidationError("--log-level: unknown level '\(logLevel)'")
        }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        return Logger(label: label)
    }
}
