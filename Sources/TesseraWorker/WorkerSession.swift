import Logging
import TesseraCore
import TesseraObservability
import TesseraRPC

/// What every worker process does around its work: serve its metrics, join the cluster,
/// then run `body` beside the heartbeats. Whichever ends first (the work done, or a shutdown
/// or lost scheduler seen by heartbeats) ends the worker; a failing `body` is reported to
/// the scheduler as `"<name> <id>: <error>"` before it is thrown.
enum WorkerSession {
    static func run(
        role: Tessera_V1_Role, name: String, schedulerAddress: String, workerID: UInt32?,
        metrics settings: MetricsSettings, security: ClientSecurity, logger: Logger,
        _ body: @escaping @Sendable (MemberSession, WorkerMetrics, Logger) async throws -> Void
    ) async throws {
        let metrics = WorkerMetrics()
        let endpoint = try await MetricsEndpoint.start(settings: settings, registry: metrics.registry, logger: logger)
        defer { Task { await endpoint?.stop() } }
        let session = try await MemberSession.join(schedulerAddress: schedulerAddress, role: role, address: "",
                                                   requestedID: workerID, metricsAddress: endpoint?.address ?? "",
                                                   security: security)
        let id = session.membership.memberID
        metrics.setWorker(id: id)
        var memberLogger = logger
        memberLogger[metadataKey: name.replacingOccurrences(of: " ", with: "_")] = "\(id)"
        let logger = memberLogger
        let config = session.membership.config
        let interval = Duration.seconds(config.scheduler.heartbeatInterval)
        let timeout = Duration.seconds(config.scheduler.heartbeatTimeout)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                let outcome = try await session.heartbeat(interval: interval, timeout: timeout)
                if case .shutdown(let reason) = outcome { logger.info("stopping", metadata: ["reason": "\(reason)"]) }
            }
            group.addTask {
                do {
                    try await body(session, metrics, logger)
                } catch is CancellationError {
                    return
                } catch {
                    await session.reportFailure("\(name) \(id): \(error)")
                    throw error
                }
            }
            _ = try await group.next()
            group.cancelAll()
        }
    }
}
