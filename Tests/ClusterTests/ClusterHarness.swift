import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Starts the real `tessera` binary as a user would, with output captured in
/// files, and makes sure nothing it started outlives a test.
final class Spawned: @unchecked Sendable {
    let process = Process()
    let stdoutPath: String
    let stderrPath: String

    /// Starts `tessera arguments…` (or `executable arguments…`) in `directory`.
    init(_ arguments: [String], in directory: URL, environment: [String: String] = [:], executable: String = Harness.binary) throws {
        let id = UUID().uuidString.prefix(8)
        stdoutPath = directory.appendingPathComponent("stdout-\(id).txt").path
        stderrPath = directory.appendingPathComponent("stderr-\(id).txt").path
        _ = FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = directory
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        process.environment = env
        process.standardOutput = FileHandle(forWritingAtPath: stdoutPath)
        process.standardError = FileHandle(forWritingAtPath: stderrPath)
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }
    var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    /// Waits for exit; on timeout kills the whole tree and records a failure.
    @discardableResult
    func wait(timeout: Duration) async -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        if process.isRunning {
            Issue.record("tessera \(process.arguments ?? []) did not exit within \(timeout)\nstdout:\n\(stdout)\nstderr:\n\(stderr)")
            killTree()
            process.waitUntilExit()
        }
        return process.terminationStatus
    }

    /// Waits until stdout contains `text`; false on timeout or exit.
    func waitForOutput(_ text: String, timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if stdout.contains(text) { return true }
            if !process.isRunning { return stdout.contains(text) }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    func signal(_ number: Int32) {
        kill(pid, number)
    }

    /// Kills this process and every process it launched.
    func killTree() {
        for child in Harness.children(of: pid) { kill(child, SIGKILL) }
        kill(pid, SIGKILL)
    }

    deinit {
        if process.isRunning { killTree() }
    }
}

enum Harness {
    /// The `tessera` executable built beside the test bundle.
    static let binary: String = {
        if let override = ProcessInfo.processInfo.environment["TESSERA_BIN"] { return override }
        let here = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        return here.appendingPathComponent("tessera").path
    }()

    /// The repository root (for Cluster/ and examples/).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// A fresh temporary folder.
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-test-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Processes whose environment says the launcher with `pid` started them.
    static func children(of pid: Int32) -> [Int32] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        let marker = "TESSERA_PARENT_PID=\(pid)"
        return entries.compactMap { Int32($0) }.filter { candidate in
            guard let data = FileManager.default.contents(atPath: "/proc/\(candidate)/environ") else { return false }
            return data.split(separator: 0).contains { String(decoding: $0, as: UTF8.self) == marker }
        }
    }

    /// The pid of the launched role whose command line holds all of `words`.
    static func child(of pid: Int32, matching words: [String]) -> Int32? {
        children(of: pid).first { candidate in
            guard let data = FileManager.default.contents(atPath: "/proc/\(candidate)/cmdline") else { return false }
            let arguments = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            return words.allSatisfy(arguments.contains)
        }
    }

    /// A TCP port on 127.0.0.1 that nothing listens on right now.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0 else { throw POSIXError(.EADDRINUSE) }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// A small, fast cluster config: 2 shards, 2 workers, synthetic data, OS-picked port.
    static func writeConfig(in directory: URL, epochs: Int = 8, extra: String = "") throws -> String {
        let path = directory.appendingPathComponent("cluster.yaml").path
        try """
            name: test
            scheduler: {host: 127.0.0.1, port: 0, heartbeat_interval: 0.2, heartbeat_timeout: 5}
            shards: 2
            workers: 2
            data:
              synthetic: {users: 600, items: 300, interactions_per_user: 25, seed: 3}
            model: {kind: bpr_mf, l2: 0.0001}
            tables:
              - {name: user, dim: 32, optimizer: {kind: adagrad, learning_rate: 0.1}}
              - {name: item, dim: 32, optimizer: {kind: adagrad, learning_rate: 0.1}}
            training: {epochs: \(epochs), batch_size: 512, patience: 0, progress_interval: 1}
            \(extra)
            """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}
