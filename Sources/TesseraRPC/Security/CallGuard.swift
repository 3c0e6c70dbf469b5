import Foundation
import Synchronization
import TesseraCore

/// Admits or refuses each incoming call before it reaches a handler: the token,
/// the request's size, and the server's request rate.
///
/// Thread-safe. The limits can change while serving (a shard learns them from
/// the scheduler after it started listening); the token cannot.
final class CallGuard: Sendable {
    private struct State {
        var limits: RPCLimitSettings
        var bucket: TokenBucket?
    }

    private let expected: [UInt8]?
    private let state: Mutex<State>
    private let clock = ContinuousClock()
    private let origin: ContinuousClock.Instant

    init(security: ServerSecurity) {
        expected = security.token.map { Array("Bearer \($0)".utf8) }
        state = Mutex(State(limits: security.limits, bucket: Self.bucket(for: security.limits)))
        origin = clock.now
    }

    var limits: RPCLimitSettings {
        state.withLock { $0.limits }
    }

    /// Replaces the limits; a new rate starts with a full bucket.
    func update(limits: RPCLimitSettings) {
        state.withLock { state in
            if limits.requestsPerSecond != state.limits.requestsPerSecond || limits.effectiveBurst != state.limits.effectiveBurst {
                state.bucket = Self.bucket(for: limits)
            }
            state.limits = limits
        }
    }

    /// The error to end the call with, or nil to serve it.
    ///
    /// - Parameters:
    ///   - authorization: the call's `authorization` metadata.
    ///   - requestBytes: the request message's size (nil for a stream's end of input).
    func refusal(method: String, authorization: String?, requestBytes: Int?) -> RPCError? {
        if let expected {
            guard let authorization else {
                return RPCError(.unauthenticated,
                                "\(method): this server requires a token: send call metadata 'authorization: Bearer <token>' (the token is set by security.token_env, TESSERA_TOKEN by default, or security.token_file)")
            }
            guard Self.constantTimeEqual(Array(authorization.utf8), expected) else {
                return RPCError(.unauthenticated, "\(method): the token is not valid for this cluster")
            }
        }
        let now = (clock.now - origin).seconds
        return state.withLock { state -> RPCError? in
            if let requestBytes, requestBytes > state.limits.maxMessageBytes {
                return RPCError(.resourceExhausted,
                                "\(method): the request has \(requestBytes) bytes, over this server's limit of \(state.limits.maxMessageBytes) (security.limits.max_message_bytes); split it")
            }
            if state.bucket?.take(now: now) == false {
                return RPCError(.resourceExhausted,
                                "\(method): over this server's rate limit of \(state.limits.requestsPerSecond) calls per second (burst \(state.limits.effectiveBurst); security.limits.requests_per_second); retry with backoff")
            }
            return nil
        }
    }

    /// Compares without an early exit, so the time taken does not tell how much of a guess was right.
    static func constantTimeEqual(_ given: [UInt8], _ expected: [UInt8]) -> Bool {
        var difference = UInt8(truncatingIfNeeded: given.count ^ expected.count)
        for index in expected.indices {
            let byte = given.isEmpty ? 0 : given[index % given.count]
            difference |= byte ^ expected[index]
        }
        return difference == 0
    }

    private static func bucket(for limits: RPCLimitSettings) -> TokenBucket? {
        limits.requestsPerSecond > 0 ? TokenBucket(rate: limits.requestsPerSecond, capacity: limits.effectiveBurst) : nil
    }
}
