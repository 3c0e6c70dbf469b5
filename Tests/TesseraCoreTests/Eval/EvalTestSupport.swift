import Foundation
import TesseraCore

/// Helpers shared by the evaluation tests (namespaced to avoid clashing with other
/// test files of the target).
enum EvalSupport {
    /// |a − b| ≤ tolerance.
    static func close(_ a: Double, _ b: Double, _ tolerance: Double = 1e-9) -> Bool {
        abs(a - b) <= tolerance
    }

    /// Same keys and values within `tolerance`.
    static func close(_ a: [String: Double], _ b: [String: Double], _ tolerance: Double = 1e-9) -> Bool {
        a.keys.sorted() == b.keys.sorted() && a.allSatisfy { key, value in close(value, b[key]!, tolerance) }
    }

    /// Reference top-K: sort every unmasked, non-NaN item by (score desc, index asc).
    static func bruteForceTopK(_ scores: [Float], k: Int, excluding: Set<Int>) -> [ScoredItem] {
        let kept = scores.indices
            .filter { !excluding.contains($0) && !scores[$0].isNaN }
            .map { ScoredItem(index: $0, score: scores[$0]) }
            .sorted { $0.ranksBefore($1) }
        return Array(kept.prefix(k))
    }

    /// Random small-integer vectors: exact float dot products, frequent ties.
    static func integerVectors(count: Int, rng: inout SplitMix64) -> [Float] {
        (0..<count).map { _ in Float(rng.nextInt(below: 5) - 2) }
    }

    /// A random data set: `users` users each with some train, validation and test
    /// interactions over `items` items (keys 1000 + index; users 1…users).
    static func randomSplit(users: Int, items: Int, seed: UInt64)
        -> (items: [UInt64], train: [Interaction], valid: [Interaction], test: [Interaction])
    {
        var rng = SplitMix64(seed: seed)
        let keys = (0..<items).map { UInt64(1000 + $0) }
        var train: [Interaction] = [], valid: [Interaction] = [], test: [Interaction] = []
        for user in 1...UInt64(users) {
            for _ in 0..<(1 + rng.nextInt(below: 8)) {
                let interaction = Interaction(user: user, item: keys[rng.nextInt(below: items)])
                switch rng.nextInt(below: 10) {
                case 0: valid.append(interaction)
                case 1, 2: test.append(interaction)
                default: train.append(interaction)
                }
            }
        }
        return (keys, train, valid, test)
    }

    /// A fresh path in the temporary directory.
    static func temporaryFile(_ name: String) -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("tessera-eval-\(UUID().uuidString)-\(name)")
    }
}
