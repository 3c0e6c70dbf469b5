import Foundation
import Logging
import TesseraCore
import TesseraLauncher
import TesseraRPC
import TesseraScheduler

/// Real shard processes for benchmarks, with an in-process scheduler and no workers:
/// the benchmark drives the shards itself.
enum ShardCluster {
    /// Starts `shards` shard processes holding `table`, runs `body` with the shard map and the
    /// shard processes, and stops everything, also when `body` throws.
    ///
    /// - Parameter served: whether `table` is the item table, kept in a serving index too.
    /// - Parameter replicated: give every shard a follower process (`replication.followers: 1`).
    static func run(shards: Int, table: TableSpec, served: Bool = true, replicated: Bool = false, executable: String, logger: Logger,
                    _ body: (ShardRouting, ClientSecurity, [ChildProcess]) async throws -> Void) async throws {
        var config = ClusterConfig()
        config.name = "bench"
        config.shards = shards
        config.workers = 1  // never joins: the bench drives the shards itself
        config.scheduler.registrationTimeout = 86_400
        config.scheduler.heartbeatTimeout = 60
        config.data.synthetic = SyntheticSpec(users: 20, items: 20, interactionsPerUser: 5, seed: 1)
        config.replication.followers = replicated ? 1 : 0
        config.tables = [table]
        config.model.userTable = table.name
        config.model.itemTable = table.name
        if !served {
            // A small item table of its own, so `table` is only a training table.
            var items = table
            items.name = "\(table.name)-items"
            config.tables.append(items)
            config.model.itemTable = items.name
        }
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-bench-state-\(getpid())-\(shards)").path
        // Security from the environment (TESSERA_TOKEN, …), like any scheduler with no `security` section.
        let security = try ResolvedSecurity(settings: config.security)
        let memberEnvironment = config.security.memberEnvironment(resolvedToken: security.client.token)
        let running = try await SchedulerRole(config: config, stateDirectory: state).start(logger: logger, console: Console(enabled: false))
        let logs = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-bench-\(getpid())")
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        var children: [ChildProcess] = []
        do {
            for id in 0..<shards {
                children.append(try ChildProcess(
                    name: "server \(id)", executable: executable,
                    arguments: ["server", "--scheduler", running.server.address, "--id", "\(id)", "--bench-echo"],
                    logPath: logs.appendingPathComponent("server-\(id).log").path,
                    environment: ["TESSERA_PARENT_PID": "\(getpid())"].merging(memberEnvironment) { $1 }) { _, _ in })
            }
            for id in 0..<shards where replicated {
                children.append(try ChildProcess(
                    name: "follower \(id)", executable: executable,
                    arguments: ["server", "--scheduler", running.server.address, "--follow", "\(id)"],
                    logPath: logs.appendingPathComponent("follower-\(id).log").path,
                    environment: ["TESSERA_PARENT_PID": "\(getpid())"].merging(memberEnvironment) { $1 }) { _, _ in })
            }
            let scheduler = SchedulerClient(channel: try GRPCChannel(target: running.server.address, security: security.client))
            let map = try await scheduler.getShardMap(Tessera_V1_ShardMapRequest(), options: CallOptions(timeout: .seconds(60)))
            try await body(try ShardRouting(map), security.client, children)
        } catch {
            for child in children { child.send(SIGKILL) }
            await running.scheduler.stop(reason: "benchmark failed")
            _ = await running.wait()
            throw error
        }
        await running.scheduler.stop(reason: "benchmark done")
        _ = await running.wait()
        let deadline = ContinuousClock.now + .seconds(5)
        while children.contains(where: { $0.terminated == nil }) && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        for child in children where child.terminated == nil { child.send(SIGKILL) }
    }
}
