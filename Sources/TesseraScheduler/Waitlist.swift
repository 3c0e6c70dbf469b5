import TesseraRPC

/// Callers parked on a long-poll, grouped by a key, each with its own deadline.
///
/// Owned by an actor: not thread-safe on its own. Every parked continuation is
/// resumed exactly once — by `resume(key:with:)`, by `expire(id:)` when its
/// deadline passes, or by `failAll`.
struct Waitlist<Key: Hashable, Value: Sendable> {
    private struct Waiter {
        var key: Key
        var continuation: CheckedContinuation<Value, Error>
        /// Ends the wait at its deadline; cancelled when the wait ends sooner.
        var timer: Task<Void, Never>?
    }

    private var waiters: [UInt64: Waiter] = [:]
    private var nextID: UInt64 = 0

    /// Parks `continuation` under `key`; returns its id for `expire` and `setTimer`.
    mutating func park(_ key: Key, _ continuation: CheckedContinuation<Value, Error>) -> UInt64 {
        nextID += 1
        waiters[nextID] = Waiter(key: key, continuation: continuation)
        return nextID
    }

    /// Attaches the task that will expire wait `id`, so it can be cancelled when the wait ends first.
    mutating func setTimer(_ timer: Task<Void, Never>, for id: UInt64) {
        if waiters[id] == nil { timer.cancel() } else { waiters[id]?.timer = timer }
    }

    /// Resumes everyone parked under `key` with `value`.
    mutating func resume(key: Key, with value: Value) {
        for (id, waiter) in waiters where waiter.key == key {
            waiters[id] = nil
            waiter.timer?.cancel()
            waiter.continuation.resume(returning: value)
        }
    }

    /// Resumes everyone, each with the value `value(key)` gives.
    mutating func resumeAll(_ value: (Key) -> Value) {
        let all = waiters
        waiters = [:]
        for (_, waiter) in all {
            waiter.timer?.cancel()
            waiter.continuation.resume(returning: value(waiter.key))
        }
    }

    /// Ends one wait with DEADLINE_EXCEEDED, if it is still parked.
    mutating func expire(id: UInt64) {
        guard let waiter = waiters.removeValue(forKey: id) else { return }
        waiter.continuation.resume(throwing: RPCError(.deadlineExceeded, "still waiting; call again"))
    }

    /// Ends every wait with `error`.
    mutating func failAll(_ error: RPCError) {
        let all = waiters
        waiters = [:]
        for (_, waiter) in all {
            waiter.timer?.cancel()
            waiter.continuation.resume(throwing: error)
        }
    }
}

extension ServerContext {
    /// How long a long-poll may wait: a little less than the caller's deadline, at most `cap`.
    func waitBudget(cap: Duration = .seconds(25)) -> Duration {
        guard let remaining = call.remaining else { return cap }
        return max(.zero, min(cap, remaining - .milliseconds(250)))
    }
}
