import Foundation
import Testing

/// `Cluster/k8s` against Kubernetes' own OpenAPI-derived JSON schemas, with a real validator.
@Suite struct ManifestSchemaTests {
    /// The oldest Kubernetes the manifests need (the StatefulSet pod-index label is 1.28+),
    /// and the newest whose schemas the pinned validator ships.
    static let versions = ["1.28.0", "1.34.0"]

    @Test func everyManifestIsInTheKustomization() throws {
        let manifests = try Manifests()
        let onDisk = try FileManager.default.contentsOfDirectory(atPath: Deploy.k8s.path)
            .filter { $0.hasSuffix(".yaml") && $0 != "kustomization.yaml" }
        #expect(Set(manifests.resources) == Set(onDisk), "kustomization.yaml lists \(manifests.resources.sorted()); the folder has \(onDisk.sorted())")
        #expect(manifests.kustomization["kind"] as? String == "Kustomization")
        #expect(manifests.kustomization["apiVersion"] as? String == "kustomize.config.k8s.io/v1beta1")
        let kinds = Set(manifests.documents.compactMap { $0["kind"] as? String })
        #expect(kinds.isSuperset(of: ["StatefulSet", "Service", "Job", "Deployment", "ConfigMap"]), "kinds: \(kinds.sorted())")
    }

    @Test(arguments: versions)
    func manifestsMatchTheKubernetesSchemas(version: String) async throws {
        let files = try Manifests().resources.map { Deploy.k8s.appendingPathComponent($0) }
        let result = try await SchemaValidator.validate(files, version: version)
        #expect(result.passed, "\(result.report)")
    }

    /// One way of breaking one manifest: `original` replaced by `broken` in `file`.
    struct Breakage: Sendable, CustomTestStringConvertible {
        var what, file, original, broken: String
        init(_ what: String, _ file: String, _ original: String, _ broken: String) {
            (self.what, self.file, self.original, self.broken) = (what, file, original, broken)
        }
        var testDescription: String { "\(what) in \(file)" }
    }

    static let breakages: [Breakage] = [
        .init("a string where an integer belongs", "shards.yaml", "replicas: 2", "replicas: two"),
        .init("an unknown field (strict)", "shards.yaml", "podManagementPolicy: Parallel", "podManagementPolicy: Parallel\n  replica: 3"),
        .init("a missing required field", "scheduler.yaml", "containerPort: 7070", "portNumber: 7070"),
        .init("a misspelt kind", "workers.yaml", "kind: Job", "kind: Jobb"),
        .init("a wrong apiVersion", "scheduler.yaml", "apiVersion: apps/v1", "apiVersion: apps/v1beta9"),
        .init("a probe of an unknown type", "shards.yaml", "grpc: {port: 7071}", "grcp: {port: 7071}"),
        .init("a bad enum-like value in a list", "workers.yaml", "restartPolicy: OnFailure", "restartPolicy: [OnFailure]"),
    ]

    @Test(arguments: breakages)
    func aBrokenManifestIsRejected(breakage: Breakage) async throws {
        let folder = try Deploy.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        var files: [URL] = []
        for name in try Manifests().resources {
            var text = try String(contentsOf: Deploy.k8s.appendingPathComponent(name), encoding: .utf8)
            if name == breakage.file {
                #expect(text.contains(breakage.original), "\(name) no longer contains '\(breakage.original)'; update this test")
                text = text.replacingOccurrences(of: breakage.original, with: breakage.broken)
            }
            let url = folder.appendingPathComponent(name)
            try text.write(to: url, atomically: true, encoding: .utf8)
            files.append(url)
        }
        let result = try await SchemaValidator.validate(files, version: Self.versions[0])
        #expect(Deploy.validator != nil, "no kubernetes-validate: scripts/python-venv.sh installs it into .venv")
        #expect(!result.passed, "\(breakage.what) in \(breakage.file) was accepted:\n\(result.report)")
    }
}
