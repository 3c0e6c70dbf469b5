import Foundation
import TesseraObservability
import TesseraRPC

/// What `tessera launch` keeps in the run directory for `tessera report`, and
/// the metrics settings it hands to the member processes.
///
/// - `summary.json`: the scheduler's run summary (always; a `--summary` path
///   elsewhere is copied here at the end);
/// - `metrics-addresses.txt`: `NAME ADDRESS` per process serving metrics,
///   rewritten as members register;
/// - `metrics/NAME.prom`: each process's last scrape, taken when training is
///   done (and on Ctrl-C with `--serve`), before the cluster stops.
extension Launcher {
    /// `--metrics` for a member: the config's metrics host with an OS-picked port, or off.
    var memberMetricsArguments: [String] {
        let metrics = plan.config.metrics
        return ["--metrics", metrics.enabled ? "\(metrics.host):0" : "off"]
    }

    var summaryPath: String { "\(plan.runDirectory)/summary.json" }

    /// `--summary RUN_DIR/summary.json` unless the user named a summary file.
    var summaryArguments: [String] {
        plan.outputs.contains("--summary") ? [] : ["--summary", summaryPath]
    }

    /// Copies a `--summary` written elsewhere into the run directory.
    func collectSummary() {
        guard let index = plan.outputs.firstIndex(of: "--summary"), index + 1 < plan.outputs.count else { return }
        let source = plan.outputs[index + 1]
        guard source != summaryPath, FileManager.default.fileExists(atPath: source) else { return }
        try? FileManager.default.removeItem(atPath: summaryPath)
        try? FileManager.default.copyItem(atPath: source, toPath: summaryPath)
    }

    /// Each process serving metrics, by file name ("scheduler", "server-0", "worker-1", "online-0").
    static func metricsEndpoints(_ status: Tessera_V1_JobStatus) -> [(name: String, address: String)] {
        var out: [(String, String)] = []
        if !status.metricsAddress.isEmpty { out.append(("scheduler", status.metricsAddress)) }
        for member in status.members where !member.metricsAddress.isEmpty {
            let prefix = switch member.role {
            case .server: "server"
            case .worker: "worker"
            case .onlineWorker: "online"
            case .follower: "follower"
            default: "member"
            }
            out.append(("\(prefix)-\(member.id)", member.metricsAddress))
        }
        return out
    }

    /// Rewrites `metrics-addresses.txt` when the set of endpoints changed.
    func recordMetricsAddresses(_ status: Tessera_V1_JobStatus) {
        let path = "\(plan.runDirectory)/metrics-addresses.txt"
        let text = Self.metricsEndpoints(status).map { "\($0.name) \($0.address)\n" }.joined()
        guard !text.isEmpty, (try? String(contentsOfFile: path, encoding: .utf8)) != text else { return }
        try? Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    /// Scrapes every process's `/metrics` into `metrics/NAME.prom` (best effort: a process
    /// that does not answer within two seconds is skipped).
    func snapshotMetrics(_ client: SchedulerClient) async {
        guard plan.config.metrics.enabled,
              let status = try? await client.getJobStatus(options: CallOptions(timeout: .seconds(3))) else { return }
        recordMetricsAddresses(status)
        let directory = "\(plan.runDirectory)/metrics"
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        await withTaskGroup(of: Void.self) { group in
            for endpoint in Self.metricsEndpoints(status) {
                group.addTask {
                    guard let text = try? await MetricsScraper.scrape(endpoint.address, timeout: .seconds(2)) else { return }
                    try? Data(text.utf8).write(to: URL(fileURLWithPath: "\(directory)/\(endpoint.name).prom"), options: .atomic)
                }
            }
        }
    }
}
