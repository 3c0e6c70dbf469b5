import Testing
import TesseraCore

@Suite struct RankerFittingTests {
    static func ranker() -> Ranker {
        Ranker(dim: 4, scenarios: 1, hidden: [16], userTable: "user", itemTable: "item", denseTable: "dense", blockSize: 64,
               denseFirstKey: 7, popularity: [:])
    }

    /// Lists of 20 candidates in retrieval order, whose relevance retrieval's score does not
    /// see: a candidate is relevant iff its vector's last coordinate is high, and that
    /// coordinate is zero in every user vector, so `u·v` ignores it.
    static func lists(count: Int, seed: UInt64) -> [RankerFitting.CandidateList] {
        var rng = SplitMix64(seed: seed)
        var nextItem: UInt64 = 0
        return (0..<count).map { _ in
            let user = [rng.nextGaussian(), rng.nextGaussian(), rng.nextGaussian(), 0]
            var items: [UInt64] = [], vectors: [Float] = [], relevant: [Bool] = []
            for _ in 0..<20 {
                let v = [rng.nextGaussian(), rng.nextGaussian(), rng.nextGaussian(), rng.nextGaussian()]
                items.append(nextItem)
                nextItem += 1
                vectors += v
                relevant.append(v[3] > 1.2)
            }
            // Retrieval order: by u·v, as the candidate lists arrive.
            func score(_ c: Int) -> Float {
                var total: Float = 0
                for d in 0..<4 { total += user[d] * vectors[c * 4 + d] }
                return total
            }
            let order = (0..<20).sorted { score($0) > score($1) }
            return RankerFitting.CandidateList(user: user, items: order.map { items[$0] },
                                               itemVectors: order.flatMap { vectors[($0 * 4)..<($0 * 4 + 4)] },
                                               relevant: order.map { relevant[$0] })
        }
    }

    @Test func learnsWhatRetrievalMissesAndKeepsTheBestEpoch() async throws {
        let ranker = Self.ranker()
        var fitting = RankerFitting()
        fitting.epochs = 6
        fitting.optimizer = .adam(learningRate: 0.01)
        fitting.seed = 5
        let lists = Self.lists(count: 400, seed: 2)
        let initial = ranker.initialParameters(seed: 1)
        let (weights, report) = try await fitting.fit(ranker, initial: initial, lists: lists)
        #expect(report.checkNDCG.count == 7)
        #expect(report.fitLists + report.checkLists == lists.filter { $0.relevant.contains(true) }.count)
        #expect(report.checkLists > 40 && report.fitLists > 4 * report.checkLists / 2, "\(report)")
        let kept = report.checkNDCG[report.bestEpoch]
        #expect(report.bestEpoch > 0 && kept == report.checkNDCG.max(), "\(report)")
        #expect(kept > report.checkNDCG[0] + 0.15, "check NDCG \(report.checkNDCG)")
        // On lists it never saw, the fitted ranker beats retrieval's order as clearly.
        let fresh = Self.lists(count: 200, seed: 9).filter { $0.relevant.contains(true) }
        let before = fitting.checkNDCG(ranker, weights: initial, lists: fresh)
        let after = fitting.checkNDCG(ranker, weights: weights, lists: fresh)
        #expect(after > before + 0.15, "held-out NDCG \(before) -> \(after)")
    }

    @Test func epochZeroIsRetrievalOrderAndIsKeptWhenNothingHelps() async throws {
        let ranker = Self.ranker()
        var fitting = RankerFitting()
        fitting.epochs = 2
        fitting.optimizer = .sgd(learningRate: 1e-12)  // steps too small to reorder any list
        let lists = Self.lists(count: 100, seed: 4)
        let initial = ranker.initialParameters(seed: 3)
        let (weights, report) = try await fitting.fit(ranker, initial: initial, lists: lists)
        #expect(report.bestEpoch == 0 && weights == initial, "\(report)")
        // Epoch 0 is the NDCG of the lists as retrieval ordered them.
        var total = 0.0, counted = 0
        for (i, list) in lists.filter({ $0.relevant.contains(true) }).enumerated() {
            let draw = Double(Hashing.combine(0, UInt64(i)) >> 11) / Double(1 << 53)
            guard draw < fitting.checkFraction else { continue }
            total += RankingMetrics.ndcg(ranked: Array(list.items.indices), relevant: Set(list.items.indices.filter { list.relevant[$0] }), k: 10)
            counted += 1
        }
        #expect(abs(report.checkNDCG[0] - total / Double(counted)) < 1e-12)
    }
}
