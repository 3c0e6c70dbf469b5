import Foundation
import Testing
import TesseraObservability
import TesseraRPC
#if canImport(Glibc)
import Glibc
#endif

/// Metrics endpoints, `tessera status` and `tessera report` on a live cluster of real processes.
@Suite(.serialized) struct ObservabilityClusterTests {
    /// Scrapes `address` and parses the text (which must be valid Prometheus exposition text).
    static func scrape(_ address: String) async throws -> PrometheusText {
        try PrometheusText(parsing: try await MetricsScraper.scrape(address))
    }

    /// The sum of `name` over every shard's endpoint.
    static func shardTotal(_ name: String, _ shards: [String]) async throws -> Double {
        var total = 0.0
        for shard in shards { total += try await scrape(shard).value(name) ?? 0 }
        return total
    }

    @Test func metricsStatusAndReportOfALiveCluster() async throws {
        let dir = try Harness.temporaryDirectory()
        let config = try Harness.writeConfig(in: dir, epochs: 3, extra: """
            online: {workers: 1, batch_size: 8, fsync: false}
            metrics: {enabled: true, host: 127.0.0.1, port: 0}
            """)
        let launch = try Spawned(["launch", config, "--serve", "--run-dir", "run"], in: dir)
        defer { launch.killTree() }
        #expect(await launch.waitForOutput("serving at", timeout: .seconds(180)), "\(launch.stdout)\n\(launch.stderr)")
        let address = try String(contentsOf: dir.appendingPathComponent("run/scheduler.address"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)

        // tessera status: members, shard map, progress, health.
        let status = try Spawned(["status", "--scheduler", address], in: dir)
        #expect(await status.wait(timeout: .seconds(30)) == 0, "\(status.stderr)")
        let text = status.stdout
        for expected in ["members (5)", "server", "online worker", "shard map  version 1, 2 shards", "epoch 3/3", "health", "metrics    http://"] {
            #expect(text.contains(expected), "tessera status lacks '\(expected)':\n\(text)")
        }
        let job = try await SchedulerClient(channel: try GRPCChannel(target: address)).getJobStatus()
        #expect(job.members.count == 5)
        let shards = job.members.filter { $0.role == .server }.map(\.metricsAddress)
        #expect(shards.count == 2 && shards.allSatisfy { !$0.isEmpty }, "\(job.members)")
        #expect(job.members.allSatisfy { $0.pid > 0 })
        #expect(!job.metricsAddress.isEmpty)

        // The scheduler's metrics: named series, and Recommend counters that move.
        let before = try await Self.scrape(job.metricsAddress)
        #expect(before.value("tessera_training_epoch") == 3)
        #expect(before.value("tessera_training_best_metric", where: ["metric": "ndcg@10"]) ?? 0 > 0)
        #expect(before.value("tessera_cluster_members", where: ["role": "server"]) == 2)
        #expect(before.types["tessera_inference_seconds"] == "histogram")
        let recommends = before.value("tessera_inference_requests_total", where: ["method": "recommend"]) ?? -1
        let inference = InferenceClient(channel: try GRPCChannel(target: address))
        for user in 1...3 {
            var request = Tessera_V1_RecommendRequest()
            request.userID = "\(user)"
            request.k = 5
            _ = try await inference.recommend(request, options: CallOptions(timeout: .seconds(10)))
        }
        let after = try await Self.scrape(job.metricsAddress)
        #expect(after.value("tessera_inference_requests_total", where: ["method": "recommend"]) == recommends + 3)
        #expect(after.value("tessera_inference_seconds_count", where: ["method": "recommend"]) ?? 0 >= recommends + 3)

        // A shard's metrics: rows, traffic, latency histograms, hot keys; pushes move the counters.
        let shard = try await Self.scrape(shards[0])
        #expect(shard.value("tessera_shard_rows", where: ["table": "item"]) ?? 0 > 0)
        #expect(shard.value("tessera_shard_bytes") ?? 0 > 0)
        #expect(shard.value("tessera_shard_pull_requests_total") ?? 0 > 0)
        #expect(shard.buckets("tessera_shard_pull_seconds").count > 5)
        #expect(!shard.samples("tessera_shard_hot_key_pulls").isEmpty)
        #expect(shard.value("tessera_shard_map_version") == 1)
        #expect(shard.samples("tessera_shard_admissions_total").count == 1)
        let pushes = try await Self.shardTotal("tessera_shard_push_requests_total", shards)
        for index in 0..<16 {
            var event = Tessera_V1_FeedbackRequest()
            event.userID = "\(index % 4 + 1)"
            event.itemID = "\(index + 1)"
            event.event = .click
            _ = try await inference.feedback(event, options: CallOptions(timeout: .seconds(10)))
        }
        // The online worker learns from the clicks: it pushes gradients to the shards.
        let deadline = ContinuousClock.now + .seconds(60)
        var moved = pushes
        while moved <= pushes, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(200))
            moved = try await Self.shardTotal("tessera_shard_push_requests_total", shards)
        }
        #expect(moved > pushes, "no shard counted a push after 16 clicks")
        let scheduler = try await Self.scrape(job.metricsAddress)
        #expect(scheduler.value("tessera_feedback_log_end_offset") ?? 0 >= 16)
        #expect(scheduler.value("tessera_inference_requests_total", where: ["method": "feedback"]) == 16)

