import Foundation
import Testing
import TesseraCore

/// The manifests agree with each other, with the cluster config they carry, and
/// with the command line of the `tessera` binary they run.
@Suite struct ManifestConsistencyTests {
    /// The cluster YAML in the ConfigMap, parsed by Tessera's own config parser.
    static func clusterConfig(_ manifests: Manifests) throws -> ClusterConfig {
        let configMap = try manifests.object("ConfigMap", "tessera-config")
        let yaml = try #require(configMap.path("data", "cluster.yaml") as? String, "the ConfigMap has no data.cluster.yaml")
        return try ClusterConfig.parse(yaml: yaml, file: "Cluster/k8s/configmap.yaml (cluster.yaml)")
    }

    static func container(_ object: [String: Any]) throws -> [String: Any] {
        try #require(object.path("spec", "template", "spec", "containers", 0) as? [String: Any])
    }

    static func arguments(_ container: [String: Any]) -> [String] {
        (container["args"] as? [Any] ?? []).map { "\($0)" }
    }

    /// The value after `flag` in `arguments`.
    static func value(of flag: String, in arguments: [String]) -> String? {
        arguments.firstIndex(of: flag).flatMap { $0 + 1 < arguments.count ? arguments[$0 + 1] : nil }
    }

    static func containerPort(_ container: [String: Any]) -> Int? {
        container.path("ports", 0, "containerPort") as? Int
    }

    @Test func theConfigMapHoldsAConfigTesseraAccepts() throws {
        let config = try Self.clusterConfig(Manifests())
        #expect(config.scheduler.host == "0.0.0.0", "the scheduler must listen on the pod's interfaces, not \(config.scheduler.host)")
        #expect(config.scheduler.port != 0, "members are told the scheduler's port: it cannot be OS-picked")
        #expect(config.data.mode == .synthetic || config.data.path?.hasPrefix("/") == true)
    }

    @Test func countsAndPortsAgreeWithTheConfig() throws {
        let manifests = try Manifests()
        let config = try Self.clusterConfig(manifests)

        // Scheduler: container port, Service port and the config's port are one.
        let schedulerDeployment = try manifests.object("Deployment", "tessera-scheduler")
        let scheduler = try Self.container(schedulerDeployment)
        #expect(Self.containerPort(scheduler) == config.scheduler.port)
        let schedulerService = try manifests.object("Service", "tessera-scheduler")
        #expect(schedulerService.path("spec", "ports", 0, "port") as? Int == config.scheduler.port)
        #expect(schedulerService.path("spec", "ports", 0, "targetPort") as? String == scheduler.path("ports", 0, "name") as? String)
        #expect(schedulerDeployment.path("spec", "replicas") as? Int == 1)
        #expect(schedulerDeployment.path("spec", "strategy", "type") as? String == "Recreate")
        let schedulerAddress = "tessera-scheduler:\(config.scheduler.port)"

        // The scheduler reads the ConfigMap's file where it is mounted.
        let configPath = Self.arguments(scheduler).dropFirst().first ?? ""
        let mount = try #require((scheduler["volumeMounts"] as? [[String: Any]])?.first { $0["name"] as? String == "config" })
        let mountPath = try #require(mount["mountPath"] as? String)
        #expect(configPath == "\(mountPath)/cluster.yaml")
        let volume = (schedulerDeployment.path("spec", "template", "spec", "volumes") as? [[String: Any]])?.first { $0["name"] as? String == "config" }
        #expect(volume?.path("configMap", "name") as? String == "tessera-config")

        // Shards: one pod per configured shard, behind the headless Service the StatefulSet names.
        let statefulSet = try manifests.object("StatefulSet", "tessera-shard")
        #expect(statefulSet.path("spec", "replicas") as? Int == config.shards)
        let headless = try manifests.object("Service", try #require(statefulSet.path("spec", "serviceName") as? String))
        #expect(headless.path("spec", "clusterIP") as? String == "None")
        let shard = try Self.container(statefulSet)
        let shardArguments = Self.arguments(shard)
        #expect(Self.value(of: "--scheduler", in: shardArguments) == schedulerAddress)
        #expect(Self.value(of: "--port", in: shardArguments) == Self.containerPort(shard).map(String.init))
        #expect(headless.path("spec", "ports", 0, "port") as? Int == Self.containerPort(shard))
        #expect(Self.value(of: "--advertise", in: shardArguments)?.contains(".\(headless.path("metadata", "name") as? String ?? "?").") == true)
        #expect(Self.value(of: "--id", in: shardArguments) != nil, "shards should take their StatefulSet ordinal as shard id")

        // Workers: one per configured data shard, each with its completion index as id.
        let job = try manifests.object("Job", "tessera-worker")
        #expect(job.path("spec", "parallelism") as? Int == config.workers)
        #expect(job.path("spec", "completions") as? Int == config.workers)
        #expect(job.path("spec", "completionMode") as? String == "Indexed")
        let workerArguments = Self.arguments(try Self.container(job))
        #expect(Self.value(of: "--scheduler", in: workerArguments) == schedulerAddress)
        #expect(Self.value(of: "--id", in: workerArguments) != nil)

        // gRPC probes ask the port each process serves on; every container has requests and limits.
        for (object, served) in [(schedulerDeployment, true), (statefulSet, true), (job, false)] {
            let container = try Self.container(object)
            for probe in ["readinessProbe", "livenessProbe"] {
                if served {
                    #expect(container.path(probe, "grpc", "port") as? Int == Self.containerPort(container), "\(probe) of \(container["name"] ?? "?")")
                }
            }
            for bound in ["requests", "limits"] {
                #expect(container.path("resources", bound, "cpu") != nil && container.path("resources", bound, "memory") != nil,
                        "\(container["name"] ?? "?") lacks resources.\(bound)")
            }
            #expect(object.path("spec", "template", "spec", "securityContext", "runAsNonRoot") as? Bool == true)
        }
    }

