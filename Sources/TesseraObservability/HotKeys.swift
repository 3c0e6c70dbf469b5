import Synchronization

/// The most frequently seen keys of a stream, approximately, in bounded memory.
///
/// Keeps at most `2 * capacity` counters; when full it keeps the `capacity`
/// largest and drops the rest (so a key that is hot now climbs back quickly,
/// and a rarely seen one cannot stay). Each `record` samples at most
/// `samplePerBatch` keys of the batch, evenly spaced, so a large pull costs a
/// bounded amount of work: hot keys show up in many batches and are found all
/// the same. Counts are therefore sampled occurrences, comparable to each other,
/// not exact pull counts.
///
/// Thread-safe; one lock per batch.
public final class HotKeys: Sendable {
    public struct Entry: Sendable, Equatable {
        public var table: String
        public var key: UInt64
        public var count: UInt64
    }

    private struct Slot: Hashable {
        var table: String
        var key: UInt64
    }

    private let capacity: Int
    private let samplePerBatch: Int
    private let counts = Mutex<[Slot: UInt64]>([:])

    /// - Parameters:
    ///   - capacity: counters kept after pruning; the top-N reported should be well below it.
    ///   - samplePerBatch: most keys of one batch counted.
    public init(capacity: Int = 256, samplePerBatch: Int = 64) {
        precondition(capacity > 0 && samplePerBatch > 0, "capacity and samplePerBatch must be positive")
        self.capacity = capacity
        self.samplePerBatch = samplePerBatch
    }

    /// Counts (a sample of) `keys`, requested from `table`.
    public func record(table: String, keys: [UInt64]) {
        guard !keys.isEmpty else { return }
        let stride = max(1, (keys.count + samplePerBatch - 1) / samplePerBatch)
        counts.withLock { counts in
            for index in Swift.stride(from: 0, to: keys.count, by: stride) {
                counts[Slot(table: table, key: keys[index]), default: 0] += 1
            }
            if counts.count > 2 * capacity {
                let kept = counts.sorted { $0.value > $1.value }.prefix(capacity)
                counts = Dictionary(uniqueKeysWithValues: kept.map { ($0.key, $0.value) })
            }
        }
    }

    /// The `n` most frequent keys, most frequent first (ties by table, then key).
    public func top(_ n: Int) -> [Entry] {
        let all = counts.withLock { $0 }
        return all.map { Entry(table: $0.key.table, key: $0.key.key, count: $0.value) }
            .sorted { ($0.count, $1.table, $1.key) > ($1.count, $0.table, $0.key) }
            .prefix(n).map { $0 }
    }
}
