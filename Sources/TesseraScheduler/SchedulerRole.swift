import Foundation
import Logging
import TesseraCore
import TesseraObservability
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
    /// Where checkpoints go; nil: `checkpoint.directory`, or no checkpoints.
    public var checkpointDirectory: String?
    /// A checkpoint root whose job.json says where training resumes (the shards restore its chains).
    public var resumeDirectory: String?

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
        /// The `/metrics` endpoint (nil when `metrics.enabled` is false).
        public let metrics: MetricsEndpoint?

        /// Waits until the job ends and the scheduler should exit; returns the exit status.
        public func wait() async -> Int32 {
            let code = await scheduler.waitForExit()
            await server.shutdown(grace: .seconds(1))
            await metrics?.stop()
            return code
        }
    }

    /// Binds the port, starts the job and returns at once.
    ///
    /// Security (token, TLS, limits) comes from `config.security`; the token is read
    /// from the environment or the file it names.
    public func start(logger: Logger, console: Console = Console()) async throws -> Running {
        let resumed = try resumeDirectory.map { root throws in try JobCheckpoint.load(root: root) }
        if let resumed, resumed.shards != config.shards {
            throw RPCError(.failedPrecondition, "\(JobCheckpoint.path(root: resumeDirectory!)) holds \(resumed.shards) shards' checkpoints, the config has shards: \(config.shards); reshard it first (tessera reshard, or tessera launch --resume does it)")
        }
        let security = try ResolvedSecurity(settings: config.security)
        let scheduler = try JobScheduler(config: config, stateDirectory: stateDirectory, recover: recover, outputs: outputs,
                                         checkpointRoot: checkpointDirectory ?? config.checkpoint.directory, resumed: resumed,
                                         resumedRoot: resumeDirectory,
                                         console: console, logger: logger, security: security.client)
        let metrics = SchedulerMetrics()
        let endpoint = try await MetricsEndpoint.start(settings: config.metrics, registry: metrics.registry, logger: logger) {
            metrics.refresh(await scheduler.metricsState())
        }
        if let endpoint { await scheduler.setMetricsAddress(endpoint.address) }
        var router = RPCRouter()
        router.register(scheduler)
        router.register(MeteredInference(inner: scheduler.inference, metrics: metrics))
        let server: GRPCServer
        do {
            server = try GRPCServer(host: config.scheduler.host, port: config.scheduler.port, router: router,
                                    options: ServerOptions(security: security.server))
        } catch {
            await endpoint?.stop()
            throw RPCError(error.code, "\(error.message) (scheduler.host / scheduler.port in the config)")
        }
        console.line("scheduler listening on \(server.address) (run \(scheduler.runID))")
        if let endpoint { console.line("metrics at http://\(endpoint.address)/metrics") }
        if let readyFile {
            try Data("\(server.address)\n".utf8).write(to: URL(fileURLWithPath: readyFile), options: .atomic)
        }
        await scheduler.start()
        return Running(scheduler: scheduler, server: server, metrics: endpoint)
    }
}
