/// A token bucket: admits `rate` calls per second on average and up to
/// `capacity` at once. A value type with no clock of its own: the caller passes
/// the time, so tests drive it without sleeping.
public struct TokenBucket: Sendable {
    /// Tokens added per second.
    public let rate: Double
    /// Most tokens held.
    public let capacity: Double
    private var tokens: Double
    private var last: Double?

    /// A full bucket. Precondition: `rate > 0`, `capacity >= 1`.
    public init(rate: Double, capacity: Int) {
        precondition(rate > 0 && capacity >= 1, "a token bucket needs a positive rate and capacity")
        self.rate = rate
        self.capacity = Double(capacity)
        self.tokens = Double(capacity)
    }

    /// Takes one token at time `now` (seconds on any monotonic clock); false when the bucket is empty.
    public mutating func take(now: Double) -> Bool {
        if let last, now > last {
            tokens = min(capacity, tokens + (now - last) * rate)
        }
        last = max(last ?? now, now)
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }
}
