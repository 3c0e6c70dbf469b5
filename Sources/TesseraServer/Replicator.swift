import Logging
import Synchronization
import TesseraCore
import TesseraRPC

/// A leader shard's link to its follower: sends every acknowledged change
/// there before the leader answers, and gives the follower up when it stops
/// answering.
///
/// One attempt per batch, with a short deadline: a follower that fails it is
/// marked lost (logged, counted, and reported through `onLost` — the scheduler
/// then no longer promotes it), and from then on the leader serves alone:
/// changes it acknowledges are no longer protected. A lost follower is not
/// taken back (catching up from a full copy is not implemented). Thread-safe.
public final class Replicator: Sendable {
    /// What the leader knows of its follower.
    public enum FollowerState: String, Sendable {
        /// No follower (replication off, or this shard is a promoted follower).
        case none
        /// Every acknowledged change reached the follower.
        case inSync = "in_sync"
        /// The follower stopped answering; changes since are not on it.
        case lost
    }

    private struct Link {
        var address: String?
        var client: ParameterServerClient?
        var lost = false
    }

    private let link = Mutex(Link())
    private let security: ClientSecurity
    private let deadline: Duration
    private let logger: Logger
    /// Tells the scheduler that the follower is lost; must return only once it has heard it.
    private let onLost: @Sendable (String) async throws -> Void
    private let batches = Atomic<UInt64>(0)
    private let failures = Atomic<UInt64>(0)

    /// - Parameters:
    ///   - deadline: how long one batch may take before the follower counts as lost.
    ///   - onLost: reports the loss (e.g. to the scheduler); a throw fails the caller's request.
    public init(security: ClientSecurity = .insecure, deadline: Duration = .seconds(5), logger: Logger,
                onLost: @escaping @Sendable (String) async throws -> Void = { _ in }) {
        self.security = security
        self.deadline = deadline
        self.logger = logger
        self.onLost = onLost
    }

    /// Follows the shard map: the follower at `address` (nil: none). A new
    /// address opens a new channel; a lost follower stays lost at the same address.
    public func update(followerAddress address: String?) throws {
        try link.withLock { link in
            guard link.address != address else { return }
            link.address = address
            link.lost = false
            link.client = try address.map { ParameterServerClient(channel: try GRPCChannel(target: $0, security: security)) }
        }
    }

    public var state: FollowerState {
        link.withLock { link in link.client == nil ? .none : link.lost ? .lost : .inSync }
    }

    /// Batches the follower acknowledged.
    public var forwardedBatches: UInt64 { batches.load(ordering: .relaxed) }
    /// Batches that failed (each marks the follower lost).
    public var failedBatches: UInt64 { failures.load(ordering: .relaxed) }

    /// Whether changes should be forwarded now.
    public var isActive: Bool {
        link.withLock { $0.client != nil && !$0.lost }
    }

    /// Sends `request` to the follower and waits for its answer. On failure the
    /// follower is marked lost and reported; the call returns normally (the
    /// leader goes on alone) unless the report itself fails.
    public func forward(_ request: Tessera_V1_ReplicateRequest) async throws {
        try await send("replicate") { client, options in _ = try await client.replicate(request, options: options) }
    }

    /// Rolls the follower back to the same checkpoint as the leader.
    public func forward(restore request: Tessera_V1_RestoreRequest) async throws {
        try await send("restore") { client, _ in _ = try await client.restore(request, options: CallOptions(timeout: .seconds(600))) }
    }

    private func send(_ what: String,
                      _ call: @Sendable (ParameterServerClient, CallOptions) async throws -> Void) async throws {
        guard let (client, address) = link.withLock({ link in link.lost ? nil : link.client.map { ($0, link.address ?? "") } }) else { return }
        do {
            try await call(client, CallOptions(timeout: deadline))
            batches.add(1, ordering: .relaxed)
        } catch {
            failures.add(1, ordering: .relaxed)
            let reason = "the follower at \(address) did not take a \(what) batch: \(error)"
            // The scheduler must hear of it before this change is acknowledged, or it could promote a stale follower.
            do {
                try await onLost(reason)
            } catch {
                throw RPCError(.unavailable, "\(reason); and the scheduler could not be told (\(error)), so this change is not acknowledged")
            }
            let first = link.withLock { link in
                defer { if link.address == address { link.lost = true } }
                return !link.lost && link.address == address
            }
            if first {
                logger.error("follower lost; acknowledged updates are no longer replicated", metadata: ["follower": "\(address)", "error": "\(error)"])
            }
        }
    }
}
