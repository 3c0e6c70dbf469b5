import Foundation
import Testing
import Yams

/// Paths, commands and manifest loading shared by the deployment tests.
enum Deploy {
    /// The repository root.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let k8s = root.appendingPathComponent("Cluster/k8s")

    /// The `tessera` executable built beside the test bundle (or `TESSERA_BIN`).
    static let binary: String = {
        if let override = ProcessInfo.processInfo.environment["TESSERA_BIN"] { return override }
        let here = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        return here.appendingPathComponent("tessera").path
    }()

    /// The schema validator that `scripts/python-venv.sh` installs into `.venv`
    /// (`TESSERA_KUBERNETES_VALIDATE` overrides), if it is there.
    static let validator: String? = {
        let candidates: [String?] = [ProcessInfo.processInfo.environment["TESSERA_KUBERNETES_VALIDATE"],
                                     root.appendingPathComponent(".venv/bin/kubernetes-validate").path]
        return candidates.compactMap { $0 }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    /// The first of `names` found on PATH (or in /usr/bin, /bin).
    static func tool(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let folders = path.split(separator: ":").map(String.init) + ["/usr/bin", "/bin", "/usr/sbin", "/sbin"]
        return folders.map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs `executable arguments…` to completion (killed after `timeout`).
    ///
    /// Waits without blocking a thread: tests run on a cooperative pool as wide as the
    /// machine (2 threads here), which in-process gRPC servers of other tests need too.
    static func run(_ executable: String, _ arguments: [String], timeout: Duration = .seconds(60)) async throws -> Output {
        let folder = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let stdoutURL = folder.appendingPathComponent("stdout"), stderrURL = folder.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: stdoutURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrURL.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: stdoutURL)
        process.standardError = try FileHandle(forWritingTo: stderrURL)
        let watchdog = Task {
            try await Task.sleep(for: timeout)
            if process.isRunning { process.terminate() }
        }
        defer { watchdog.cancel() }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            process.terminationHandler = { _ in continuation.resume() }
            do {
                try process.run()
            } catch {
                process.terminationHandler = nil
                continuation.resume(throwing: error)
            }
        }
        return Output(status: process.terminationStatus,
                      stdout: (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? "",
                      stderr: (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? "")
    }

    /// A fresh temporary folder.
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-deploy-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// One YAML file of `Cluster/k8s`, split into its documents.
struct ManifestFile {
    var name: String
    var text: String
    var documents: [[String: Any]]

    init(name: String, text: String) throws {
        self.name = name
        self.text = text
        documents = try Yams.load_all(yaml: text).compactMap { $0 as? [String: Any] }
    }

    init(_ name: String, in folder: URL = Deploy.k8s) throws {
        try self.init(name: name, text: String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8))
    }
}

/// The manifests that `kustomization.yaml` lists, parsed.
struct Manifests {
    var kustomization: [String: Any]
    var files: [ManifestFile]

    init() throws {
        let text = try String(contentsOf: Deploy.k8s.appendingPathComponent("kustomization.yaml"), encoding: .utf8)
        let kustomization = try #require(try Yams.load(yaml: text) as? [String: Any])
        self.kustomization = kustomization
        files = try ((kustomization["resources"] as? [String]) ?? []).map { try ManifestFile($0) }
    }

    var resources: [String] { (kustomization["resources"] as? [String]) ?? [] }

    var documents: [[String: Any]] { files.flatMap(\.documents) }

    /// The one object of `kind` named `name`.
    func object(_ kind: String, _ name: String) throws -> [String: Any] {
        let matches = documents.filter { $0["kind"] as? String == kind && $0.path("metadata", "name") as? String == name }
        return try #require(matches.count == 1 ? matches.first : nil, "expected exactly one \(kind) \(name), found \(matches.count)")
    }
}

/// Kubernetes' schemas applied with `kubernetes-validate --strict` (unknown fields are errors).
enum SchemaValidator {
    struct Result {
        var passed: Bool
        var report: String
    }

    /// Validates `files` against Kubernetes `version`: passes only if every document of every
    /// file validated (an unknown kind, which the tool merely warns about, fails too).
    static func validate(_ files: [URL], version: String) async throws -> Result {
        guard let validator = Deploy.validator else {
            return Result(passed: false, report: "no kubernetes-validate: scripts/python-venv.sh installs it into .venv")
        }
        let documents = try files.reduce(0) { count, url in
            count + (try ManifestFile(name: url.lastPathComponent, text: String(contentsOf: url, encoding: .utf8))).documents.count
        }
        let output = try await Deploy.run(validator, ["--strict", "--kubernetes-version", version] + files.map(\.path))
        let report = output.stdout + output.stderr
        let lines = report.split(separator: "\n")
        let validated = lines.filter { $0.contains("passed for resource") }.count
        let problems = lines.filter { $0.hasPrefix("WARN") || $0.hasPrefix("ERROR") }
        let passed = output.status == 0 && problems.isEmpty && validated == documents && documents > 0
        return Result(passed: passed, report: "exit \(output.status), \(validated) of \(documents) documents passed\n\(report)")
    }
}

extension Dictionary where Key == String, Value == Any {
    /// The value at a path of keys (strings) and list indices (ints), if every step exists.
    func path(_ steps: Any...) -> Any? {
        var current: Any? = self
        for step in steps {
            switch (current, step) {
            case (let map as [String: Any], let key as String): current = map[key]
            case (let list as [Any], let index as Int): current = index < list.count ? list[index] : nil
            default: return nil
            }
        }
        return current
    }
}
