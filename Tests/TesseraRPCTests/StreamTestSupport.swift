import Foundation

/// Runs small Python gRPC clients (the `.venv` that `make test` prepares) against
/// servers of the test process: our Swift client makes unary calls only, so
/// multi-message streams and the standard reflection client are driven from Python.
enum PythonScript {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The venv's interpreter (or `TESSERA_PYTHON`), if it exists.
    static var interpreter: String? {
        let candidates: [String?] = [ProcessInfo.processInfo.environment["TESSERA_PYTHON"],
                                     root.appendingPathComponent(".venv/bin/python").path]
        return candidates.compactMap { $0 }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        var lines: [String] { stdout.split(separator: "\n").map(String.init) }
    }

    /// Whether `python` can import every module in `modules`.
    static func canImport(_ modules: [String], python: String) async -> Bool {
        let result = try? await run("import " + modules.joined(separator: ", ") + "\n", arguments: [], python: python)
        return result?.status == 0
    }

    /// Writes `source` to a temporary file and runs it with `arguments`, killing it
    /// after `timeout`. Waits without blocking a thread of Swift's cooperative pool,
    /// which the server under test needs.
    static func run(_ source: String, arguments: [String], python: String,
                    timeout: Duration = .seconds(60)) async throws -> Result {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("tessera-python-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let script = directory.appendingPathComponent("client.py")
        let stdoutFile = directory.appendingPathComponent("stdout")
        let stderrFile = directory.appendingPathComponent("stderr")
        try source.write(to: script, atomically: true, encoding: .utf8)
        _ = FileManager.default.createFile(atPath: stdoutFile.path, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrFile.path, contents: nil)
        let stdout = try FileHandle(forWritingTo: stdoutFile)
        let stderr = try FileHandle(forWritingTo: stderrFile)
        defer {
            try? stdout.close()
            try? stderr.close()
        }

        let process = ProcessBox(Process())
        process.value.executableURL = URL(fileURLWithPath: python)
        process.value.arguments = [script.path] + arguments
        process.value.standardOutput = stdout
        process.value.standardError = stderr
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.value.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do {
                try process.value.run()
            } catch {
                continuation.resume(throwing: error)
                return
            }
            Task {
                try? await Task.sleep(for: timeout)
                if process.value.isRunning { process.value.terminate() }
            }
        }
        return Result(status: status,
                      stdout: (try? String(contentsOf: stdoutFile, encoding: .utf8)) ?? "",
                      stderr: (try? String(contentsOf: stderrFile, encoding: .utf8)) ?? "")
    }
}

/// Lets a `Process` be touched from the timeout task; Foundation's Process is thread-safe
/// for `isRunning` and `terminate`.
private final class ProcessBox: @unchecked Sendable {
    let value: Process
    init(_ value: Process) { self.value = value }
}