    /// Every `--flag` a container passes exists in that `tessera` subcommand's `--help`.
    @Test func containerFlagsExistInTheBinary() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Deploy.binary), "no tessera binary at \(Deploy.binary) (swift build builds it)")
        let manifests = try Manifests()
        var checked = 0
        for document in manifests.documents {
            guard let containers = document.path("spec", "template", "spec", "containers") as? [[String: Any]] else { continue }
            for container in containers {
                let arguments = Self.arguments(container)
                #expect(container["command"] == nil, "the image's entrypoint is tessera; give arguments with args")
                let subcommand = try #require(arguments.first)
                let help = try await Deploy.run(Deploy.binary, [subcommand, "--help"])
                #expect(help.status == 0, "tessera \(subcommand) --help failed: \(help.stderr)")
                let text = help.stdout + help.stderr
                for flag in arguments where flag.hasPrefix("--") {
                    #expect(text.contains(flag + " ") || text.contains(flag + "\n") || text.contains(flag + ","),
                            "tessera \(subcommand) has no \(flag):\n\(text)")
                    checked += 1
                }
            }
        }
        #expect(checked >= 8)
    }

    /// Every config in Cluster/ (the multi-host example too) parses; the multi-host one binds a
    /// real interface on a fixed port.
    @Test func clusterConfigsParse() throws {
        let folder = Deploy.root.appendingPathComponent("Cluster")
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".yaml") }
        #expect(names.contains("multihost.yaml"))
        for name in names {
            _ = try ClusterConfig.load(path: folder.appendingPathComponent(name).path)
        }
        let multihost = try ClusterConfig.load(path: folder.appendingPathComponent("multihost.yaml").path)
        #expect(!["127.0.0.1", "localhost", "::1"].contains(multihost.scheduler.host))
        #expect(multihost.scheduler.port != 0)
        #expect(multihost.shards > 1 && multihost.workers > 1)
    }
}
