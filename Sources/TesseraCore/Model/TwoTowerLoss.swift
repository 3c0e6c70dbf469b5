import Foundation

/// The training losses of the retrieval models, over a score matrix of examples against
/// candidates.
///
/// Scores `S` are `B x C`: row `i` is example `i`'s user (or user-in-scenario) vector
/// against every candidate item of the step; `targets[i]` is the column of its positive.
/// Columns listed in `excluded[i]` (the same user's other positives in the batch) are
/// neither positive nor negative for row `i`. Both losses are *summed* over examples (the
/// gradient is not divided by `B`), like matrix factorization's.
///
/// - `sampledSoftmax`: `ℓ_i = -log softmax(z_i)[t_i]` with `z_ij = S_ij - log q_j`, the
///   log-Q correction (Yi et al., RecSys 2019): in-batch candidates are drawn with
///   probability `q_j` ∝ item frequency, so popular items would otherwise be
///   over-penalised. Pass `logQ: nil` for no correction.
/// - `bpr`: `ℓ_i = mean_j softplus(S_ij - S_it)` over the row's negatives `j` (every column
///   but the target and the excluded ones); a row without negatives adds nothing. `logQ`
///   is ignored.
public enum TwoTowerLoss: String, Sendable, Hashable, Codable, CaseIterable {
    case sampledSoftmax
    case bpr

    /// Loss (summed over rows, in `Double`) and its gradient with respect to `scores`.
    ///
    /// Preconditions: `targets.count == scores.rows`, each target in `0..<scores.cols`;
    /// `excluded` is empty or has one list per row; `logQ`, if given, has `scores.cols` entries.
    public func evaluate(scores: Matrix, targets: [Int], excluded: [[Int]] = [], logQ: [Float]? = nil)
        -> (loss: Double, gradient: Matrix)
    {
        precondition(targets.count == scores.rows, "\(targets.count) targets for \(scores.rows) rows")
        precondition(excluded.isEmpty || excluded.count == scores.rows, "\(excluded.count) exclusion lists for \(scores.rows) rows")
        switch self {
        case .sampledSoftmax:
            var logits = scores
            if !excluded.isEmpty {
                // exp(-1e30 - max) is exactly 0: the column drops out of the softmax and gets no gradient.
                for (row, columns) in excluded.enumerated() {
                    for column in columns where column != targets[row] { logits[row, column] = -1e30 }
                }
            }
            return softmaxCrossEntropy(logits: logits, targets: targets, logQ: logQ, reduction: .sum)
        case .bpr:
            return Self.bpr(scores: scores, targets: targets, excluded: excluded)
        }
    }

    private static func bpr(scores: Matrix, targets: [Int], excluded: [[Int]]) -> (loss: Double, gradient: Matrix) {
        let (rows, cols) = (scores.rows, scores.cols)
        var gradient = Matrix(rows: rows, cols: cols)
        var loss = 0.0
        var isNegative = [Bool](repeating: true, count: cols)
        scores.withUnsafeBufferPointer { s in
            gradient.withUnsafeMutableBufferPointer { g in
                for r in 0..<rows {
                    let t = targets[r]
                    precondition(t >= 0 && t < cols, "target \(t) outside \(cols) columns in row \(r)")
                    let skip = excluded.isEmpty ? [] : excluded[r]
                    for c in skip { isNegative[c] = false }
                    isNegative[t] = false
                    let negatives = isNegative.reduce(0) { $0 + ($1 ? 1 : 0) }
                    if negatives > 0 {
                        let row = s.baseAddress! + r * cols, grad = g.baseAddress! + r * cols
                        let scale = 1 / Float(negatives)
                        var rowLoss: Float = 0
                        for j in 0..<cols where isNegative[j] {
                            // ℓ = softplus(s_j - s_t); dℓ/ds_j = σ(s_j - s_t) = -dℓ/ds_t.
                            let x = row[j] - row[t]
                            rowLoss += MatrixFactorization.softplus(x)
                            let d = scale * MatrixFactorization.sigmoid(x)
                            grad[j] += d
                            grad[t] -= d
                        }
                        loss += Double(rowLoss * scale)
                    }
                    for c in skip { isNegative[c] = true }
                    isNegative[t] = true
                }
            }
        }
        return (loss, gradient)
    }
}

/// The log sampling probability `log q_j` of each item for the log-Q correction of
/// sampled softmax: `q_j ∝ count_j + smoothing`, an item's training frequency (the rate
/// at which it shows up as an in-batch candidate).
///
/// Items never counted get `log(smoothing / total)`, so an extra negative drawn outside
/// the training data gets a finite correction. Only differences of `log q` between
/// columns matter (softmax is shift-invariant), so the normalisation is a convention.
/// Value type, `Sendable`.
public struct TwoTowerLogQ: Sendable, Hashable {
    /// `log q` per counted item.
    public let values: [UInt64: Float]
    /// `log q` of an item that was never counted.
    public let unseen: Float

    /// From interaction counts per item. Precondition: `smoothing > 0`, counts `>= 0`.
    public init(counts: [UInt64: Int], smoothing: Double = 1) {
        precondition(smoothing > 0, "smoothing must be positive, got \(smoothing)")
        let total = counts.values.reduce(0.0) { $0 + Double($1) + smoothing } + smoothing
        values = counts.mapValues { Float(log((Double($0) + smoothing) / total)) }
        unseen = Float(log(smoothing / total))
    }

    /// From the training interactions (repeats count).
    public init(train: [Interaction], smoothing: Double = 1) {
        var counts: [UInt64: Int] = [:]
        for interaction in train { counts[interaction.item, default: 0] += 1 }
        self.init(counts: counts, smoothing: smoothing)
    }

    /// `log q` of `item`.
    public subscript(item: UInt64) -> Float {
        values[item] ?? unseen
    }
}
