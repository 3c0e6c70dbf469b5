/// In-place elementwise operations and reductions.
///
/// Loops run over unsafe buffers (no per-element bounds checks); shapes are checked
/// once per call with `precondition`.
extension Matrix {
    /// Sets every entry to `value`.
    public mutating func fill(_ value: Float) {
        withUnsafeMutableBufferPointer { p in p.update(repeating: value) }
    }

    /// `self += other`. Precondition: equal shapes.
    public mutating func add(_ other: Matrix) {
        axpy(1, other, &self)
    }

    /// `self += alpha · other`. Precondition: equal shapes.
    public mutating func add(_ other: Matrix, scaledBy alpha: Float) {
        axpy(alpha, other, &self)
    }

    /// `self *= alpha`.
    public mutating func scale(by alpha: Float) {
        let n = count
        withUnsafeMutableBufferPointer { p in BLAS.scal(n, alpha, p.baseAddress) }
    }

    /// `self ⊙= other` (Hadamard product). Precondition: equal shapes.
    public mutating func multiply(elementwiseBy other: Matrix) {
        precondition(rows == other.rows && cols == other.cols, "shapes \(rows)x\(cols) and \(other.rows)x\(other.cols)")
        other.withUnsafeBufferPointer { q in
            withUnsafeMutableBufferPointer { p in
                for i in 0..<p.count { p[i] *= q[i] }
            }
        }
    }

    /// Adds `vector` to every row (broadcast, e.g. a bias). Precondition: `vector.count == cols`.
    public mutating func addToEachRow(_ vector: [Float]) {
        precondition(vector.count == cols, "\(vector.count) entries for rows of \(cols)")
        let (rows, cols) = (self.rows, self.cols)
        vector.withUnsafeBufferPointer { v in
            withUnsafeMutableBufferPointer { p in
                for r in 0..<rows {
                    let row = p.baseAddress! + r * cols
                    for j in 0..<cols { row[j] += v[j] }
                }
            }
        }
    }

    /// Applies `transform` to every entry.
    public mutating func apply(_ transform: (Float) -> Float) {
        withUnsafeMutableBufferPointer { p in
            for i in 0..<p.count { p[i] = transform(p[i]) }
        }
    }

    /// Sets row `r` to zero for every `r` where `isZeroed(r)` is true.
    public mutating func zeroRows(where isZeroed: (Int) -> Bool) {
        let (rows, cols) = (self.rows, self.cols)
        withUnsafeMutableBufferPointer { p in
            for r in 0..<rows where isZeroed(r) {
                (p.baseAddress! + r * cols).update(repeating: 0, count: cols)
            }
        }
    }

    /// The sum of each column (`cols` values).
    public func columnSums() -> [Float] {
        var sums = [Float](repeating: 0, count: cols)
        guard rows > 0 else { return sums }
        withUnsafeBufferPointer { p in
            sums.withUnsafeMutableBufferPointer { s in
                BLAS.addColumnSums(rows: rows, cols: cols, p.baseAddress!, ld: cols, into: s.baseAddress!)
            }
        }
        return sums
    }

    /// The sum of all entries, accumulated in `Double`.
    public func sum() -> Double {
        withUnsafeBufferPointer { p in
            var s = 0.0
            for x in p { s += Double(x) }
            return s
        }
    }

    /// `Σ self ⊙ weights`, accumulated in `Double`: a scalar whose gradient with respect
    /// to `self` is `weights` (handy for gradient checks). Precondition: equal shapes.
    public func dotProduct(_ weights: Matrix) -> Double {
        precondition(rows == weights.rows && cols == weights.cols, "shapes \(rows)x\(cols) and \(weights.rows)x\(weights.cols)")
        return withUnsafeBufferPointer { p in
            weights.withUnsafeBufferPointer { w in
                var s = 0.0
                for i in 0..<p.count { s += Double(p[i]) * Double(w[i]) }
                return s
            }
        }
    }
}
