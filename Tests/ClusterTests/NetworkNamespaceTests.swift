import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Multi-host operation for real: the scheduler, two shards and two workers each in its own
/// Linux network namespace with its own address, joined by veth pairs to a bridge (iproute2),
/// so every RPC crosses a network interface. Then one shard's host is cut off the network,
/// and the scheduler must notice (heartbeats) and stop the job with a message naming it.
///
/// Needs root and `ip` (iproute2); without them the test records why it did not run.
@Suite(.serialized) struct NetworkNamespaceTests {
    /// Namespaces, links and addresses of one test, removed by `tearDown` whatever happens.
    final class Hosts {
        let prefix: String
        let ip: String
        var namespaces: [String] = []

        init() throws {
            ip = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip"].first { FileManager.default.isExecutableFile(atPath: $0) } ?? "ip"
            prefix = "ts\(String(getpid() % 0xFFFF, radix: 16))"
        }

        @discardableResult
        func run(_ arguments: [String]) throws -> String {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: ip)
            process.arguments = arguments
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = pipe
            try process.run()
            process.waitUntilExit()
            let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            guard process.terminationStatus == 0 else {
                throw HostError(message: "ip \(arguments.joined(separator: " ")): \(output)")
            }
            return output
        }

        func namespace(_ role: String) -> String { "\(prefix)-\(role)" }

        /// A hub namespace with a bridge, and one namespace per host at 10.231.0.`address`.
        func build(hosts: [(role: String, address: Int)]) throws {
            let hub = namespace("hub")
            try run(["netns", "add", hub])
            namespaces.append(hub)
            try run(["-n", hub, "link", "add", "br0", "type", "bridge"])
            try run(["-n", hub, "link", "set", "br0", "up"])
            for (index, host) in hosts.enumerated() {
                let ns = namespace(host.role)
                try run(["netns", "add", ns])
                namespaces.append(ns)
                let inside = "\(prefix)i\(index)", outside = "\(prefix)o\(index)"
                try run(["link", "add", inside, "type", "veth", "peer", "name", outside])
                try run(["link", "set", inside, "netns", ns])
                try run(["link", "set", outside, "netns", hub])
                try run(["-n", hub, "link", "set", outside, "master", "br0", "up"])
                try run(["-n", ns, "addr", "add", "10.231.0.\(host.address)/24", "dev", inside])
                try run(["-n", ns, "link", "set", inside, "up"])
                try run(["-n", ns, "link", "set", "lo", "up"])
            }
        }

        /// Cuts host `index` off: its end of the link goes down.
        func cut(index: Int) throws {
            try run(["-n", namespace("hub"), "link", "set", "\(prefix)o\(index)", "down"])
        }

        func tearDown() {
            for ns in namespaces.reversed() { _ = try? run(["netns", "del", ns]) }
            namespaces = []
        }
    }

    struct HostError: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    @Test func rolesOnSeparateHostsTrainAndACutOffShardIsDetected() async throws {
        guard getuid() == 0 else {
            Issue.record("not root: network namespaces need root, so the multi-host test did not run")
            return
        }
        let hosts = try Hosts()
        defer { hosts.tearDown() }
        let roles: [(role: String, address: Int)] = [("sched", 1), ("shard0", 2), ("shard1", 3), ("work0", 4), ("work1", 5)]
        do {
            try hosts.build(hosts: roles)
        } catch {
            Issue.record("cannot build network namespaces (\(error)); the multi-host test did not run")
            return
        }
        let dir = try Harness.temporaryDirectory()
        let config = dir.appendingPathComponent("multihost.yaml").path
        try """
            name: netns
            scheduler: {host: 10.231.0.1, port: 7071, heartbeat_interval: 0.2, heartbeat_timeout: 3}
            shards: 2
            workers: 2
            data:
              synthetic: {users: 600, items: 300, interactions_per_user: 25, seed: 3}
            model: {kind: bpr_mf, l2: 0.0001}
            tables:
              - {name: user, dim: 32, optimizer: {kind: adagrad, learning_rate: 0.1}}
              - {name: item, dim: 32, optimizer: {kind: adagrad, learning_rate: 0.1}}
            training: {epochs: 100000, batch_size: 256, patience: 0, progress_interval: 1}
            checkpoint: {every_epochs: 0}
            """.write(toFile: config, atomically: true, encoding: .utf8)

        func start(_ role: String, _ arguments: [String]) throws -> Spawned {
            try Spawned(["netns", "exec", hosts.namespace(role), Harness.binary] + arguments, in: dir, executable: hosts.ip)
        }
        let scheduler = try start("sched", ["scheduler", config, "--state-dir", dir.appendingPathComponent("state").path])
        var members: [Spawned] = []
        defer {
            for member in members { member.killTree() }
            scheduler.killTree()
        }
        for shard in 0..<2 {
            members.append(try start("shard\(shard)", ["server", "--scheduler", "10.231.0.1:7071", "--host", "10.231.0.\(2 + shard)",
                                                       "--id", "\(shard)", "--metrics", "off"]))
        }
        for worker in 0..<2 {
            members.append(try start("work\(worker)", ["worker", "--scheduler", "10.231.0.1:7071", "--id", "\(worker)", "--metrics", "off"]))
        }
        // Training across the hosts: the shard map names their own addresses, and epochs finish.
        #expect(await scheduler.waitForOutput("epoch 2/", timeout: .seconds(180)), "\(scheduler.stdout)\n\(scheduler.stderr)")
        #expect(scheduler.stdout.contains("10.231.0.2:") && scheduler.stdout.contains("10.231.0.3:"), "\(scheduler.stdout)")

        // Shard 1's host drops off the network; its process keeps running, unreachable.
        let cut = ContinuousClock.now
        try hosts.cut(index: 2)
        let status = await scheduler.wait(timeout: .seconds(60))
        let detected = ContinuousClock.now - cut
        #expect(status != 0, "the scheduler must end the job: \(scheduler.stdout)")
        let output = scheduler.stdout + scheduler.stderr
        #expect(output.contains("server 1") || output.contains("shard 1"), "the lost host is named: \(output)")
        #expect(detected < .seconds(30), "detected after \(detected)")
        // The members that can still reach the scheduler are told to stop and exit.
        for (index, member) in members.enumerated() where index != 1 {
            #expect(await member.wait(timeout: .seconds(30)) >= 0)
        }
    }
}
