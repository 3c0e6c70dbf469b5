/// Fits the ranking stage where it is used: on retrieval's candidate lists for
/// interactions the retrieval model never trained on.
///
/// A ranker trained beside retrieval on the training interactions learns from positives
/// whose embeddings were fitted to them (their retrieval score is inflated) and from
/// uniform negatives far below anything it will be asked to re-rank; on held-out data it
/// reorders retrieval's top candidates for the worse. So the ranking stage is fitted after
/// retrieval, on held-out interactions (the validation split): each user's top candidates
/// under the frozen retrieval model, labelled 1 for the user's held-out items and 0
/// otherwise, the listwise softmax loss per list, the dense table's optimizer on the
/// ranker's weights only. (A pointwise logistic loss fails here: nearly every candidate
/// is a negative with a high retrieval score, so the quickest way down is to cancel
/// `u·v`, which throws retrieval's order away.)
///
/// Lists are split by a seeded hash of their position into a fitting part and a check
/// part (`checkFraction`). After every epoch the check part's NDCG@k of the re-ranked lists
/// is measured; the weights of the best epoch are kept, and epoch 0 is the initial ranker
/// (whose output layer is zero, so it ranks exactly as retrieval does). A ranker that
/// never beats retrieval on the check lists therefore leaves the order unchanged.
public struct RankerFitting: Sendable {
    /// One user's retrieval candidates with their labels.
    public struct CandidateList: Sendable {
        /// The user's retrieval vector.
        public var user: [Float]
        /// Candidate item keys, in retrieval order.
        public var items: [UInt64]
        /// Their retrieval vectors, row-major.
        public var itemVectors: [Float]
        /// Per candidate: a held-out item of the user.
        public var relevant: [Bool]

        public init(user: [Float], items: [UInt64], itemVectors: [Float], relevant: [Bool]) {
            self.user = user
            self.items = items
            self.itemVectors = itemVectors
            self.relevant = relevant
        }
    }

    /// What fitting found.
    public struct Report: Sendable, Hashable {
        /// Check-part NDCG@k per epoch; index 0 is before any step (retrieval's order).
        public var checkNDCG: [Double]
        /// The epoch whose weights were kept (0: none beat retrieval).
        public var bestEpoch: Int
        public var fitLists: Int
        public var checkLists: Int
    }

    public var epochs = 10
    /// The ranker weights' optimizer (the dense table's, in a cluster).
    public var optimizer = OptimizerSpec.adam(learningRate: 0.001)
    /// Lists per step.
    public var batchLists = 32
    public var checkFraction = 0.2
    public var k = 10
    public var seed: UInt64 = 0

    public init() {}

    /// Fits `ranker` from `initial` weights on `lists` (only lists with at least one
    /// relevant candidate carry signal; the others are ignored). Returns the kept weights.
    public func fit(_ ranker: Ranker, initial: [Float], lists: [CandidateList]) async throws -> (weights: [Float], report: Report) {
        precondition(initial.count == ranker.layout.count, "\(initial.count) weights for a ranker of \(ranker.layout.count)")
        let useful = lists.filter { $0.relevant.contains(true) }
        var fitPart: [CandidateList] = [], checkPart: [CandidateList] = []
        for (i, list) in useful.enumerated() {
            let draw = Double(Hashing.combine(seed, UInt64(i)) >> 11) / Double(1 << 53)
            if draw < checkFraction { checkPart.append(list) } else { fitPart.append(list) }
        }
        let dim = ranker.dim
        // The retrieval vectors are inputs (the ranker returns no gradient for them): users
        // under their list index, items under their key.
        let parameters = try LocalParameters(specs: [
            TableSpec(name: ranker.userTable, dim: dim, optimizer: .sgd(learningRate: 1)),
            TableSpec(name: ranker.itemTable, dim: dim, optimizer: .sgd(learningRate: 1)),
            TableSpec(name: ranker.dense.table, dim: ranker.dense.blockSize, optimizer: optimizer),
        ])
        let users = parameters.tables[ranker.userTable]!, items = parameters.tables[ranker.itemTable]!
        var inserted = Set<UInt64>()
        for (i, list) in fitPart.enumerated() {
            try users.insert(key: UInt64(i), value: list.user)
            for (j, item) in list.items.enumerated() where inserted.insert(item).inserted {
                try items.insert(key: item, value: Array(list.itemVectors[(j * dim)..<((j + 1) * dim)]))
            }
        }
        let dense = parameters.tables[ranker.dense.table]!
        let blocks = ranker.dense.blocks(initial)
        for (b, key) in ranker.dense.keys.enumerated() {
            try dense.insert(key: key, value: Array(blocks[(b * ranker.dense.blockSize)..<((b + 1) * ranker.dense.blockSize)]))
        }
        let dims = [ranker.userTable: dim, ranker.itemTable: dim, ranker.dense.table: ranker.dense.blockSize]

        var best = (ndcg: checkNDCG(ranker, weights: initial, lists: checkPart), epoch: 0, weights: initial)
        var history = [best.ndcg]
        var order = Array(fitPart.indices)
        for epoch in 1...max(1, epochs) {
            var rng = SplitMix64(seed: Hashing.combine(seed, UInt64(epoch)))
            for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, rng.nextInt(below: i + 1)) }
            for (step, start) in stride(from: 0, to: order.count, by: batchLists).enumerated() {
                var examples: [Ranker.Example] = [], ranges: [Range<Int>] = []
                for i in order[start..<min(start + batchLists, order.count)] {
                    let list = fitPart[i]
                    let first = examples.count
                    for (j, item) in list.items.enumerated() {
                        examples.append(Ranker.Example(user: UInt64(i), item: item, label: list.relevant[j] ? 1 : 0))
                    }
                    ranges.append(first..<examples.count)
                }
                _ = try await ShardedStep.train(ranker, batch: Ranker.Batch(examples: examples, lists: ranges), dims: dims,
                                                seed: Hashing.combine(UInt64(epoch), UInt64(step)), on: parameters)
            }
            let weights = ranker.dense.flatten(try dense.pull(keys: ranker.dense.keys))
            let ndcg = checkNDCG(ranker, weights: weights, lists: checkPart)
            history.append(ndcg)
            if ndcg > best.ndcg { best = (ndcg, epoch, weights) }
        }
        return (best.weights, Report(checkNDCG: history, bestEpoch: best.epoch, fitLists: fitPart.count, checkLists: checkPart.count))
    }

    /// Mean NDCG@k of `lists` re-ranked by the ranker with `weights`.
    public func checkNDCG(_ ranker: Ranker, weights: [Float], lists: [CandidateList]) -> Double {
        guard !lists.isEmpty else { return 0 }
        var total = 0.0
        for list in lists {
            let scores = ranker.score(user: list.user, items: list.items, itemVectors: list.itemVectors, scenario: 0, parameters: weights)
            let order = list.items.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
            let relevant = Set(list.items.indices.filter { list.relevant[$0] })
            total += RankingMetrics.ndcg(ranked: order, relevant: relevant, k: k)
        }
        return total / Double(lists.count)
    }
}
