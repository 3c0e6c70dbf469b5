import Foundation
import Synchronization
import TesseraRPC
#if canImport(Glibc)
import Glibc
#endif

/// A cluster launched from code (benchmarks, simulations): started, trained
/// until it serves, used over gRPC, then stopped.
public final class LocalCluster: Sendable {
    /// The scheduler's "host:port".
    public let address: String
    public let runDirectory: String
    /// The token and TLS a client of this cluster presents (from the plan's `security`).
    public let security: ClientSecurity
    private let launcher: Launcher
    private let supervision: Task<Int32, Never>

    private init(address: String, runDirectory: String, security: ClientSecurity, launcher: Launcher,
                 supervision: Task<Int32, Never>) {
        self.address = address
        self.security = security
        self.runDirectory = runDirectory
        self.launcher = launcher
        self.supervision = supervision
    }

    /// When `start` returns.
    public enum Readiness: Sendable {
        /// Offline training is done and the scheduler serves the final model.
        case trained
        /// Recommend answers (offline training may still run: serving under training load).
        case serving
    }

    /// Launches `plan` quietly and returns once it is `ready`.
    ///
    /// Throws if the cluster fails or is not ready within `timeout`; nothing is left running then.
    public static func start(_ plan: Launcher.Plan, ready: Readiness = .trained,
                             timeout: Duration = .seconds(600)) async throws -> LocalCluster {
        var plan = plan
        plan.serve = true
        plan.finalQuery = false
        plan.quiet = true
        let launcher = Launcher(plan: plan)
        let security = try launcher.clientSecurity()
        let ended = Ended()
        let supervision = Task {
            let code = await launcher.run()
            ended.flag.store(true, ordering: .releasing)
            return code
        }
        let readyFile = "\(plan.runDirectory)/scheduler.address"
        let deadline = ContinuousClock.now + timeout
        var address: String?
        var client: SchedulerClient?
        while ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(200))
            if ended.flag.load(ordering: .acquiring) {
                let code = await supervision.value
                throw LaunchError("the cluster stopped (status \(code)) before it served; logs in \(plan.runDirectory)")
            }
            if address == nil, let text = try? String(contentsOfFile: readyFile, encoding: .utf8), !text.isEmpty {
                address = text.trimmingCharacters(in: .whitespacesAndNewlines)
                client = SchedulerClient(channel: try GRPCChannel(target: address ?? "", security: security))
            }
            if ready == .serving, let address, await answersRecommend(address, security: security) {
                return LocalCluster(address: address, runDirectory: plan.runDirectory, security: security, launcher: launcher,
                                    supervision: supervision)
            }
            if let client, let status = try? await client.getJobStatus(options: CallOptions(timeout: .seconds(2))) {
                if status.state == .serving, let address {
                    return LocalCluster(address: address, runDirectory: plan.runDirectory, security: security, launcher: launcher,
                                        supervision: supervision)
                }
                if status.state == .failed {
                    launcher.deliver(signal: SIGTERM)
                    _ = await supervision.value
                    throw LaunchError("the cluster failed: \(status.message) (logs in \(plan.runDirectory))")
                }
            }
        }
        launcher.deliver(signal: SIGTERM)
        _ = await supervision.value
        throw LaunchError("the cluster did not start serving within \(timeout) (logs in \(plan.runDirectory))")
    }

    private static func answersRecommend(_ address: String, security: ClientSecurity) async -> Bool {
        guard let channel = try? GRPCChannel(target: address, security: security) else { return false }
        var request = Tessera_V1_RecommendRequest()
        request.userID = "1"
        request.k = 1
        return (try? await InferenceClient(channel: channel).recommend(request, options: CallOptions(timeout: .seconds(2)))) != nil
    }

    /// Stops every process and waits for them.
    public func stop() async {
        launcher.deliver(signal: SIGTERM)
        _ = await supervision.value
    }
}

private final class Ended: Sendable {
    let flag = Atomic<Bool>(false)
}
