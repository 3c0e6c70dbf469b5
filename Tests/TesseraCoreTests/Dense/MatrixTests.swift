import Testing
import TesseraCore

@Suite("Dense: Matrix and BLAS wrappers")
struct MatrixTests {
    typealias S = DenseTestSupport

    @Test func matmulMatchesNaiveProductForEveryTransposeCombination() {
        let a = S.random(5, 3, seed: 1), b = S.random(3, 4, seed: 2)
        let expected = S.naiveProduct(a, b)
        #expect(matmul(a, b).isApproximatelyEqual(to: expected))
        #expect(matmul(a.transposed(), b, transposeA: true).isApproximatelyEqual(to: expected))
        #expect(matmul(a, b.transposed(), transposeB: true).isApproximatelyEqual(to: expected))
        #expect(matmul(a.transposed(), b.transposed(), transposeA: true, transposeB: true).isApproximatelyEqual(to: expected))
    }

    @Test func matmulHonoursAlphaAndBeta() {
        let a = S.random(4, 2, seed: 3), b = S.random(2, 3, seed: 4)
        var c = S.random(4, 3, seed: 5)
        let before = c
        matmul(a, b, alpha: 2, beta: 0.5, into: &c)
        var expected = S.naiveProduct(a, b)
        expected.scale(by: 2)
        expected.add(before, scaledBy: 0.5)
        #expect(c.isApproximatelyEqual(to: expected))
    }

    @Test func matvecAndAxpy() {
        let a = S.random(4, 3, seed: 6)
        let x: [Float] = [1, -2, 0.5]
        let y = matvec(a, x)
        for r in 0..<4 {
            let expected = (0..<3).reduce(Float(0)) { $0 + a[r, $1] * x[$1] }
            #expect(abs(y[r] - expected) < 1e-5)
        }
        let z: [Float] = [1, 0, -1, 2]
        let yt = matvec(a, z, transpose: true)
        for c in 0..<3 {
            let expected = (0..<4).reduce(Float(0)) { $0 + a[$1, c] * z[$1] }
            #expect(abs(yt[c] - expected) < 1e-5)
        }
        var acc: [Float] = [1, 1, 1]
        axpy(2, x, &acc)
        #expect(acc == [3, -3, 2])
    }

    @Test func elementwiseOperationsAndReductions() {
        var m = Matrix(rows: 2, cols: 3, values: [1, 2, 3, 4, 5, 6])
        #expect(m.columnSums() == [5, 7, 9])
        #expect(m.sum() == 21)
        #expect(m.transposed() == Matrix(rows: 3, cols: 2, values: [1, 4, 2, 5, 3, 6]))
        #expect(m.row(1) == [4, 5, 6])
        m.addToEachRow([10, 20, 30])
        #expect(m.values == [11, 22, 33, 14, 25, 36])
        m.multiply(elementwiseBy: Matrix(rows: 2, cols: 3, repeating: 2))
        #expect(m.values == [22, 44, 66, 28, 50, 72])
        m.zeroRows { $0 == 0 }
        #expect(m.values == [0, 0, 0, 28, 50, 72])
        #expect(m.rows(1..<2) == Matrix(rows: 1, cols: 3, values: [28, 50, 72]))
        m.fill(1)
        #expect(m.dotProduct(Matrix(rows: 2, cols: 3, values: [1, 2, 3, 4, 5, 6])) == 21)
    }

    @Test func emptyShapesAreHarmless() {
        let a = Matrix(rows: 0, cols: 3), b = Matrix(rows: 3, cols: 2)
        #expect(matmul(a, b) == Matrix(rows: 0, cols: 2))
        let inner = matmul(Matrix(rows: 2, cols: 0), Matrix(rows: 0, cols: 2))
        #expect(inner == Matrix(rows: 2, cols: 2))
        #expect(a.columnSums() == [0, 0, 0])
    }
}
