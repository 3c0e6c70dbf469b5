/// Row-wise L2 normalisation `y_i = x_i / max(‖x_i‖, ε)` with its backward, for towers
/// whose outputs are compared by cosine similarity.
enum TwoTowerNormalization {
    static let epsilon: Float = 1e-6

    /// The normalised rows and each row's divisor `max(‖x_i‖, ε)`.
    static func forward(_ x: Matrix) -> (output: Matrix, norms: [Float]) {
        var y = x
        var norms = [Float](repeating: 1, count: x.rows)
        let cols = x.cols
        y.withUnsafeMutableBufferPointer { p in
            for r in 0..<x.rows {
                let row = p.baseAddress! + r * cols
                var sum: Float = 0
                for j in 0..<cols { sum += row[j] * row[j] }
                let norm = max(sum.squareRoot(), epsilon)
                norms[r] = norm
                let inverse = 1 / norm
                for j in 0..<cols { row[j] *= inverse }
            }
        }
        return (y, norms)
    }

    /// `dx_i = (dy_i - y_i ⟨y_i, dy_i⟩) / ‖x_i‖` (the projection term vanishes where the
    /// norm was clamped to ε, a constant).
    static func backward(_ dy: Matrix, output y: Matrix, norms: [Float]) -> Matrix {
        precondition(dy.rows == y.rows && dy.cols == y.cols && norms.count == y.rows, "normalisation gradient shape")
        var dx = dy
        let cols = y.cols
        y.withUnsafeBufferPointer { py in
            dx.withUnsafeMutableBufferPointer { pd in
                for r in 0..<y.rows {
                    let yr = py.baseAddress! + r * cols, dr = pd.baseAddress! + r * cols
                    let clamped = norms[r] <= epsilon
                    var dot: Float = 0
                    if !clamped { for j in 0..<cols { dot += yr[j] * dr[j] } }
                    let inverse = 1 / norms[r]
                    for j in 0..<cols { dr[j] = (dr[j] - yr[j] * dot) * inverse }
                }
            }
        }
        return dx
    }
}
