/// One entry of a top-K list: a dense item index and its score.
public struct ScoredItem: Sendable, Hashable {
    /// Position of the item in the item universe (not its key).
    public var index: Int
    public var score: Float

    public init(index: Int, score: Float) {
        self.index = index
        self.score = score
    }

    /// True when `self` ranks before `other`: higher score, or equal score and
    /// lower index. This is the order of every top-K list in Tessera.
    @inlinable
    public func ranksBefore(_ other: ScoredItem) -> Bool {
        score > other.score || (score == other.score && index < other.index)
    }
}

/// Selection of the K best scores out of n, with a bounded min-heap: O(n log K)
/// time, O(K) memory.
///
/// Excluded indices come as a sorted list (a user's history: a few hundred entries
/// against 10^4–10^6 items). The scan walks the gaps between excluded indices, so
/// the inner loop has no per-item mask test, and a full heap costs one comparison
/// per item. NaN scores are never selected. Ties are broken by the lower index, so
/// results are deterministic.
public enum TopK {
    /// The `k` highest scores whose index is not in `excluded`, best first (see
    /// `ScoredItem.ranksBefore`). Returns fewer than `k` entries when fewer items
    /// remain.
    ///
    /// Preconditions: `k >= 0`; `excluded` is sorted ascending with entries `>= 0`
    /// (duplicates and entries `>= scores.count` are allowed and ignored).
    public static func select(
        _ scores: UnsafeBufferPointer<Float>, k: Int, excluding excluded: UnsafeBufferPointer<Int32>
    ) -> [ScoredItem] {
        precondition(k >= 0, "K must not be negative, got \(k)")
        guard k > 0, !scores.isEmpty else { return [] }
        var heap = BoundedHeap(capacity: min(k, scores.count))
        defer { heap.deallocate() }
        var start = 0
        var previous = Int32.min
        for e in excluded {
            assert(e >= 0 && e >= previous, "excluded indices must be sorted and non-negative")
            previous = e
            let stop = min(Int(e), scores.count)
            if start < stop { heap.scan(scores, start..<stop) }
            start = max(start, stop + 1)
            if start >= scores.count { break }
        }
        if start < scores.count { heap.scan(scores, start..<scores.count) }
        return heap.sortedBestFirst()
    }

    /// Array convenience for `select(_:k:excluding:)` on buffers.
    public static func select(_ scores: [Float], k: Int, excluding excluded: [Int32] = []) -> [ScoredItem] {
        scores.withUnsafeBufferPointer { s in
            excluded.withUnsafeBufferPointer { e in select(s, k: k, excluding: e) }
        }
    }
}

/// A min-heap of at most `capacity` (score, index) pairs whose root is the worst
/// kept entry (lowest score; among equal scores, the highest index). Manually
/// allocated so the scan loop touches no array bounds checks or CoW buffers.
struct BoundedHeap {
    private let capacity: Int
    private var count = 0
    private let scores: UnsafeMutablePointer<Float>
    private let indices: UnsafeMutablePointer<Int>

    init(capacity: Int) {
        precondition(capacity >= 1)
        self.capacity = capacity
        scores = .allocate(capacity: capacity)
        indices = .allocate(capacity: capacity)
    }

    func deallocate() {
        scores.deallocate()
        indices.deallocate()
    }

    /// True when entry a is worse than entry b (belongs nearer the root).
    @inline(__always)
    private func worse(_ a: Int, _ b: Int) -> Bool {
        scores[a] < scores[b] || (scores[a] == scores[b] && indices[a] > indices[b])
    }

    /// Offers every score in `range`, which must lie above every index offered before.
    @inline(__always)
    mutating func scan(_ source: UnsafeBufferPointer<Float>, _ range: Range<Int>) {
        var i = range.lowerBound
        let end = range.upperBound
        while count < capacity && i < end {
            let s = source[i]
            if !s.isNaN { push(s, i) }
            i += 1
        }
        guard i < end else { return }
        // Full heap. Indices only grow, so an equal score never beats the root:
        // one strict comparison per item decides (false for NaN too).
        let base = source.baseAddress!
        var threshold = scores[0]
        while i < end {
            let s = base[i]
            if s > threshold {
                replaceRoot(s, i)
                threshold = scores[0]
            }
            i += 1
        }
    }

    private mutating func push(_ score: Float, _ index: Int) {
        var child = count
        scores[child] = score
        indices[child] = index
        count += 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard worse(child, parent) else { break }
            swapAt(child, parent)
            child = parent
        }
    }

    private mutating func replaceRoot(_ score: Float, _ index: Int) {
        scores[0] = score
        indices[0] = index
        var parent = 0
        while true {
            let left = 2 * parent + 1
            guard left < count else { break }
            var worst = left
            let right = left + 1
            if right < count && worse(right, left) { worst = right }
            guard worse(worst, parent) else { break }
            swapAt(worst, parent)
            parent = worst
        }
    }

    @inline(__always)
    private func swapAt(_ a: Int, _ b: Int) {
        let s = scores[a]
        scores[a] = scores[b]
        scores[b] = s
        let x = indices[a]
        indices[a] = indices[b]
        indices[b] = x
    }

    func sortedBestFirst() -> [ScoredItem] {
        var result: [ScoredItem] = []
        result.reserveCapacity(count)
        for j in 0..<count { result.append(ScoredItem(index: indices[j], score: scores[j])) }
        result.sort { $0.ranksBefore($1) }
        return result
    }
}
