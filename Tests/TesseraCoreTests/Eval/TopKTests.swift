import Testing
import TesseraCore

@Suite struct TopKTests {
    @Test func handExample() {
        // Scores by index: 0:0.5 1:0.9 2:0.9 3:0.1 4:0.7; exclude 2 → 1 (0.9), 4 (0.7), 0 (0.5).
        let top = TopK.select([0.5, 0.9, 0.9, 0.1, 0.7], k: 3, excluding: [2])
        #expect(top == [ScoredItem(index: 1, score: 0.9), ScoredItem(index: 4, score: 0.7), ScoredItem(index: 0, score: 0.5)])
    }

    @Test func tiesGoToLowerIndex() {
        let top = TopK.select([1, 1, 1, 1, 1], k: 3)
        #expect(top.map(\.index) == [0, 1, 2])
    }

    @Test func kLargerThanRemainingItems() {
        let top = TopK.select([3, 1, 2], k: 10, excluding: [1])
        #expect(top.map(\.index) == [0, 2])
        #expect(TopK.select([], k: 5).isEmpty)
        #expect(TopK.select([1, 2], k: 0).isEmpty)
    }

    @Test func nanIsNeverSelected() {
        let top = TopK.select([.nan, 2, .nan, 1], k: 4)
        #expect(top.map(\.index) == [1, 3])
    }

    @Test func duplicateAndOutOfRangeExclusionsAreIgnored() {
        let top = TopK.select([5, 4, 3, 2], k: 4, excluding: [1, 1, 3, 9, 9])
        #expect(top.map(\.index) == [0, 2])
    }

    @Test(arguments: [1, 3, 10, 64, 500, 2000])
    func matchesBruteForce(k: Int) {
        var rng = SplitMix64(seed: UInt64(k))
        for trial in 0..<30 {
            let n = 1 + rng.nextInt(below: 1500)
            // Few distinct values so ties are common; some NaNs.
            let scores: [Float] = (0..<n).map { _ in
                rng.nextInt(below: 50) == 0 ? .nan : Float(rng.nextInt(below: trial % 2 == 0 ? 7 : 100_000)) / 7
            }
            let excluded = Set((0..<rng.nextInt(below: n + 1)).map { _ in rng.nextInt(below: n) })
            let top = TopK.select(scores, k: k, excluding: excluded.sorted().map(Int32.init))
            #expect(top == EvalSupport.bruteForceTopK(scores, k: k, excluding: excluded), "n=\(n) trial=\(trial)")
        }
    }
}
