import Foundation

/// Item vectors for similarity-based metrics: row-major `count × dim`, in the
/// evaluation set's item order.
public struct ItemEmbeddings: Sendable {
    public let values: [Float]
    public let dim: Int

    /// Preconditions: `dim >= 1`; `values` holds whole rows.
    public init(values: [Float], dim: Int) {
        precondition(dim >= 1 && values.count % dim == 0, "\(values.count) floats are not whole rows of \(dim)")
        self.values = values
        self.dim = dim
    }

    /// Number of rows.
    public var count: Int { values.count / dim }
}

/// Metrics of recommendation lists beyond accuracy. Lists hold dense item indices,
/// best first, already cut to K.
///
/// - coverage@K = |distinct items in all lists| / itemCount (catalogue coverage).
/// - novelty@K = mean over lists of the mean over the list's items of
///   −log2(p(i)), with p(i) = max(trainCount(i), 1) / trainUserCount: the share of
///   training users who interacted with i when every user interacts with an item
///   at most once (repeats make p(i) larger; an item never seen in training is
///   treated as seen once, so novelty stays finite). In bits; higher = less popular.
/// - diversity@K (intra-list diversity) = mean over lists with ≥ 2 items of the mean
///   over unordered pairs {i, j} in the list of 1 − cos(v_i, v_j); a zero vector
///   has cosine 0 with everything (distance 1).
/// Empty lists are skipped by novelty and diversity.
public enum BeyondAccuracy {
    /// Catalogue coverage of `lists` over `itemCount` items. Precondition: `itemCount >= 1`.
    public static func coverage(lists: [[Int]], itemCount: Int) -> Double {
        var accumulator = Accumulator(itemCount: itemCount)
        for list in lists { accumulator.add(list) }
        return accumulator.coverage
    }

    /// Mean novelty of `lists` (see the type's documentation). Preconditions:
    /// `trainUserCount >= 1`; indices are within `trainCounts`.
    public static func novelty(lists: [[Int]], trainCounts: [Int], trainUserCount: Int) -> Double {
        var accumulator = Accumulator(itemCount: trainCounts.count, trainCounts: trainCounts, trainUserCount: trainUserCount)
        for list in lists { accumulator.add(list) }
        return accumulator.novelty ?? 0
    }

    /// Mean intra-list diversity of `lists` under `embeddings`.
    public static func intraListDiversity(lists: [[Int]], embeddings: ItemEmbeddings) -> Double {
        var accumulator = Accumulator(itemCount: embeddings.count, embeddings: embeddings)
        for list in lists { accumulator.add(list) }
        return accumulator.diversity ?? 0
    }

    /// Accumulates the three metrics one list at a time, so an evaluator need not
    /// keep every list. Novelty needs `trainCounts` and `trainUserCount >= 1`;
    /// diversity needs `embeddings`; each is nil otherwise.
    public struct Accumulator: Sendable {
        private var seen: [Bool]
        private var distinct = 0
        private let trainCounts: [Int]?
        private let trainUserCount: Int
        private let embeddings: ItemEmbeddings?
        private var noveltySum = 0.0
        private var noveltyLists = 0
        private var diversitySum = 0.0
        private var diversityLists = 0

        public init(itemCount: Int, trainCounts: [Int]? = nil, trainUserCount: Int = 0, embeddings: ItemEmbeddings? = nil) {
            precondition(itemCount >= 1, "coverage needs at least one item")
            precondition(trainCounts == nil || trainCounts!.count == itemCount, "train counts do not match the items")
            precondition(embeddings == nil || embeddings!.count == itemCount, "embeddings do not match the items")
            seen = [Bool](repeating: false, count: itemCount)
            self.trainCounts = trainUserCount >= 1 ? trainCounts : nil
            self.trainUserCount = trainUserCount
            self.embeddings = embeddings
        }

        /// Adds one list of dense item indices. Precondition: indices in `0..<itemCount`.
        public mutating func add(_ list: some Collection<Int>) {
            for item in list where !seen[item] {
                seen[item] = true
                distinct += 1
            }
            guard !list.isEmpty else { return }
            if let trainCounts {
                let users = Double(trainUserCount)
                var sum = 0.0
                for item in list { sum -= log2(Double(max(trainCounts[item], 1)) / users) }
                noveltySum += sum / Double(list.count)
                noveltyLists += 1
            }
            if let embeddings, list.count >= 2 {
                diversitySum += Self.meanPairwiseDistance(Array(list), embeddings)
                diversityLists += 1
            }
        }

        public var coverage: Double { Double(distinct) / Double(seen.count) }
        public var novelty: Double? { trainCounts == nil ? nil : noveltyLists == 0 ? 0 : noveltySum / Double(noveltyLists) }
        public var diversity: Double? { embeddings == nil ? nil : diversityLists == 0 ? 0 : diversitySum / Double(diversityLists) }

        /// `"coverage@K"`, and `"novelty@K"` / `"diversity@K"` when computable.
        public func metrics(k: Int) -> [String: Double] {
            var result = [EvaluationResult.key(.coverage, k: k): coverage]
            if let novelty { result[EvaluationResult.key(.novelty, k: k)] = novelty }
            if let diversity { result[EvaluationResult.key(.diversity, k: k)] = diversity }
            return result
        }

        private static func meanPairwiseDistance(_ list: [Int], _ embeddings: ItemEmbeddings) -> Double {
            let dim = embeddings.dim
            return embeddings.values.withUnsafeBufferPointer { v in
                func dot(_ a: Int, _ b: Int) -> Double {
                    var total: Float = 0
                    for d in 0..<dim { total += v[a * dim + d] * v[b * dim + d] }
                    return Double(total)
                }
                let norms = list.map { dot($0, $0).squareRoot() }
                var sum = 0.0
                var pairs = 0
                for a in 0..<list.count {
                    for b in (a + 1)..<list.count {
                        let denominator = norms[a] * norms[b]
                        let cosine = denominator > 0 ? dot(list[a], list[b]) / denominator : 0
                        sum += 1 - cosine
                        pairs += 1
                    }
                }
                return sum / Double(pairs)
            }
        }
    }
}
