import Synchronization

/// Lifecycle counters of one table, read by metrics and `lifecycleCounts`.
final class LifecycleCounters: Sendable {
    let admitted = Atomic<UInt64>(0)
    /// Pulls answered with an initial row because the key was not admitted yet.
    let waiting = Atomic<UInt64>(0)
    /// Pushes to keys not admitted (dropped).
    let droppedPushes = Atomic<UInt64>(0)
    let evictedExpired = Atomic<UInt64>(0)
    let evictedForCap = Atomic<UInt64>(0)
}

/// What a table's lifecycle did so far.
public struct LifecycleCounts: Sendable, Hashable {
    /// Keys that reached `admitAfter` pulls and got a row.
    public var admitted: UInt64
    /// Pulls of keys still waiting for admission (answered with the initial row, nothing stored).
    public var waiting: UInt64
    /// Pushes to keys not admitted, dropped.
    public var droppedPushes: UInt64
    /// Rows deleted because they went unused for `ttlSeconds`.
    public var evictedExpired: UInt64
    /// Rows deleted (least recently used first) to stay under `maxRows`.
    public var evictedForCap: UInt64

    public var evicted: UInt64 { evictedExpired + evictedForCap }
}

extension EmbeddingTable {
    /// Most keys a stripe counts toward admission; past it the counts start over, so a key
    /// must reach `admitAfter` pulls while it is among the most recent of them.
    static let maxSightingsPerStripe = 65_536
    /// Rows sampled when the cap needs a victim (the oldest of them goes).
    static let evictionSample = 16

    public var lifecycleCounts: LifecycleCounts {
        LifecycleCounts(admitted: counts.admitted.load(ordering: .relaxed), waiting: counts.waiting.load(ordering: .relaxed),
                        droppedPushes: counts.droppedPushes.load(ordering: .relaxed),
                        evictedExpired: counts.evictedExpired.load(ordering: .relaxed),
                        evictedForCap: counts.evictedForCap.load(ordering: .relaxed))
    }

    /// Counts one more pull of `key` (which has no row); true once it reaches `admitAfter`.
    func admit(_ key: UInt64, in stripe: inout RowStripe) -> Bool {
        guard let lifecycle, lifecycle.admitAfter > 1 else { return true }
        let seen = Int(stripe.sightings[key] ?? 0) + 1
        if seen >= lifecycle.admitAfter {
            stripe.sightings.removeValue(forKey: key)
            counts.admitted.add(1, ordering: .relaxed)
            return true
        }
        if stripe.sightings.count >= Self.maxSightingsPerStripe { stripe.sightings.removeAll(keepingCapacity: true) }
        stripe.sightings[key] = UInt16(seen)
        counts.waiting.add(1, ordering: .relaxed)
        return false
    }

    /// Keeps the stripe at `stripeCap` rows: deletes the least recently used of a sample of
    /// rows (never `keeping`, the row just made) while it is over.
    func enforceCap(in stripe: inout RowStripe, keeping: UInt64) {
        guard stripeCap > 0 else { return }
        var rng = SplitMix64(seed: keeping &+ UInt64(stripe.count))
        while stripe.count > stripeCap {
            var victim: (key: UInt64, tick: UInt32)?
            for _ in 0..<Self.evictionSample {
                let slot = rng.nextInt(below: stripe.count)
                let key = stripe.key(at: slot)
                guard key != keeping else { continue }
                let tick = stripe.access(at: slot)
                if victim == nil || tick < victim!.tick { victim = (key, tick) }
            }
            guard let victim else { return }
            let generation = currentGeneration
            if stripe.remove(key: victim.key, generation: generation > 1 ? generation : nil) {
                counts.evictedForCap.add(1, ordering: .relaxed)
                replication.recordRemoval(of: victim.key)
            }
        }
    }

    /// Deletes every row unused for `lifecycle.ttlSeconds`; returns how many. Cheap to call
    /// often: each stripe is scanned under its own lock, one at a time.
    @discardableResult
    public func evictExpired() -> Int {
        guard let lifecycle, lifecycle.ttlSeconds > 0 else { return 0 }
        let now = clock()
        let ttl = UInt32(clamping: Int(lifecycle.ttlSeconds.rounded(.up)))
        guard now >= ttl else { return 0 }
        let oldest = now - ttl
        var evicted = 0
        for stripe in stripes {
            evicted += stripe.rows.withLock { rows in
                var expired: [UInt64] = []
                for slot in 0..<rows.count where rows.access(at: slot) < oldest { expired.append(rows.key(at: slot)) }
                let generation = currentGeneration
                for key in expired {
                    _ = rows.remove(key: key, generation: generation > 1 ? generation : nil)
                    replication.recordRemoval(of: key)
                }
                return expired.count
            }
        }
        counts.evictedExpired.add(UInt64(evicted), ordering: .relaxed)
        return evicted
    }
}
