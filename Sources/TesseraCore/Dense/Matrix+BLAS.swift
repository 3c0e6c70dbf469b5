import CBLAS

/// Writes `c = alpha · op(a) · op(b) + beta · c` with one `cblas_sgemm`.
///
/// `op(x)` is `xᵀ` when the matching `transpose…` flag is set. Shapes:
/// `op(a)` is `m x k`, `op(b)` is `k x n`, `c` is `m x n`. With `beta == 0`, `c`'s
/// old entries are ignored (but its shape must still match).
public func matmul(
    _ a: Matrix, _ b: Matrix,
    transposeA: Bool = false, transposeB: Bool = false,
    alpha: Float = 1, beta: Float = 0,
    into c: inout Matrix
) {
    let m = transposeA ? a.cols : a.rows
    let k = transposeA ? a.rows : a.cols
    let kb = transposeB ? b.cols : b.rows
    let n = transposeB ? b.rows : b.cols
    precondition(k == kb, "matmul: inner dimensions \(k) and \(kb) differ")
    precondition(c.rows == m && c.cols == n, "matmul: result is \(c.rows)x\(c.cols), expected \(m)x\(n)")
    a.values.withUnsafeBufferPointer { pa in
        b.values.withUnsafeBufferPointer { pb in
            c.values.withUnsafeMutableBufferPointer { pc in
                BLAS.gemm(transposeA, transposeB, m: m, n: n, k: k, alpha: alpha,
                          pa.baseAddress, lda: a.cols, pb.baseAddress, ldb: b.cols,
                          beta: beta, pc.baseAddress, ldc: n)
            }
        }
    }
}

/// `op(a) · op(b)` as a new matrix (see `matmul(_:_:transposeA:transposeB:alpha:beta:into:)`).
public func matmul(_ a: Matrix, _ b: Matrix, transposeA: Bool = false, transposeB: Bool = false) -> Matrix {
    var c = Matrix(rows: transposeA ? a.cols : a.rows, cols: transposeB ? b.rows : b.cols)
    matmul(a, b, transposeA: transposeA, transposeB: transposeB, into: &c)
    return c
}

/// Writes `y = alpha · op(a) · x + beta · y` with one `cblas_sgemv`.
///
/// `op(a)` is `a` (`y.count == a.rows`, `x.count == a.cols`) or, with `transpose`,
/// `aᵀ` (`y.count == a.cols`, `x.count == a.rows`).
public func matvec(
    _ a: Matrix, _ x: [Float], transpose: Bool = false,
    alpha: Float = 1, beta: Float = 0, into y: inout [Float]
) {
    precondition(x.count == (transpose ? a.rows : a.cols), "matvec: x has \(x.count) entries for a \(a.rows)x\(a.cols) matrix")
    precondition(y.count == (transpose ? a.cols : a.rows), "matvec: y has \(y.count) entries for a \(a.rows)x\(a.cols) matrix")
    guard a.rows > 0, a.cols > 0 else {
        if beta != 1 { for i in y.indices { y[i] = beta == 0 ? 0 : beta * y[i] } }
        return
    }
    a.values.withUnsafeBufferPointer { pa in
        x.withUnsafeBufferPointer { px in
            y.withUnsafeMutableBufferPointer { py in
                cblas_sgemv(CblasRowMajor, transpose ? CblasTrans : CblasNoTrans,
                            Int32(a.rows), Int32(a.cols), alpha, pa.baseAddress, Int32(a.cols),
                            px.baseAddress, 1, beta, py.baseAddress, 1)
            }
        }
    }
}

/// `op(a) · x` as a new vector.
public func matvec(_ a: Matrix, _ x: [Float], transpose: Bool = false) -> [Float] {
    var y = [Float](repeating: 0, count: transpose ? a.cols : a.rows)
    matvec(a, x, transpose: transpose, into: &y)
    return y
}

/// `y += alpha · x` with one `cblas_saxpy`. Precondition: equal counts.
public func axpy(_ alpha: Float, _ x: [Float], _ y: inout [Float]) {
    precondition(x.count == y.count, "axpy: \(x.count) and \(y.count) entries")
    x.withUnsafeBufferPointer { px in
        y.withUnsafeMutableBufferPointer { py in
            BLAS.axpy(px.count, alpha, px.baseAddress, py.baseAddress)
        }
    }
}

/// `y += alpha · x` for matrices of equal shape.
public func axpy(_ alpha: Float, _ x: Matrix, _ y: inout Matrix) {
    precondition(x.rows == y.rows && x.cols == y.cols, "axpy: shapes \(x.rows)x\(x.cols) and \(y.rows)x\(y.cols)")
    axpy(alpha, x.values, &y.values)
}

/// Pointer-level BLAS calls for layers that address tensors inside the flat parameter
/// vector or strided head slices. Row-major throughout; zero-sized calls are skipped
/// (BLAS rejects a leading dimension of 0).
enum BLAS {
    /// `c = alpha · op(a) · op(b) + beta · c`; `op(a)` is `m x k`, `op(b)` is `k x n`.
    @inline(__always)
    static func gemm(
        _ transA: Bool, _ transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
        _ a: UnsafePointer<Float>?, lda: Int, _ b: UnsafePointer<Float>?, ldb: Int,
        beta: Float, _ c: UnsafeMutablePointer<Float>?, ldc: Int
    ) {
        guard m > 0, n > 0 else { return }
        guard k > 0 else {
            // op(a)·op(b) is zero: c = beta · c.
            for r in 0..<m {
                let row = c! + r * ldc
                for j in 0..<n { row[j] = beta == 0 ? 0 : beta * row[j] }
            }
            return
        }
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// `y += alpha · x` over `n` contiguous entries.
    @inline(__always)
    static func axpy(_ n: Int, _ alpha: Float, _ x: UnsafePointer<Float>?, _ y: UnsafeMutablePointer<Float>?) {
        guard n > 0 else { return }
        cblas_saxpy(Int32(n), alpha, x, 1, y, 1)
    }

    /// `x *= alpha` over `n` contiguous entries.
    @inline(__always)
    static func scal(_ n: Int, _ alpha: Float, _ x: UnsafeMutablePointer<Float>?) {
        guard n > 0 else { return }
        cblas_sscal(Int32(n), alpha, x, 1)
    }

    /// Column sums of a row-major `rows x cols` block with leading dimension `ld`,
    /// added to `into[0..<cols]` (a bias gradient). Plain loops: summing rows is
    /// memory-bound and avoids a ones-vector for `sgemv`.
    @inline(__always)
    static func addColumnSums(rows: Int, cols: Int, _ a: UnsafePointer<Float>, ld: Int, into sums: UnsafeMutablePointer<Float>) {
        for r in 0..<rows {
            let row = a + r * ld
            for j in 0..<cols { sums[j] += row[j] }
        }
    }
}
