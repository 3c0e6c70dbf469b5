import Foundation

/// How a loss over rows is reduced to one number.
public enum LossReduction: Sendable, Hashable {
    /// Mean over the rows that count (the gradient is divided by their number).
    case mean
    /// Sum over the rows that count.
    case sum
}

/// Row-wise softmax: `y[r, j] = exp(x[r, j] - max_r) / Σ_k exp(x[r, k] - max_r)`.
///
/// Subtracting each row's maximum keeps it finite for any finite logits. An empty row
/// (`cols == 0`) stays empty.
public func softmax(_ x: Matrix) -> Matrix {
    var y = x
    let (rows, cols) = (x.rows, x.cols)
    y.withUnsafeMutableBufferPointer { p in
        for r in 0..<rows { Softmax.normalizeRow(p.baseAddress! + r * cols, count: cols) }
    }
    return y
}

/// The input gradient of `softmax` given its `output` `y` and the upstream gradient `dy`:
/// `dx[r] = y[r] ⊙ (dy[r] - ⟨dy[r], y[r]⟩)`. Precondition: equal shapes.
public func softmaxBackward(_ dy: Matrix, output y: Matrix) -> Matrix {
    precondition(dy.rows == y.rows && dy.cols == y.cols, "softmax gradient is \(dy.rows)x\(dy.cols), output \(y.rows)x\(y.cols)")
    var dx = dy
    let (rows, cols) = (y.rows, y.cols)
    y.withUnsafeBufferPointer { py in
        dx.withUnsafeMutableBufferPointer { pd in
            for r in 0..<rows { Softmax.backwardRow(pd.baseAddress! + r * cols, output: py.baseAddress! + r * cols, count: cols) }
        }
    }
    return dx
}

/// Softmax cross-entropy over the rows of `logits`, with its gradient; numerically stable.
///
/// Row `r` with target `t = targets[r]` (a column index) contributes
/// `-log softmax(z_r)[t]` where `z_r = logits[r] - logQ` (log-Q correction for sampled
/// softmax with popularity sampling: `logQ[c]` is the log sampling probability of the
/// candidate in column `c`, shared by every row; pass nil for none). Rows with `t < 0` are
/// ignored (padding): no loss, zero gradient, and not counted in the mean.
///
/// The gradient with respect to `logits` is `softmax(z_r) - onehot(t)` per counted row,
/// divided by the number of counted rows for `.mean`. For a per-entry correction (each row
/// sampled its own candidates), subtract it from the logits before calling: the gradient
/// with respect to the logits is the same.
///
/// Returns the loss (accumulated in `Double`; 0 when no row counts) and the gradient.
/// Preconditions: `targets.count == logits.rows`; each target `< logits.cols`;
/// `logQ`, if given, has `logits.cols` entries.
public func softmaxCrossEntropy(
    logits: Matrix, targets: [Int], logQ: [Float]? = nil, reduction: LossReduction = .mean
) -> (loss: Double, gradient: Matrix) {
    let (rows, cols) = (logits.rows, logits.cols)
    precondition(targets.count == rows, "\(targets.count) targets for \(rows) rows")
    precondition(logQ == nil || logQ!.count == cols, "logQ has \(logQ!.count) entries for \(cols) columns")
    var gradient = logits
    var loss = 0.0
    var counted = 0
    gradient.withUnsafeMutableBufferPointer { g in
        for r in 0..<rows {
            let row = g.baseAddress! + r * cols
            let t = targets[r]
            guard t >= 0 else {
                row.update(repeating: 0, count: cols)
                continue
            }
            precondition(t < cols, "target \(t) outside \(cols) columns in row \(r)")
            if let logQ {
                logQ.withUnsafeBufferPointer { q in for j in 0..<cols { row[j] -= q[j] } }
            }
            var maxLogit = -Float.infinity
            for j in 0..<cols { maxLogit = max(maxLogit, row[j]) }
            let shiftedTarget = Double(row[t] - maxLogit)
            var sum = 0.0
            for j in 0..<cols {
                let e = expf(row[j] - maxLogit)
                row[j] = e
                sum += Double(e)
            }
            // -log p_t = log Σ exp(z - max) - (z_t - max): finite even if p_t underflows.
            loss += log(sum) - shiftedTarget
            let inv = Float(1 / sum)
            for j in 0..<cols { row[j] *= inv }
            row[t] -= 1
            counted += 1
        }
    }
    if reduction == .mean, counted > 0 {
        loss /= Double(counted)
        gradient.scale(by: 1 / Float(counted))
    }
    return (loss, gradient)
}

/// Pointer-level softmax kernels shared by the gate and attention.
enum Softmax {
    /// In-place stable softmax of `count` contiguous entries.
    @inline(__always)
    static func normalizeRow(_ row: UnsafeMutablePointer<Float>, count: Int) {
        guard count > 0 else { return }
        var m = -Float.infinity
        for j in 0..<count { m = max(m, row[j]) }
        var sum: Float = 0
        for j in 0..<count {
            let e = expf(row[j] - m)
            row[j] = e
            sum += e
        }
        let inv = 1 / sum
        for j in 0..<count { row[j] *= inv }
    }

    /// In place: `g ← y ⊙ (g - ⟨g, y⟩)` over `count` entries.
    @inline(__always)
    static func backwardRow(_ g: UnsafeMutablePointer<Float>, output y: UnsafePointer<Float>, count: Int) {
        var dot: Float = 0
        for j in 0..<count { dot += g[j] * y[j] }
        for j in 0..<count { g[j] = y[j] * (g[j] - dot) }
    }
}
