import ArgumentParser
import Foundation
import TesseraCore
import TesseraLauncher
import TesseraScheduler
import TesseraServer
import TesseraWorker

struct Launch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a whole cluster on this machine: scheduler, shards and workers as separate processes.",
        discussion: """
            Trains with the config, evaluates after every epoch, answers one Recommend query \
            through gRPC, then stops (or keeps serving with --serve). If any process dies, the \
            others are stopped and the failure is reported; Ctrl-C stops everything.
            """)

    @OptionGroup var config: ConfigOptions

    @OptionGroup var outputs: OutputOptions

    @Option(help: "Folder for the processes' logs (default runs/NAME-TIME).")
    var runDir: String?

    @Flag(help: "Keep serving Recommend after training until Ctrl-C.")
    var serve = false

    @Option(help: "User for the final Recommend query (default: a test user).")
    var queryUser: String?

    @Option(help: ArgumentHelp(
        "Continue a job from the checkpoint in DIR (its job.json), optimizer state intact.",
        discussion: "With another `shards:` than the checkpoint's, the rows are first moved to their owners on the new ring (into this run's checkpoint folder), with the moved fraction and a checksum over every row printed."))
    var resume: String?

    func run() async throws {
        let resolved = try config.load()
        let overrides = try config.overrides()
        let stamp = ISO8601DateFormatter().string(from: Date()).replacingOccurrences(of: ":", with: "")
        var plan = Launcher.Plan(
            executable: URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path,
            configPath: absolute(config.config),
            overrides: overrides,
            config: resolved,
            runDirectory: absolute(runDir ?? "runs/\(resolved.name)-\(stamp)"))
        plan.outputs = outputs.arguments
        plan.serve = serve
        plan.queryUser = queryUser
        plan.resumeDirectory = resume.map(absolute)
        let launcher = Launcher(plan: plan)
        let signals = SignalRouter { launcher.deliver(signal: $0) }
        let code = await launcher.run()
        withExtendedLifetime(signals) {}
        throw ExitCode(code)
    }
}

struct SchedulerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scheduler",
        abstract: "Coordinate a cluster and serve online inference (one per cluster).")

    @OptionGroup var config: ConfigOptions
    @OptionGroup var logging: LoggingOptions

    @OptionGroup var outputs: OutputOptions

    @Option(help: "Write \"host:port\" here once listening.")
    var readyFile: String?

    @Option(help: "Directory of the durable feedback log and online workers' progress (kept across restarts).")
    var stateDir = "tessera-state"

    @Flag(help: "Continue the job recorded in --state-dir after a scheduler restart: same run, members and shard map; serving and online learning resume.")
    var recover = false

    @Option(help: "Write checkpoints here (overrides checkpoint.directory).")
    var checkpointDir: String?

    @Option(help: "Continue training after the checkpoint recorded in DIR/job.json (the shards restore DIR with --restore).")
    var resume: String?

    func run() async throws {
        let logger = try logging.bootstrap(label: "tessera.scheduler")
        let resolved = try config.load()
        var role = SchedulerRole(config: resolved, stateDirectory: absolute(stateDir),
                                 outputs: outputs.files,
                                 readyFile: readyFile)
        role.recover = recover
        role.checkpointDirectory = checkpointDir.map(absolute)
        role.resumeDirectory = resume.map(absolute)
        let running = try await role.start(logger: logger)
        let signals = SignalRouter { signal in
            Task { await running.scheduler.stop(reason: signal == SIGINT ? "interrupted (SIGINT)" : "terminated (SIGTERM)") }
        }
        let code = await running.wait()
        withExtendedLifetime(signals) {}
        throw ExitCode(code)
    }
}

struct ServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "server",
        abstract: "Serve one parameter-server shard (the scheduler assigns its id and tables).")

    @Option(help: "The scheduler's host:port.")
    var scheduler: String

    @Option(help: "Interface to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on (0: the OS picks).")
    var port = 0

    @Option(help: "Host name other members should dial, when it differs from --host.")
    var advertise: String?

    @Option(help: "Shard id to take (a stable identity, e.g. a StatefulSet ordinal); default: any free id.")
    var id: UInt32?

    @Option(help: ArgumentHelp(
        "Restore this shard's tables from the checkpoint chain in DIR/shard-<id> before serving.",
        discussion: "The whole chain is checked first; a missing, damaged or mismatched checkpoint stops the shard with a message naming the file.",
        valueName: "DIR"))
    var restore: String?

    @Option(help: ArgumentHelp(
        "Run as the follower of shard N (replication.followers: 1): apply every change its leader acknowledges, take over when the leader dies.",
        valueName: "N"))
    var follow: UInt32?

    @Flag(help: .hidden)
    var benchEcho = false

    @OptionGroup var security: SecurityOptions

    @OptionGroup var logging: LoggingOptions
    @OptionGroup var metrics: MetricsOptions

    func run() async throws {
        let logger = try logging.bootstrap(label: "tessera.server")
        do {
            var role = ServerRole(schedulerAddress: scheduler, host: host, port: port, advertisedHost: advertise, shardID: id)
            role.benchEcho = benchEcho
            role.follow = follow
            role.restoreDirectory = restore.map(absolute)
            role.metrics = try metrics.settings()
            role.security = try security.resolve()
            try await role.run(logger: logger)
        } catch {
            logger.error("shard failed", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
    }
}

struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Train on one data shard (the scheduler assigns it).")

    @Option(help: "The scheduler's host:port.")
    var scheduler: String

    @Option(help: "Data-shard index to take; default: any free one.")
    var id: UInt32?

    @Flag(help: "Learn from the feedback log while the cluster serves (an online worker).")
    var online = false

    @OptionGroup var security: SecurityOptions

    @OptionGroup var logging: LoggingOptions
    @OptionGroup var metrics: MetricsOptions

    func run() async throws {
        let logger = try logging.bootstrap(label: online ? "tessera.online" : "tessera.worker")
        do {
            let client = try security.resolve().client
            if online {
                var role = OnlineWorkerRole(schedulerAddress: scheduler, workerID: id)
                role.metrics = try metrics.settings()
                role.security = client
                try await role.run(logger: logger)
            } else {
                var role = WorkerRole(schedulerAddress: scheduler, workerID: id)
                role.metrics = try metrics.settings()
                role.security = client
                try await role.run(logger: logger)
            }
        } catch {
            logger.error("worker failed", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
    }
}

/// What a run writes at the end of training.
struct OutputOptions: ParsableArguments {
    @Option(help: "Write every test user's top-K as `user rank item score` lines.")
    var exportRecs: String?

    @Option(help: "Write the run's final metrics, throughput and timings as JSON.")
    var summary: String?

    /// For the scheduler, with absolute paths.
    var files: JobScheduler.Outputs {
        JobScheduler.Outputs(summaryPath: summary.map(absolute), recommendationsPath: exportRecs.map(absolute))
    }

    /// The same options, to pass on to a scheduler process.
    var arguments: [String] {
        (exportRecs.map { ["--export-recs", absolute($0)] } ?? []) + (summary.map { ["--summary", absolute($0)] } ?? [])
    }
}
