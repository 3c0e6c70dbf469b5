// swift-tools-version:6.0
// Tessera: a sharded parameter server for recommendation models.
// One target per layer, lowest first; see README.md ("Architecture").

import PackageDescription

let package = Package(
    name: "Tessera",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "tessera", targets: ["tessera"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", exact: "2.4.1"),
        .package(url: "https://github.com/swhitty/FlyingFox", exact: "0.27.1"),
    ],
    targets: [
        // C++ gRPC (Debian's libgrpc++ 1.51) behind a plain-C API. Linked explicitly:
        // pkg-config's flag list for grpc++ is too long for SwiftPM.
        .target(
            name: "CGRPCShim",
            linkerSettings: [
                .linkedLibrary("grpc++"),
                .linkedLibrary("grpc"),
                .linkedLibrary("gpr"),
                .linkedLibrary("protobuf"),
                .linkedLibrary("absl_synchronization"),
                .linkedLibrary("stdc++"),
            ]
        ),
        // OpenBLAS's cblas.h.
        .systemLibrary(name: "CBLAS"),

        // Pure logic: keys, ring, tables, optimizers, models, metrics, data, config.
        .target(
            name: "TesseraCore",
            dependencies: [
                "CBLAS",
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        // The Swift face of the shim, and the generated protobuf messages.
        .target(
            name: "TesseraRPC",
            dependencies: [
                "CGRPCShim",
                "TesseraCore",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Prometheus metrics (one registry per process, passed down), their HTTP endpoint,
        // scraping, and the HTML run report.
        .target(
            name: "TesseraObservability",
            dependencies: [
                "TesseraCore",
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "FlyingFox", package: "FlyingFox"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Roles.
        .target(
            name: "TesseraServer",
            dependencies: ["TesseraCore", "TesseraRPC", "TesseraObservability",
                           .product(name: "Logging", package: "swift-log")]
        ),
        .target(
            name: "TesseraWorker",
            dependencies: ["TesseraCore", "TesseraRPC", "TesseraObservability",
                           .product(name: "Logging", package: "swift-log")]
        ),
        .target(
            name: "TesseraScheduler",
            dependencies: ["TesseraCore", "TesseraRPC", "TesseraObservability",
                           .product(name: "Logging", package: "swift-log")]
        ),
        .target(
            name: "TesseraLauncher",
            dependencies: ["TesseraCore", "TesseraRPC", "TesseraObservability",
                           .product(name: "Logging", package: "swift-log")]
        ),
        // Benchmarks that start real shard processes and measure them against baselines.
        .target(
            name: "TesseraBench",
            dependencies: ["TesseraCore", "TesseraRPC", "TesseraScheduler", "TesseraLauncher",
                           .product(name: "Logging", package: "swift-log")]
        ),
        // Argument parsing and wiring only.
        .executableTarget(
            name: "tessera",
            dependencies: [
                "TesseraCore", "TesseraRPC", "TesseraServer", "TesseraWorker",
                "TesseraScheduler", "TesseraLauncher", "TesseraBench", "TesseraObservability",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // Fuzzing of the config, data and wire parsers. `make fuzz` builds it with libFuzzer
        // (-sanitize=fuzzer -DTESSERA_LIBFUZZER); the ordinary build replays a corpus.
        .executableTarget(
            name: "tessera-fuzz",
            dependencies: ["TesseraCore", "TesseraRPC", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
            path: "Sources/TesseraFuzz"
        ),

        .testTarget(name: "TesseraCoreTests", dependencies: ["TesseraCore"]),
        .testTarget(name: "TesseraObservabilityTests", dependencies: ["TesseraObservability", "TesseraCore"]),
        .testTarget(name: "TesseraRPCTests", dependencies: ["TesseraRPC", "TesseraCore", "TesseraServer"]),
        .testTarget(
            name: "ClusterTests",
            dependencies: ["TesseraCore", "TesseraRPC", "TesseraObservability"]
        ),
        // Cluster/k8s manifests, Cluster/Containerfile and Cluster/multihost.yaml.
        .testTarget(
            name: "DeployTests",
            dependencies: ["TesseraCore", .product(name: "Yams", package: "Yams")]
        ),
    ],
    swiftLanguageModes: [.v6],
    cxxLanguageStandard: .cxx17
)
