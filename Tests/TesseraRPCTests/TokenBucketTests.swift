import Testing
import TesseraRPC

/// The rate limiter's arithmetic, driven by a hand-held clock (no sockets, no sleeping).
@Suite struct TokenBucketTests {
    @Test func admitsTheBurstThenTheRate() {
        var bucket = TokenBucket(rate: 10, capacity: 3)
        var taken: Bool
        #expect(take(&bucket, 3, at: 0))
        taken = bucket.take(now: 0)
        #expect(!taken)
        taken = bucket.take(now: 0.05)
        #expect(!taken)  // half a token back
        taken = bucket.take(now: 0.1)
        #expect(taken)
        taken = bucket.take(now: 0.1)
        #expect(!taken)
        // A long quiet spell refills up to the capacity only.
        #expect(take(&bucket, 3, at: 100))
        taken = bucket.take(now: 100)
        #expect(!taken)
    }

    @Test func aClockGoingBackwardsAddsNothing() {
        var bucket = TokenBucket(rate: 1, capacity: 1)
        var taken: Bool
        taken = bucket.take(now: 10)
        #expect(taken)
        taken = bucket.take(now: 5)
        #expect(!taken)
        taken = bucket.take(now: 10.5)
        #expect(!taken)
        taken = bucket.take(now: 11)
        #expect(taken)
    }

    /// Takes `count` tokens at `now`; true when every one was there.
    private func take(_ bucket: inout TokenBucket, _ count: Int, at now: Double) -> Bool {
        var all = true
        for _ in 0..<count where !bucket.take(now: now) { all = false }
        return all
    }
}
