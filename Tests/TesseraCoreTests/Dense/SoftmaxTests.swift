import Foundation
import Testing
import TesseraCore

@Suite("Dense: softmax and cross-entropy")
struct SoftmaxTests {
    typealias S = DenseTestSupport

    @Test func rowsSumToOneAndHugeLogitsStayFinite() {
        let x = Matrix(rows: 2, cols: 3, values: [1000, 999, -1000, 1, 2, 3])
        let y = softmax(x)
        #expect(y.values.allSatisfy { $0.isFinite })
        for r in 0..<2 { #expect(abs(y.row(r).reduce(0, +) - 1) < 1e-6) }
        #expect(abs(y[0, 0] - 1 / (1 + expf(-1))) < 1e-6)
        #expect(y[0, 2] == 0)
    }

    @Test func softmaxGradientCheck() {
        S.expectGradients("softmax", input: S.random(4, 5, seed: 1), parameters: []) { _, x in
            softmax(x)
        } backward: { _, x, dy in
            (softmaxBackward(dy, output: softmax(x)), [])
        }
    }

    /// `-log softmax(z - logQ)[t]` computed directly in Double.
    static func naiveLoss(_ logits: Matrix, _ targets: [Int], logQ: [Float]?) -> Double {
        var total = 0.0, counted = 0
        for r in 0..<logits.rows where targets[r] >= 0 {
            let z = (0..<logits.cols).map { Double(logits[r, $0]) - Double(logQ?[$0] ?? 0) }
            total += log(z.map(exp).reduce(0, +)) - z[targets[r]]
            counted += 1
        }
        return counted == 0 ? 0 : total / Double(counted)
    }

    @Test func crossEntropyMatchesTheDefinition() {
        let logits = S.random(4, 6, seed: 2, std: 3)
        let targets = [0, 5, -1, 2]
        let logQ: [Float] = [-1, -2, -0.5, -3, -1.5, -0.1]
        #expect(abs(softmaxCrossEntropy(logits: logits, targets: targets).loss - Self.naiveLoss(logits, targets, logQ: nil)) < 1e-5)
        let corrected = softmaxCrossEntropy(logits: logits, targets: targets, logQ: logQ)
        #expect(abs(corrected.loss - Self.naiveLoss(logits, targets, logQ: logQ)) < 1e-5)
        // The ignored row has zero gradient; counted rows' gradients sum to zero.
        #expect(corrected.gradient.row(2).allSatisfy { $0 == 0 })
        for r in [0, 1, 3] { #expect(abs(corrected.gradient.row(r).reduce(0, +)) < 1e-6) }
        // Sum reduction = mean × counted rows.
        let summed = softmaxCrossEntropy(logits: logits, targets: targets, logQ: logQ, reduction: .sum)
        #expect(abs(summed.loss - 3 * corrected.loss) < 1e-5)
        #expect(summed.gradient.isApproximatelyEqual(to: { var g = corrected.gradient; g.scale(by: 3); return g }()))
        // Extreme logits: finite loss even when the target's probability underflows.
        let extreme = softmaxCrossEntropy(logits: Matrix(rows: 1, cols: 2, values: [0, 500]), targets: [0])
        #expect(abs(extreme.loss - 500) < 1e-3)
        #expect(softmaxCrossEntropy(logits: logits, targets: [-1, -1, -1, -1]).loss == 0)
    }

    @Test(arguments: [false, true])
    func crossEntropyGradientCheck(withLogQ: Bool) {
        let targets = [3, 0, -1, 4, 1]
        let logQ: [Float]? = withLogQ ? [-2.3, -0.7, -1.2, -4.0, -0.2, -3.1] : nil
        // The loss itself is the scalar; `check`'s probe is applied to a 1x1 matrix holding it.
        let checker = GradientCheck()
        let logits = S.random(5, 6, seed: 3, std: 2)
        let analytic = softmaxCrossEntropy(logits: logits, targets: targets, logQ: logQ).gradient
        let report = checker.check(logits.values, analytic: analytic.values) { v in
            softmaxCrossEntropy(logits: Matrix(rows: 5, cols: 6, values: v), targets: targets, logQ: logQ).loss
        }
        if S.verbose { print("gradcheck softmaxCrossEntropy(logQ: \(withLogQ)): \(report)") }
        #expect(report.passed, "\(report)")
        #expect(report.checked == 30)
    }
}

@Suite("Dense: embedding gather and scatter")
struct EmbeddingLookupTests {
    typealias S = DenseTestSupport

    @Test func gatherCopiesRowsAndPaddingIsZero() {
        let table: [Float] = [1, 2, 3, 4, 5, 6]  // 3 rows of 2
        let m = EmbeddingLookup.gather(table, dim: 2, indices: [2, -1, 0, 2] as [Int32])
        #expect(m == Matrix(rows: 4, cols: 2, values: [5, 6, 0, 0, 1, 2, 5, 6]))
    }

    @Test func scatterAddSumsRepeatedIndices() {
        let g = Matrix(rows: 4, cols: 2, values: [1, 1, 9, 9, 2, 2, 3, 3])
        var table = [Float](repeating: 0, count: 6)
        EmbeddingLookup.scatterAdd(g, indices: [2, -1, 0, 2], into: &table)
        #expect(table == [2, 2, 0, 0, 4, 4])
    }

    @Test func gatherGradientCheck() {
        // The "parameters" are the pulled table; repeated and padding indices included.
        let indices = [1, 3, 1, -1, 0, 1, 3]
        let table = S.random(4, 5, seed: 4).values
        S.expectGradients("Embedding gather/scatter", input: Matrix(rows: 0, cols: 1), parameters: table) { p, _ in
            EmbeddingLookup.gather(p, dim: 5, indices: indices)
        } backward: { _, x, dy in
            var g = [Float](repeating: 0, count: table.count)
            EmbeddingLookup.scatterAdd(dy, indices: indices, into: &g)
            return (x, g)
        }
    }
}
