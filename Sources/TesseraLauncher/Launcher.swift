import Foundation
import TesseraCore
import TesseraRPC
#if canImport(Glibc)
import Glibc
#endif

/// `tessera launch`: runs a whole cluster on this machine — the scheduler, N
/// shards and M workers as separate processes on loopback — and supervises it.
///
/// If any process dies unexpectedly, the launcher stops the rest and reports
/// which one died and why, with the end of its log. Ctrl-C stops everything
/// cleanly. When training is done it asks the scheduler one Recommend query
/// through gRPC, prints it, and shuts the cluster down (or keeps serving with
/// `serve`).
public final class Launcher: Sendable {
    public struct Plan: Sendable {
        /// The `tessera` binary to start for each role.
        public var executable: String
        public var configPath: String
        /// Command-line settings passed on to the scheduler (it resolves the config).
        public var overrides: [ConfigOverride]
        /// The resolved config (for counts, ports and serving limits).
        public var config: ClusterConfig
        /// Where logs and the scheduler address go.
        public var runDirectory: String
        public var outputs: [String] = []
        /// Keep serving after training until Ctrl-C.
        public var serve = false
        /// The user of the final query; nil lets the scheduler pick a test user.
        public var queryUser: String?
        public var queryK = 10
        /// Ask the final Recommend query once training is done.
        public var finalQuery = true
        /// Keep the terminal quiet: the scheduler's progress goes to its log, and the launcher prints only failures.
        public var quiet = false
        /// Continue the job checkpointed in this root (`--resume`).
        public var resumeDirectory: String?

        /// Where this run's checkpoints go: `checkpoint.directory`, or `checkpoints/` in the run directory.
        public var checkpointDirectory: String {
            config.checkpoint.directory ?? "\(runDirectory)/checkpoints"
        }

        public init(executable: String, configPath: String, overrides: [ConfigOverride], config: ClusterConfig,
                    runDirectory: String) {
            self.executable = executable
            self.configPath = configPath
            self.overrides = overrides
            self.config = config
            self.runDirectory = runDirectory
        }
    }

    private enum Event: Sendable {
        case exited(ChildProcess, Termination)
        case signal(Int32)
        case tick
    }

    public let plan: Plan
    private let events: AsyncStream<Event>
    private let emit: AsyncStream<Event>.Continuation

    public init(plan: Plan) {
        self.plan = plan
        (events, emit) = AsyncStream.makeStream(of: Event.self)
    }

    /// Feeds a signal (SIGINT, SIGTERM) into the supervision loop.
    public func deliver(signal: Int32) {
        emit.yield(.signal(signal))
    }

    private func say(_ text: String) {
        guard !plan.quiet else { return }
        FileHandle.standardOutput.write(Data(("[launch] " + text + "\n").utf8))
    }

    private func complain(_ text: String) {
        FileHandle.standardError.write(Data(("tessera launch: " + text + "\n").utf8))
    }

