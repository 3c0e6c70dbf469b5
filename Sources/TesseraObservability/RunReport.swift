import Foundation

/// `tessera report RUN_DIR`: one self-contained HTML page (inline SVG, no
/// scripts, no external assets) about a finished run.
///
/// What it reads from the run directory (all written by `tessera launch`):
/// - `summary.json`: per-epoch loss, validation metrics and examples/s, the
///   test metrics (`RunSummary`);
/// - `metrics/<process>.prom`: each process's last Prometheus scrape (shards:
///   `server-<id>.prom`, the scheduler: `scheduler.prom`) for rows, traffic
///   and latency histograms.
/// A missing part is reported on the page as missing, not an error; a run
/// directory with neither is refused.
public struct RunReport: Sendable {
    public struct Epoch: Sendable {
        public var epoch: Int
        public var loss: Double
        public var examplesPerSecond: Double
        public var metrics: [String: Double]
    }

    public var title = ""
    public var state = ""
    public var epochs: [Epoch] = []
    public var test: [String: Double] = [:]
    public var bestEpoch = 0
    /// Process name ("server-0", "scheduler", …) to its last scrape.
    public var scrapes: [String: PrometheusText] = [:]
    public var notes: [String] = []

    /// Reads what `directory` holds.
    public init(directory: String) throws {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ObservabilityError("\(directory) is not a directory (expected a run directory of tessera launch)")
        }
        title = URL(fileURLWithPath: directory).lastPathComponent
        let summaryPath = "\(directory)/summary.json"
        if let data = fm.contents(atPath: summaryPath) {
            try readSummary(data, path: summaryPath)
        } else {
            notes.append("no summary.json in \(directory): loss, NDCG and throughput per epoch are missing")
        }
        let metricsDirectory = "\(directory)/metrics"
        let files = ((try? fm.contentsOfDirectory(atPath: metricsDirectory)) ?? []).filter { $0.hasSuffix(".prom") }.sorted()
        for file in files {
            let path = "\(metricsDirectory)/\(file)"
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { continue }
            do {
                scrapes[String(file.dropLast(5))] = try PrometheusText(parsing: text)
            } catch {
                notes.append("\(path): \(error)")
            }
        }
        if files.isEmpty {
            notes.append("no metrics/*.prom in \(directory): rows, traffic and latencies per process are missing")
        }
        if epochs.isEmpty && scrapes.isEmpty {
            throw ObservabilityError("\(directory) holds neither summary.json nor metrics/*.prom: nothing to report")
        }
    }

    private mutating func readSummary(_ data: Data, path: String) throws {
        guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ObservabilityError("\(path) is not a JSON object")
        }
        if let job = root["job"] as? String, !job.isEmpty { title = job + " — " + title }
        state = root["state"] as? String ?? ""
        bestEpoch = root["bestEpoch"] as? Int ?? 0
        test = root["test"] as? [String: Double] ?? [:]
        for entry in root["epochs"] as? [[String: Any]] ?? [] {
            epochs.append(Epoch(epoch: entry["epoch"] as? Int ?? 0, loss: entry["loss"] as? Double ?? 0,
                                examplesPerSecond: entry["examplesPerSecond"] as? Double ?? 0,
                                metrics: entry["metrics"] as? [String: Double] ?? [:]))
        }
    }

    /// Shard process names ("server-0", …), by shard id.
    var shards: [String] {
        scrapes.keys.filter { $0.hasPrefix("server-") }.sorted {
            (Int($0.dropFirst(7)) ?? 0, $0) < (Int($1.dropFirst(7)) ?? 0, $1)
        }
    }

    // MARK: Plots

    /// The plots, in page order: (id, SVG).
    public func plots() -> [(id: String, svg: String)] {
        var out: [(String, String)] = []
        out.append(("loss", SVGChart.line(id: "loss", title: "Training loss per epoch", xLabel: "epoch", yLabel: "mean loss",
                                          series: [.init(name: "loss", points: epochs.map { (Double($0.epoch), $0.loss) })])))
        let ndcgKeys = Set(epochs.flatMap { $0.metrics.keys }).filter { $0.hasPrefix("ndcg@") || $0.hasPrefix("recall@") }.sorted()
        out.append(("ndcg", SVGChart.line(id: "ndcg", title: "Validation NDCG (and recall) per epoch", xLabel: "epoch", yLabel: "metric",
                                          series: ndcgKeys.map { key in
                                              .init(name: key, points: epochs.compactMap { epoch in epoch.metrics[key].map { (Double(epoch.epoch), $0) } })
                                          })))
        out.append(("throughput", SVGChart.line(id: "throughput", title: "Training throughput", xLabel: "epoch", yLabel: "examples / s",
                                                series: [.init(name: "examples/s", points: epochs.map { (Double($0.epoch), $0.examplesPerSecond) })])))
        let shards = self.shards
        let names = shards.map { "shard " + $0.dropFirst(7) }
        out.append(("rows", SVGChart.bars(id: "rows", title: "Rows per shard", yLabel: "rows", categories: names,
                                          series: [("rows", shards.map { scrapes[$0]?.value("tessera_shard_rows") ?? 0 })])))
        out.append(("traffic", SVGChart.bars(id: "traffic", title: "Traffic per shard", yLabel: "rows", categories: names, series: [
            ("pulled rows", shards.map { scrapes[$0]?.value("tessera_shard_pull_rows_total") ?? 0 }),
            ("pushed rows", shards.map { scrapes[$0]?.value("tessera_shard_push_rows_total") ?? 0 }),
        ])))
        out.append(("traffic-bytes", SVGChart.bars(id: "traffic-bytes", title: "Bytes per shard", yLabel: "bytes", categories: names, series: [
            ("pulled", shards.map { scrapes[$0]?.value("tessera_shard_pull_bytes_total") ?? 0 }),
            ("pushed", shards.map { scrapes[$0]?.value("tessera_shard_push_bytes_total") ?? 0 }),
            ("held", shards.map { scrapes[$0]?.value("tessera_shard_bytes") ?? 0 }),
        ])))
        for (metric, title) in [("tessera_shard_pull_seconds", "Pull latency, all shards"), ("tessera_shard_push_seconds", "Push latency, all shards")] {
            let id = metric.replacingOccurrences(of: "tessera_shard_", with: "").replacingOccurrences(of: "_seconds", with: "-latency")
            out.append((id, histogram(id: id, title: title, [(metric.hasPrefix("tessera_shard_pull") ? "pull" : "push", shards.map { (metric, $0, [:]) })])))
        }
        if scrapes["scheduler"] != nil {
            let methods = ["recommend", "score", "feedback"].filter { (scrapes["scheduler"]?.value("tessera_inference_seconds_count", where: ["method": $0]) ?? 0) > 0 }
            out.append(("inference-latency", histogram(id: "inference-latency", title: "Inference latency (scheduler)",
                                                       methods.map { ($0, [("tessera_inference_seconds", "scheduler", ["method": $0])]) })))
        }
        return out
    }

    /// A histogram as bars: calls per latency bucket (not cumulative), summed over `sources`.
    private func histogram(id: String, title: String, _ series: [(name: String, sources: [(metric: String, process: String, labels: [String: String])])]) -> String {
        var bounds: [Double] = []
        var counts: [[Double]] = []
        for entry in series {
            var summed: [Double: Double] = [:]
            for source in entry.sources {
                for bucket in scrapes[source.process]?.buckets(source.metric, where: source.labels) ?? [] {
                    summed[bucket.upperBound, default: 0] += bucket.count
                }
            }
            let ordered = summed.sorted { $0.key < $1.key }
            if bounds.isEmpty { bounds = ordered.map(\.key) }
            var previous = 0.0
            counts.append(ordered.map { bucket in
                defer { previous = bucket.value }
                return max(0, bucket.value - previous)
            })
        }
        let categories = bounds.map { $0.isInfinite ? "> " + Self.duration(bounds.dropLast().last ?? 0) : "≤ " + Self.duration($0) }
        let hasData = counts.contains { $0.contains { $0 > 0 } }
        return SVGChart.bars(id: id, title: title, yLabel: "calls", categories: hasData ? categories : [],
                             series: zip(series, counts).map { ($0.name, $1) })
    }

    static func duration(_ seconds: Double) -> String {
        if seconds >= 1 { return String(format: "%gs", seconds) }
        if seconds >= 0.001 { return String(format: "%gms", seconds * 1000) }
        return String(format: "%gµs", seconds * 1_000_000)
    }

    // MARK: Page

    /// The whole page.
    public func html() -> String {
        let e = SVGChart.escape
        var page = """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>Tessera run \(e(title))</title>
        <style>
        body { font-family: sans-serif; margin: 24px; color: #222; }
        .plots { display: flex; flex-wrap: wrap; gap: 16px; }
        svg.plot { border: 1px solid #ddd; }
        table { border-collapse: collapse; margin: 8px 0 16px; }
        td, th { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
        th { background: #f4f4f4; }
        .note { color: #a60; }
        </style></head><body>
        <h1>Tessera run \(e(title))</h1>

        """
        if !state.isEmpty { page += "<p>State: <b>\(e(state))</b>\(bestEpoch > 0 ? "; kept epoch \(bestEpoch)" : "").</p>\n" }
        if !test.isEmpty {
            page += "<h2>Test metrics</h2>\n<table><tr>" + test.keys.sorted().map { "<th>\(e($0))</th>" }.joined() + "</tr><tr>"
                + test.keys.sorted().map { String(format: "<td>%.4f</td>", test[$0]!) }.joined() + "</tr></table>\n"
        }
        for note in notes { page += "<p class=\"note\">\(e(note))</p>\n" }
        page += "<h2>Plots</h2>\n<div class=\"plots\">\n"
        for plot in plots() { page += plot.svg + "\n" }
        page += "</div>\n"
        if !shards.isEmpty {
            page += "<h2>Shards</h2>\n<table><tr><th>shard</th><th>rows</th><th>bytes</th><th>pull requests</th><th>pulled rows</th><th>push requests</th><th>pushed rows</th></tr>\n"
            for shard in shards {
                let s = scrapes[shard]!
                let cells = ["tessera_shard_rows", "tessera_shard_bytes", "tessera_shard_pull_requests_total", "tessera_shard_pull_rows_total",
                             "tessera_shard_push_requests_total", "tessera_shard_push_rows_total"].map { String(format: "%.0f", s.value($0) ?? 0) }
                page += "<tr><td>\(e(shard))</td>" + cells.map { "<td>\($0)</td>" }.joined() + "</tr>\n"
            }
            page += "</table>\n"
        }
        page += "<p>Written by <code>tessera report</code>; self-contained (inline SVG, no scripts).</p>\n</body></html>\n"
        return page
    }
}
