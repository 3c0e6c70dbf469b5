import Foundation
import TesseraRPC

/// What `tessera status` prints: the live cluster as the scheduler sees it.
public enum ClusterStatusText {
    /// Asks the scheduler at `address` for its job status (GetJobStatus).
    public static func fetch(scheduler address: String, security: ClientSecurity = .insecure,
                             timeout: Duration = .seconds(5)) async throws -> Tessera_V1_JobStatus {
        let client = SchedulerClient(channel: try GRPCChannel(target: address, security: security))
        return try await client.getJobStatus(options: CallOptions(timeout: timeout))
    }

    /// The status as a few aligned sections: job, health, training, members, shard map, serving.
    public static func render(_ status: Tessera_V1_JobStatus, scheduler: String) -> String {
        var lines: [String] = []
        let state = switch status.state {
        case .starting: "starting"
        case .training: "training"
        case .serving: "serving"
        case .failed: "failed"
        case .stopping: "stopping"
        default: "unknown"
        }
        lines.append("scheduler  \(scheduler)  state \(state)  phase \(status.phase.isEmpty ? status.message : status.phase)  up \(seconds(status.uptimeSeconds))")
        if !status.metricsAddress.isEmpty { lines.append("metrics    http://\(status.metricsAddress)/metrics") }
        lines.append("health     \(status.health.isEmpty ? "unknown" : status.health)")
        var training = "training   epoch \(status.epoch)/\(status.epochs)"
        if status.examplesPerSecond > 0 { training += String(format: "  %.0f ex/s", status.examplesPerSecond) }
        if status.loss > 0 { training += String(format: "  loss %.4f", status.loss) }
        if status.attempt > 1 || status.promotions > 0 {
            training += "  attempt \(status.attempt)" + (status.promotions > 0 ? ", \(status.promotions) follower(s) promoted" : "")
        }
        lines.append(training)
        for (name, evaluation) in [("latest", status.latest), ("best", status.best), ("test", status.test)]
        where !evaluation.metrics.isEmpty {
            let metrics = evaluation.metrics.keys.sorted().map { String(format: "%@ %.4f", $0, evaluation.metrics[$0]!) }.joined(separator: "  ")
            lines.append("  \(name.padding(toLength: 7, withPad: " ", startingAt: 0)) epoch \(evaluation.epoch) \(evaluation.split): \(metrics)")
        }
        lines.append("")
        lines.append("members (\(status.members.count))")
        let header = ["role", "id", "address", "pid", "host", "heartbeat", "metrics"]
        var rows = [header]
        for member in status.members {
            let role = switch member.role {
            case .server: "server"
            case .worker: "worker"
            case .onlineWorker: "online worker"
            case .follower: member.inSync ? "follower" : "follower (out of sync)"
            default: "?"
            }
            rows.append([role, "\(member.id)", member.address.isEmpty ? "-" : member.address, "\(member.pid)", member.host,
                         seconds(member.lastHeartbeatAgeSeconds) + " ago" + (member.toldToStop ? " (told to stop)" : ""),
                         member.metricsAddress.isEmpty ? "-" : member.metricsAddress])
        }
        lines += table(rows).map { "  " + $0 }
        lines.append("")
        if status.hasShardMap {
            let map = status.shardMap
            lines.append("shard map  version \(map.version), \(map.shards.count) shards, \(map.virtualNodes) virtual nodes each")
            for shard in map.shards {
                lines.append("  shard \(shard.shardID)  \(shard.address)" + (shard.followerAddress.isEmpty ? "" : "  follower \(shard.followerAddress)"))
            }
        } else {
            lines.append("shard map  none yet (waiting for every shard to register)")
        }
        lines.append("feedback   log end \(status.feedbackEndOffset), reflected \(status.feedbackReflectedOffset) (lag \(status.feedbackEndOffset - min(status.feedbackEndOffset, status.feedbackReflectedOffset)) events)")
        if !status.sampleUserID.isEmpty { lines.append("try        tessera query --scheduler \(scheduler) --user \(status.sampleUserID) -k 10") }
        return lines.joined(separator: "\n") + "\n"
    }

    private static func seconds(_ value: Double) -> String {
        value < 10 ? String(format: "%.1fs", value) : value < 3600 ? String(format: "%.0fs", value) : String(format: "%.1fh", value / 3600)
    }

    private static func table(_ rows: [[String]]) -> [String] {
        guard let first = rows.first else { return [] }
        let widths = first.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }
                .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }
    }
}
