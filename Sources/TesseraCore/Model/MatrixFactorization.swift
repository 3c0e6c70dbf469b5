import Foundation

/// Gradients of one matrix-factorization batch, summed per row.
public struct MFGradients: Sendable {
    /// Row-major, aligned with `MFBatch.userKeys`.
    public var users: [Float]
    /// Row-major, aligned with `MFBatch.itemKeys`.
    public var items: [Float]
    /// Sum of the per-example loss (per positive, over its negatives).
    public var lossSum: Double
}

/// The losses of matrix factorization, on rows pulled for one batch.
///
/// Scores are dot products `u·i`. L2 regularization `l2·‖row‖²/2` is charged
/// once per use of a row in an example, as in the usual BPR formulation.
public enum MatrixFactorization {
    /// Loss and gradients of `batch` under `kind`.
    ///
    /// - Parameters:
    ///   - userRows: `batch.userKeys.count * dim` values.
    ///   - itemRows: `batch.itemKeys.count * dim` values.
    public static func gradients(kind: ModelSettings.Kind, batch: MFBatch, userRows: [Float], itemRows: [Float],
                                 dim: Int, l2: Float) -> MFGradients {
        precondition(userRows.count == batch.userKeys.count * dim && itemRows.count == batch.itemKeys.count * dim,
                     "rows do not match the batch's keys")
        precondition(kind.isMatrixFactorization, "\(kind.rawValue) is not matrix factorization")
        var userGrads = [Float](repeating: 0, count: userRows.count)
        var itemGrads = [Float](repeating: 0, count: itemRows.count)
        var lossSum = 0.0
        let k = batch.negativesPerPositive
        userRows.withUnsafeBufferPointer { userRows in
            itemRows.withUnsafeBufferPointer { itemRows in
                userGrads.withUnsafeMutableBufferPointer { userGrads in
                    itemGrads.withUnsafeMutableBufferPointer { itemGrads in
                        let U = userRows.baseAddress!, I = itemRows.baseAddress!
                        let gU = userGrads.baseAddress!, gI = itemGrads.baseAddress!
                        for e in 0..<batch.count {
                            let u = Int(batch.users[e]) * dim
                            let p = Int(batch.positives[e]) * dim
                            switch kind {
                            case .bprMF, .sasrec, .twoTower, .multiScenario:  // the latter three: excluded above
                                for j in 0..<k {
                                    let n = Int(batch.negatives[e * k + j]) * dim
                                    var x: Float = 0
                                    for d in 0..<dim { x += U[u + d] * (I[p + d] - I[n + d]) }
                                    // loss = softplus(-x); dloss/dx = -sigmoid(-x)
                                    lossSum += Double(softplus(-x))
                                    let g = -sigmoid(-x)
                                    for d in 0..<dim {
                                        let ud = U[u + d], pd = I[p + d], nd = I[n + d]
                                        gU[u + d] += g * (pd - nd) + l2 * ud
                                        gI[p + d] += g * ud + l2 * pd
                                        gI[n + d] += -g * ud + l2 * nd
                                    }
                                }
                            case .logisticMF:
                                // Positive: loss = softplus(-s), dloss/ds = sigmoid(s) - 1.
                                lossSum += Double(accumulateLogistic(U + u, I + p, gU + u, gI + p, dim: dim, label: 1, l2: l2))
                                for j in 0..<k {
                                    // Negative: loss = softplus(s), dloss/ds = sigmoid(s).
                                    let n = Int(batch.negatives[e * k + j]) * dim
                                    lossSum += Double(accumulateLogistic(U + u, I + n, gU + u, gI + n, dim: dim, label: 0, l2: l2))
                                }
                            }
                        }
                    }
                }
            }
        }
        return MFGradients(users: userGrads, items: itemGrads, lossSum: lossSum)
    }

    private static func accumulateLogistic(_ user: UnsafePointer<Float>, _ item: UnsafePointer<Float>,
                                           _ userGrad: UnsafeMutablePointer<Float>, _ itemGrad: UnsafeMutablePointer<Float>,
                                           dim: Int, label: Float, l2: Float) -> Float {
        var s: Float = 0
        for d in 0..<dim { s += user[d] * item[d] }
        let g = sigmoid(s) - label
        for d in 0..<dim {
            let ud = user[d], id = item[d]
            userGrad[d] += g * id + l2 * ud
            itemGrad[d] += g * ud + l2 * id
        }
        return label == 1 ? softplus(-s) : softplus(s)
    }

    /// 1 / (1 + e^-x), computed without overflow.
    @inlinable
    public static func sigmoid(_ x: Float) -> Float {
        x >= 0 ? 1 / (1 + expf(-x)) : expf(x) / (1 + expf(x))
    }

    /// log(1 + e^x), computed without overflow.
    @inlinable
    public static func softplus(_ x: Float) -> Float {
        x > 0 ? x + log1pf(expf(-x)) : log1pf(expf(x))
    }
}