        // Every process's endpoint is listed in the run directory.
        let listed = try String(contentsOf: dir.appendingPathComponent("run/metrics-addresses.txt"), encoding: .utf8)
        for name in ["scheduler", "server-0", "server-1", "worker-0", "worker-1", "online-0"] {
            #expect(listed.contains(name + " "), "metrics-addresses.txt lacks \(name):\n\(listed)")
        }

        // Ctrl-C: the launcher snapshots every endpoint into the run directory, then stops.
        launch.signal(SIGINT)
        #expect(await launch.wait(timeout: .seconds(60)) == 130)
        #expect(Harness.children(of: launch.pid).isEmpty)
        let run = dir.appendingPathComponent("run")
        for file in ["summary.json", "metrics/scheduler.prom", "metrics/server-0.prom", "metrics/server-1.prom"] {
            #expect(FileManager.default.fileExists(atPath: run.appendingPathComponent(file).path), "run/\(file) is missing")
        }

        // tessera report: a self-contained page whose plots render in headless Chromium.
        let report = try Spawned(["report", "run"], in: dir)
        #expect(await report.wait(timeout: .seconds(30)) == 0, "\(report.stderr)")
        let page = try String(contentsOf: run.appendingPathComponent("report.html"), encoding: .utf8)
        #expect(!page.contains("<script") && !page.contains("src=\"http") && !page.contains("href=\"http"), "the report is not self-contained")
        let dom = try await Chromium.dumpDOM(of: run.appendingPathComponent("report.html"))
        for plot in ["loss", "ndcg", "throughput"] {
            #expect(Chromium.linePlotRendered(plot, in: dom), "plot '\(plot)' has no drawn line in Chromium's DOM")
        }
        for plot in ["rows", "traffic", "pull-latency", "push-latency", "inference-latency"] {
            #expect(Chromium.barPlotRendered(plot, in: dom), "plot '\(plot)' has no bars in Chromium's DOM")
        }
    }
}

/// Headless Chromium (Debian's `chromium`): loads a page and returns the DOM it built.
enum Chromium {
    static var binary: String? {
        ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static func dumpDOM(of file: URL) async throws -> String {
        guard let binary else {
            Issue.record("chromium is not installed (scripts/install-deps.sh installs Debian's chromium)")
            return ""
        }
        let profile = try Harness.temporaryDirectory()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--user-data-dir=\(profile.path)",
                             "--dump-dom", file.absoluteString]
        let out = profile.appendingPathComponent("dom.html")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        process.standardOutput = FileHandle(forWritingAtPath: out.path)
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        let deadline = ContinuousClock.now + .seconds(60)
        while process.isRunning && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(100)) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            Issue.record("chromium did not finish within 60 s")
        }
        return try String(contentsOf: out, encoding: .utf8)
    }

    /// The `<svg data-plot="id">` element's markup as Chromium serialized it.
    static func plot(_ id: String, in dom: String) -> Substring? {
        guard let start = dom.range(of: "data-plot=\"\(id)\"") else { return nil }
        guard let end = dom[start.upperBound...].range(of: "</svg>") else { return nil }
        return dom[start.lowerBound..<end.upperBound]
    }

    /// The plot exists and holds a series path with at least two points.
    static func linePlotRendered(_ id: String, in dom: String) -> Bool {
        guard let svg = plot(id, in: dom), let d = svg.range(of: "class=\"series\"") else { return false }
        guard let path = svg[d.upperBound...].range(of: "d=\"M") else { return false }
        let rest = svg[path.upperBound...].prefix { $0 != "\"" }
        return rest.contains("L")
    }

    /// The plot exists and holds at least one bar.
    static func barPlotRendered(_ id: String, in dom: String) -> Bool {
        guard let svg = plot(id, in: dom) else { return false }
        return svg.contains("class=\"bar\"")
    }
}
