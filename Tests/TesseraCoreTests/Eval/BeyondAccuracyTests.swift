import Foundation
import Testing
import TesseraCore

@Suite struct BeyondAccuracyTests {
    @Test func coverage() {
        // Distinct {0, 1, 2} of 5 items.
        #expect(EvalSupport.close(BeyondAccuracy.coverage(lists: [[0, 1], [1, 2]], itemCount: 5), 0.6))
        #expect(BeyondAccuracy.coverage(lists: [], itemCount: 5) == 0)
    }

    @Test func novelty() {
        // 4 train users, counts 4, 2, 1, 0: p = 1, 0.5, 0.25, 0.25 (count 0 → 1).
        // List [0, 1]: (0 + 1) / 2 = 0.5. List [2, 3]: (2 + 2) / 2 = 2. Mean 1.25.
        let value = BeyondAccuracy.novelty(lists: [[0, 1], [2, 3], []], trainCounts: [4, 2, 1, 0], trainUserCount: 4)
        #expect(EvalSupport.close(value, 1.25))
    }

    @Test func intraListDiversity() {
        // v0 (1,0), v1 (0,1), v2 (1,1), v3 (0,0).
        // [0, 1, 2]: 1 − 0 = 1; 1 − 1/√2 = 0.2928932 twice → 1.5857864 / 3 = 0.5285955.
        // [0, 3]: zero vector → distance 1. [2]: fewer than 2 items, skipped.
        // Mean (0.5285955 + 1) / 2 = 0.7642977.
        let embeddings = ItemEmbeddings(values: [1, 0, 0, 1, 1, 1, 0, 0], dim: 2)
        let value = BeyondAccuracy.intraListDiversity(lists: [[0, 1, 2], [0, 3], [2]], embeddings: embeddings)
        #expect(EvalSupport.close(value, 0.7642977, 1e-6))
        // Identical directions: distance 0.
        #expect(EvalSupport.close(BeyondAccuracy.intraListDiversity(lists: [[0, 0]], embeddings: embeddings), 0, 1e-7))
    }

    @Test func accumulatorKeys() {
        var accumulator = BeyondAccuracy.Accumulator(itemCount: 4)
        accumulator.add([0, 1])
        #expect(accumulator.metrics(k: 3) == ["coverage@3": 0.5])
    }
}