    /// Runs the cluster to the end; returns the exit status for the process.
    public func run() async -> Int32 {
        do {
            try FileManager.default.createDirectory(atPath: plan.runDirectory, withIntermediateDirectories: true)
        } catch {
            complain("cannot create the run directory \(plan.runDirectory): \(error.localizedDescription)")
            return 1
        }
        var supervision = Supervision()
        defer { emit.finish() }
        let ticker = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(250))
                emit.yield(.tick)
            }
        }
        defer { ticker.cancel() }
        do {
            let code = try await supervise(&supervision)
            collectSummary()
            return code
        } catch {
            complain("\(error)")
            await stopAll(supervision.children, grace: .seconds(5))
            return 1
        }
    }

    /// Every child, and what the launcher has done so far.
    private struct Supervision {
        var children: [ChildProcess] = []
        var scheduler: ChildProcess?
        var address: String?
        var stopping = false
        var queried = false
        var exitCode: Int32 = 0
        var lastStatusPoll = ContinuousClock.now
        var restarts: [String: Int] = [:]
        /// Shard processes started so far (ids 0..<shardsStarted); a live reshard adds more.
        var shardsStarted = 0
    }

    /// Times the launcher restarts one online worker before treating its death as fatal.
    static let maxOnlineRestarts = 5
    /// Times the launcher restarts one shard or worker during training before treating its death as fatal.
    static let maxRestarts = 3

    private func supervise(_ state: inout Supervision) async throws -> Int32 {
        let parent = "\(getpid())"
        let readyFile = "\(plan.runDirectory)/scheduler.address"
        try? FileManager.default.removeItem(atPath: readyFile)
        let restore = try plan.resumeDirectory.map { try prepareResume(from: $0) }
        let resumeArguments = restore.map { ["--resume", $0] } ?? []
        let scheduler = try spawn(name: "scheduler", arguments: ["scheduler", plan.configPath] + plan.overrides.flatMap { ["--set", "\($0.path)=\($0.value)"] }
                                    + plan.outputs + summaryArguments + ["--ready-file", readyFile, "--state-dir", "\(plan.runDirectory)/state",
                                                                         "--checkpoint-dir", plan.checkpointDirectory] + resumeArguments,
                                  log: "scheduler.log", inheritStdout: !plan.quiet, parent: parent)
        state.scheduler = scheduler
        state.children.append(scheduler)

        // Wait for the scheduler to listen, watching that it does not die first.
        let readyDeadline = ContinuousClock.now + .seconds(60)
        while state.address == nil {
            if let text = try? String(contentsOfFile: readyFile, encoding: .utf8), !text.isEmpty {
                state.address = text.trimmingCharacters(in: .whitespacesAndNewlines)
                break
            }
            if let how = scheduler.terminated {
                throw LaunchError("the scheduler \(how) before it was ready\(tail(of: scheduler))")
            }
            if ContinuousClock.now > readyDeadline {
                throw LaunchError("the scheduler did not start listening within 60 s\(tail(of: scheduler))")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        guard let address = state.address else { return 1 }
        for shard in 0..<plan.config.shards {
            state.children.append(try spawn(name: "server \(shard)",
                                            arguments: ["server", "--scheduler", address, "--id", "\(shard)"]
                                                + (restore.map { ["--restore", $0] } ?? []) + memberMetricsArguments,
                                            log: "server-\(shard).log", parent: parent))
        }
        state.shardsStarted = plan.config.shards
        for shard in 0..<plan.config.shards where plan.config.replication.enabled {
            // The follower starts from the same checkpoint as its leader, so they begin equal.
            state.children.append(try spawn(name: "follower \(shard)",
                                            arguments: ["server", "--scheduler", address, "--follow", "\(shard)"]
                                                + (restore.map { ["--restore", $0] } ?? []) + memberMetricsArguments,
                                            log: "follower-\(shard).log", parent: parent))
        }
        for worker in 0..<plan.config.workers {
            state.children.append(try spawn(name: "worker \(worker)", arguments: ["worker", "--scheduler", address, "--id", "\(worker)"] + memberMetricsArguments,
                                            log: "worker-\(worker).log", parent: parent))
        }
        for worker in 0..<plan.config.online.workers {
            state.children.append(try spawn(name: "online worker \(worker)",
                                            arguments: ["worker", "--online", "--scheduler", address, "--id", "\(worker)"] + memberMetricsArguments,
                                            log: "online-\(worker).log", parent: parent))
        }
        let online = plan.config.online.workers > 0 ? ", \(plan.config.online.workers) online workers" : ""
        let followers = plan.config.replication.enabled ? " (each with a follower)" : ""
        say("cluster: scheduler at \(address), \(plan.config.shards) shards\(followers), \(plan.config.workers) workers\(online); logs in \(plan.runDirectory)")
        let client = SchedulerClient(channel: try GRPCChannel(target: address, security: try clientSecurity()))

        for await event in events {
            switch event {
            case .exited(let child, let how):
                if child === state.scheduler {
                    if !how.isSuccess {
                        if !state.stopping {
                            complain("the scheduler \(how)\(tail(of: child))")
                        }
                        state.exitCode = state.stopping && state.exitCode != 0 ? state.exitCode : 1
                    }
                    state.stopping = true
                } else if !state.stopping, child.name.hasPrefix("online worker"),
                          let index = state.children.firstIndex(where: { $0 === child }),
                          state.restarts[child.name, default: 0] < Self.maxOnlineRestarts {
                    // Online workers keep their progress in the scheduler's log: restart them in place.
                    state.restarts[child.name, default: 0] += 1
                    say("\(child.name) (pid \(child.pid)) \(how); restarting it (\(state.restarts[child.name, default: 0]) of \(Self.maxOnlineRestarts))")
                    let id = child.name.split(separator: " ").last.map(String.init) ?? "0"
                    state.children[index] = try spawn(name: child.name,
                                                      arguments: ["worker", "--online", "--scheduler", address, "--id", id] + memberMetricsArguments,
                                                      log: "online-\(id).log", parent: parent)
                    continue
                } else if !state.stopping, !how.isSuccess, plan.config.replication.enabled,
                          let outcome = await replicationOutcome(of: child, client: client), outcome != .restart {
                    // With replication the scheduler hands a dead leader's shard to its follower; nothing to restart.
                    switch outcome {
                    case .followerTakesOver:
                        say("\(child.name) (pid \(child.pid)) \(how); its follower takes over (no restart, no rollback)")
                        // The scheduler would notice after its heartbeat timeout; the exit is certain now.
                        await reportDeath(of: child, how: how, client: client)
                    case .followerGone:
                        say("\(child.name) (pid \(child.pid)) \(how); its shard goes on without a follower (updates from now on are not replicated)")
                    case .restart:
                        break
                    }
                    continue
                } else if !state.stopping, !how.isSuccess, let index = state.children.firstIndex(where: { $0 === child }),
                          let name = supervisedName(of: child, state: state),
                          state.restarts[name, default: 0] < Self.maxRestarts,
                          let (arguments, log, note) = restart(name, address: address, resumed: restore) {
                    // The scheduler rolls the shards back to the last checkpoint and restarts the epoch once it rejoins.
                    state.restarts[name, default: 0] += 1
                    let count = state.restarts[name, default: 0]
                    say("\(child.name) (pid \(child.pid)) \(how); restarting it\(note) (\(count) of \(Self.maxRestarts))")
                    state.children[index] = try spawn(name: name, arguments: arguments, log: "\(log)-restart-\(count).log",
                                                      parent: parent)
                    continue
                } else if !state.stopping, child.name.hasPrefix("server"), how.isSuccess {
                    // Only a shard the scheduler told to stop exits cleanly during a run: a live reshard took it out.
                    say("\(child.name) (pid \(child.pid)) left the cluster after a live reshard")
                } else if !state.stopping && !(child.name.hasPrefix("worker") && how.isSuccess) {
                    let hint = child.name.hasPrefix("server") && !how.isSuccess ? " (no checkpoint yet to restart it from)" : ""
                    complain("\(child.name) (pid \(child.pid)) \(how)\(hint)\(tail(of: child))")
                    state.exitCode = 1
                    state.stopping = true
                    await requestShutdown(client, reason: "\(child.name) \(how)")
                }
                if state.children.allSatisfy({ $0.terminated != nil }) {
                    return state.exitCode
                }
                if state.stopping, scheduler.terminated != nil {
                    await stopAll(state.children, grace: .seconds(5))
                    return state.exitCode
                }
            case .signal(let signal):
                if state.stopping {
                    say("second \(Termination.signalName(signal)): killing the cluster")
                    for child in state.children { child.send(SIGKILL) }
                    continue
                }
                say("\(Termination.signalName(signal)): stopping the cluster")
                state.stopping = true
                state.exitCode = 128 + signal
                if state.queried { await snapshotMetrics(client) }
                await requestShutdown(client, reason: "launcher received \(Termination.signalName(signal))")
                let children = state.children
                Task {
                    try? await Task.sleep(for: .seconds(10))
                    await self.stopAll(children, grace: .seconds(3))
                }
            case .tick:
                guard !state.stopping, !state.queried,
                      ContinuousClock.now - state.lastStatusPoll >= .milliseconds(500) else { continue }
                state.lastStatusPoll = ContinuousClock.now
                guard let status = try? await client.getJobStatus(options: CallOptions(timeout: .seconds(2))) else { continue }
                recordMetricsAddresses(status)
                if Int(status.reshardTargetShards) > state.shardsStarted {
                    // A live reshard to more shards: start the new ones; they register and get empty tables.
                    let ids = state.shardsStarted..<Int(status.reshardTargetShards)
                    say("reshard: starting shards \(ids.lowerBound)...\(ids.upperBound - 1) for a live reshard to \(ids.upperBound) shards")
                    for shard in ids {
                        state.children.append(try spawn(name: "server \(shard)",
                                                        arguments: ["server", "--scheduler", address, "--id", "\(shard)"] + memberMetricsArguments,
                                                        log: "server-\(shard).log", parent: parent))
                    }
                    state.shardsStarted = ids.upperBound
                }
                switch status.state {
                case .serving:
                    state.queried = true
                    if plan.finalQuery { await query(address: address, sampleUser: status.sampleUserID) }
                    await snapshotMetrics(client)
                    if plan.serve {
                        say("serving at \(address) until Ctrl-C: tessera query --scheduler \(address) --user \(plan.queryUser ?? status.sampleUserID) -k 10")
                    } else {
                        state.stopping = true
                        await requestShutdown(client, reason: "training finished")
                    }
                case .failed:
                    state.stopping = true
                    state.exitCode = 1
                default:
                    break
                }
            }
        }
        return state.exitCode
    }

    /// What a dead shard process means with replication on.
    enum ReplicationOutcome: Equatable {
        /// A leader whose follower is in sync died: the scheduler promotes the follower.
        case followerTakesOver
        /// A follower died (never promoted): its leader goes on alone.
        case followerGone
        /// A leader without a follower in sync (or a promoted follower) died: restart it from the checkpoint.
        case restart
    }

    /// Asks the scheduler what the death of `child` (a "server N" or "follower N") means; nil for other roles.
    private func replicationOutcome(of child: ChildProcess, client: SchedulerClient) async -> ReplicationOutcome? {
        let words = child.name.split(separator: " ")
        guard words.count == 2, let id = UInt32(words[1]), words[0] == "server" || words[0] == "follower" else { return nil }
        let status = try? await client.getJobStatus(options: CallOptions(timeout: .seconds(3)))
        let members = status?.members ?? []
        if words[0] == "follower" {
            // A promoted follower is its shard's server now: restart it like one.
            let promoted = members.contains { $0.role == .server && $0.id == id && $0.pid == Int64(child.pid) }
            return promoted ? .restart : .followerGone
        }
        let follower = members.first { $0.role == .follower && $0.id == id }
        return follower?.inSync == true ? .followerTakesOver : .restart
    }

    /// Tells the scheduler that the shard process `child` ("server N") exited, so that its
    /// follower is promoted without waiting for the heartbeat timeout (best effort).
    private func reportDeath(of child: ChildProcess, how: Termination, client: SchedulerClient) async {
        guard let id = child.name.split(separator: " ").last.flatMap({ UInt32($0) }) else { return }
        var report = Tessera_V1_FailureReport()
        report.role = .server
        report.memberID = id
        report.message = "\(child.name) (pid \(child.pid)) \(how) (seen by the launcher)"
        _ = try? await client.reportFailure(report, options: CallOptions(timeout: .seconds(3)))
    }

    /// The name a dead child is restarted under: a promoted "follower N" is "server N" now.
    private func supervisedName(of child: ChildProcess, state: Supervision) -> String? {
        guard child.name.hasPrefix("follower ") else { return child.name }
        return "server " + child.name.dropFirst("follower ".count)
    }

    /// How to restart a dead shard or worker (`name` is "server N" or "worker N"):
    /// its arguments, log name and a note; nil when it cannot be (a shard with no
    /// checkpoint yet to restore from, or another role).
    private func restart(_ name: String, address: String, resumed: String?) -> (arguments: [String], log: String, note: String)? {
        let words = name.split(separator: " ")
        guard words.count == 2, let id = Int(words[1]) else { return nil }
        switch words[0] {
        case "worker":
            return (["worker", "--scheduler", address, "--id", "\(id)"], "worker-\(id)", " on the same data shard")
        case "server":
            // The newest complete checkpoint: this run's, else the one it resumed from.
            let root = (try? JobCheckpoint.load(root: plan.checkpointDirectory)) != nil ? plan.checkpointDirectory : resumed
            guard let root else { return nil }
            return (["server", "--scheduler", address, "--id", "\(id)", "--restore", root], "server-\(id)",
                    " from the checkpoint in \(root)")
        default:
            return nil
        }
    }

    /// The checkpoint root the shards restore: the one given, or — when `shards:` differs
    /// from the checkpoint's — a copy resharded onto the new ring in this run's checkpoint
    /// folder, after checking that every (key, row, optimizer state) arrived unchanged.
    private func prepareResume(from root: String) throws -> String {
        let record: JobCheckpoint
        do {
            record = try JobCheckpoint.load(root: root)
        } catch {
            throw LaunchError("--resume: \(error)")
        }
        guard record.shards != plan.config.shards else {
            say("resuming from \(root): epoch \(record.epoch) of run \(record.runID), \(record.shards) shards")
            return root
        }
        let target = plan.checkpointDirectory
        let ring = ConsistentHashRing(shardIDs: (0..<UInt32(plan.config.shards)).map { $0 },
                                      virtualNodes: plan.config.ring.virtualNodes, seed: plan.config.ring.seed)
        say("resharding \(root) from \(record.shards) to \(plan.config.shards) shards into \(target)")
        let clock = ContinuousClock()
        let start = clock.now
        let report: ReshardReport
        do {
            report = try CheckpointResharding.reshard(from: root, to: target, ring: ring)
        } catch {
            throw LaunchError("--resume: cannot reshard \(root): \(error)")
        }
        let seconds = (clock.now - start).seconds
        guard report.checksumAfter == report.checksumBefore else {
            throw LaunchError("--resume: resharding changed the rows (checksum \(report.checksumBefore) before, \(report.checksumAfter.map { "\($0)" } ?? "none") after); refusing to continue")
        }
        var resharded = record
        resharded.shards = plan.config.shards
        resharded.virtualNodes = plan.config.ring.virtualNodes
        resharded.ringSeed = plan.config.ring.seed
        try resharded.save(root: target)
        let expected = report.expectedMovedFraction.map { String(format: ", the rings predict %.3f", $0) } ?? ""
        say(String(format: "resharded %d rows in %.2f s (%.2f s per million): moved %.3f of them (ideal %.3f%@); checksum %@ before and after",
                   report.rows, seconds, seconds / max(Double(report.rows) / 1e6, 1e-9), report.movedFraction,
                   report.idealMovedFraction, expected, "\(report.checksumBefore)"))
        return target
    }

    private func spawn(name: String, arguments: [String], log: String, inheritStdout: Bool = false,
                       parent: String) throws -> ChildProcess {
        try ChildProcess(name: name, executable: plan.executable, arguments: arguments,
                         logPath: "\(plan.runDirectory)/\(log)", inheritStdout: inheritStdout,
                         environment: Self.childEnvironment(parent: parent).merging(try securityEnvironment()) { $1 }) { [emit] child, how in
            emit.yield(.exited(child, how))
        }
    }

    /// What every role process gets on top of the launcher's environment.
    ///
    /// The allocator settings keep freed memory in the process instead of returning it
    /// to the kernel after each step: roles allocate and free the same large buffers every
    /// step, and glibc's defaults turn that into page faults (about half of a dense
    /// model's step time). A value the user set already is kept.
    static func childEnvironment(parent: String) -> [String: String] {
        var environment = ["TESSERA_PARENT_PID": parent]
        if ProcessInfo.processInfo.environment["GLIBC_TUNABLES"] == nil {
            environment["GLIBC_TUNABLES"] = "glibc.malloc.trim_threshold=268435456:glibc.malloc.mmap_threshold=33554432"
        }
        return environment
    }

    private func tail(of child: ChildProcess) -> String {
        let text = child.logTail(lines: 15).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { return "" }
        let indented = text.split(separator: "\n", omittingEmptySubsequences: false).map { "  | " + $0 }.joined(separator: "\n")
        return "; the end of \(child.logPath ?? "its log"):\n\(indented)"
    }

    private func requestShutdown(_ client: SchedulerClient, reason: String) async {
        try? await client.shutdown(reason: reason, options: CallOptions(timeout: .seconds(3)))
    }

    /// Asks every live child to stop (SIGTERM), then kills what is left after `grace`.
    private func stopAll(_ children: [ChildProcess], grace: Duration) async {
        for child in children { child.send(SIGTERM) }
        let deadline = ContinuousClock.now + grace
        while ContinuousClock.now < deadline, children.contains(where: { $0.terminated == nil }) {
            try? await Task.sleep(for: .milliseconds(50))
        }
        for child in children where child.terminated == nil {
            say("\(child.name) (pid \(child.pid)) did not stop; killing it")
            child.send(SIGKILL)
        }
    }

    /// The end-of-training Recommend query, through gRPC like any client.
    private func query(address: String, sampleUser: String) async {
        let user = plan.queryUser ?? sampleUser
        guard !user.isEmpty else { return }
        do {
            let client = InferenceClient(channel: try GRPCChannel(target: address, security: try clientSecurity()))
            var request = Tessera_V1_RecommendRequest()
            request.userID = user
            request.k = UInt32(plan.queryK)
            let response = try await client.recommend(request, options: CallOptions(timeout: .seconds(10)))
            var lines = ["query: Recommend(user \(user), k \(plan.queryK)) at \(address) -> model version \(response.modelVersion)\(response.popularityFallback ? " (unknown user: popular items)" : "")"]
            for (rank, item) in response.items.enumerated() {
                let rank = String(rank + 1).leftPadded(to: 4)
                lines.append("\(rank)  item \(item.itemID.padding(toLength: max(8, item.itemID.count), withPad: " ", startingAt: 0))  score \(String(format: "%.4f", item.score))")
            }
            FileHandle.standardOutput.write(Data((lines.joined(separator: "\n") + "\n").utf8))
        } catch {
            complain("the final Recommend query failed: \(error)")
        }
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
