import Foundation
import TesseraCore
#if canImport(Glibc)
import Glibc
#endif

/// What a member learned when it joined the cluster.
public struct Membership: Sendable {
    public var role: Tessera_V1_Role
    /// Shard id (servers) or data-shard index (workers).
    public var memberID: UInt32
    /// Members of this role in the job.
    public var memberCount: UInt32
    /// The resolved cluster config every member runs with.
    public var config: ClusterConfig
    public var runID: String
}

/// A server's or worker's connection to the scheduler: joining, the shard
/// map, heartbeats and failure reports.
public final class MemberSession: Sendable {
    public let scheduler: SchedulerClient
    public let membership: Membership
    /// What this member presents on its calls (token, TLS).
    public let security: ClientSecurity

    private init(scheduler: SchedulerClient, membership: Membership, security: ClientSecurity) {
        self.scheduler = scheduler
        self.membership = membership
        self.security = security
    }

    /// Registers with the scheduler at `schedulerAddress`, retrying while it
    /// starts, for up to `timeout`.
    ///
    /// - Parameter address: where this member serves gRPC (servers), or "" (workers).
    /// - Parameter requestedID: a stable member id to ask for, or nil for any free one.
    /// - Parameters:
    ///   - metricsAddress: where this member serves Prometheus metrics, or "".
    ///   - security: the token and TLS for every call this member makes.
    public static func join(schedulerAddress: String, role: Tessera_V1_Role, address: String, requestedID: UInt32? = nil,
                            metricsAddress: String = "", timeout: Duration = .seconds(60),
                            security: ClientSecurity = .insecure) async throws -> MemberSession {
        let scheduler = SchedulerClient(channel: try GRPCChannel(target: schedulerAddress, security: security))
        var request = Tessera_V1_RegisterRequest()
        request.role = role
        request.address = address
        request.pid = Int64(getpid())
        request.hostname = ProcessInfo.processInfo.hostName
        if let requestedID { request.requestedID = requestedID }
        request.metricsAddress = metricsAddress
        let deadline = ContinuousClock.now + timeout
        while true {
            do {
                let response = try await scheduler.register(request, options: CallOptions(timeout: .seconds(10)))
                let config: ClusterConfig
                do {
                    config = try JSONDecoder().decode(ClusterConfig.self, from: response.clusterConfigJson)
                } catch {
                    throw RPCError(.internal, "the scheduler sent a cluster config this build cannot read: \(error)")
                }
                let membership = Membership(role: role, memberID: response.memberID, memberCount: response.memberCount,
                                            config: config, runID: response.runID)
                return MemberSession(scheduler: scheduler, membership: membership, security: security)
            } catch let error as RPCError where error.code == .unavailable && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(200))
            } catch let error as RPCError where error.code == .unavailable {
                throw RPCError(.unavailable, "no scheduler answered at \(schedulerAddress) within \(timeout): \(error.message)")
            }
        }
    }

    /// The shard map, waiting until it has at least `minVersion` (0: until every shard registered).
    public func shardMap(minVersion: UInt64 = 0) async throws -> ShardRouting {
        var request = Tessera_V1_ShardMapRequest()
        request.minVersion = minVersion
        while true {
            do {
                return try ShardRouting(try await scheduler.getShardMap(request, options: CallOptions(timeout: .seconds(30))))
            } catch let error as RPCError where error.code == .deadlineExceeded {
                continue
            }
        }
    }

    /// The shard map if one newer than `version` comes within `wait`; nil otherwise.
    public func shardMap(newerThan version: UInt64, wait: Duration) async throws -> ShardRouting? {
        try await scheduler.shardMap(newerThan: version, wait: wait)
    }

    /// Why heartbeats ended.
    public enum HeartbeatOutcome: Sendable {
        /// The scheduler asked the member to stop.
        case shutdown(reason: String)
    }

    /// Heartbeats every `interval` until the scheduler asks for shutdown.
    ///
    /// Throws when the scheduler cannot be reached for `timeout`, or when the
    /// launcher that started this process is gone (so no member outlives its
    /// cluster). `onMapVersion` sees every shard-map version the scheduler reports.
    public func heartbeat(interval: Duration, timeout: Duration,
                          onMapVersion: @escaping @Sendable (UInt64) async -> Void = { _ in }) async throws -> HeartbeatOutcome {
        var request = Tessera_V1_HeartbeatRequest()
        request.role = membership.role
        request.memberID = membership.memberID
        request.runID = membership.runID
        var lastContact = ContinuousClock.now
        let parent = ProcessInfo.processInfo.environment["TESSERA_PARENT_PID"].flatMap { Int32($0) }
        while true {
            if let parent, getppid() != parent {
                throw RPCError(.aborted, "the launcher (pid \(parent)) is gone; stopping")
            }
            do {
                let response = try await scheduler.heartbeat(request, options: CallOptions(timeout: interval * 2))
                lastContact = ContinuousClock.now
                if response.shutdown { return .shutdown(reason: response.reason) }
                await onMapVersion(response.shardMapVersion)
            } catch let error as RPCError where error.isTransient {
                if ContinuousClock.now - lastContact > timeout {
                    throw RPCError(.unavailable, "lost the scheduler at \(scheduler.channel.target) for \(timeout): \(error.message)")
                }
            }
            try await Task.sleep(for: interval)
        }
    }

    /// Tells the scheduler why this member cannot go on (best effort, short deadline).
    public func reportFailure(_ message: String) async {
        var report = Tessera_V1_FailureReport()
        report.role = membership.role
        report.memberID = membership.memberID
        report.message = message
        _ = try? await scheduler.reportFailure(report, options: CallOptions(timeout: .seconds(2)))
    }

    /// Tells the scheduler that this leader's follower (of shard `shard`) stopped
    /// answering, so it is never promoted. Throws when the scheduler did not
    /// confirm: then the change that found the follower gone must not be acknowledged.
    public func reportFollowerLost(shard: UInt32, _ message: String) async throws {
        var report = Tessera_V1_FailureReport()
        report.role = .follower
        report.memberID = shard
        report.message = message
        _ = try await scheduler.reportFailure(report, options: CallOptions(timeout: .seconds(5)))
    }
}

extension SchedulerClient {
    /// The shard map if one newer than `version` comes within `wait`; nil otherwise.
    public func shardMap(newerThan version: UInt64, wait: Duration) async throws -> ShardRouting? {
        var request = Tessera_V1_ShardMapRequest()
        request.minVersion = version + 1
        do {
            return try ShardRouting(try await getShardMap(request, options: CallOptions(timeout: wait)))
        } catch let error as RPCError where error.code == .deadlineExceeded {
            return nil
        }
    }
}
