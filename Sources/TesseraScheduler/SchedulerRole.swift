import Foundation
import Logging
import TesseraCore
import TesseraRPC

/// The `tessera scheduler` process: coordinates the job and serves
/// `tessera.v1.Scheduler` and `tessera.v1.Inference` on one port.
public struct SchedulerRole: Sendable {
    public var config: ClusterConfig
    public var outputs: JobScheduler.Outputs
    /// Written atomically with "host:port" once the server listens (for launchers and tests).
    public var readyFile: String?
    /// The feedback log and consumer states: kept across restarts of the scheduler.
    public var stateDirectory: String
    /// Continue the job recorded in `stateDirectory` instead of starting a new one.
    public var recover = false

    public init(config: ClusterConfig, stateDirectory: String, outputs: JobScheduler.Outputs = .init(), readyFile: String? = nil) {
        self.config = config
        self.stateDirectory = stateDirectory
        self.outputs = outputs
        self.readyFile = readyFile
    }

    /// A scheduler that is listening.
    public struct Running: Sendable {
        public let scheduler: JobScheduler
        public let server: GRPCServer

        /// Waits until the job ends and the scheduler should exit; returns the exit status.
        public func wait() async -> Int32 {
            let code = await scheduler.waitForExit()
            await server.shutdown(grace: .seconds(1))
            return code
        }
    }

    /// Binds the port, starts the job and returns at once.
    ///
    /// Security (token, TLS, limits) comes from `config.security`; the token is read
    /// from the environment or the file it names.
    public func start(logger: Logger, console: Console = Console()) async throws -> Running {
        let security = try ResolvedSecurity(settings: config.security)
        let scheduler = try JobScheduler(config: config, stateDirectory: stateDirectory, recover: recover, outputs: outputs,
                                         console: console, logger: logger, security: security.client)
        var router = RPCRouter()
        router.register(scheduler)
        router.register(scheduler.inference)
        let server: GRPCServer
        do {
            server = try GRPCServer(host: config.scheduler.host, port: config.scheduler.port, router: router,
                                    options: ServerOptions(security: security.server))
        } catch {
            throw RPCError(error.code, "\(error.message) (scheduler.host / scheduler.port in the config)")
        }
        console.line("scheduler listening on \(server.address) (run \(scheduler.runID))")
        if let readyFile {
            try Data("\(server.address)\n".utf8).write(to: URL(fileURLWithPath: readyFile), options: .atomic)
        }
        await scheduler.start()
        return Running(scheduler: scheduler, server: server)
    }
}
