import Foundation
import Testing
import TesseraCore

/// The layers wired together as a tiny SASRec-style next-item model and trained with plain
/// SGD: the loss must fall well below chance. Shows the data flow a worker uses: item rows
/// gathered from a pulled table, dense weights in one flat vector, gradients scattered back.
@Suite("Dense: a SASRec-style model learns")
struct SequenceModelTrainingTests {
    typealias S = DenseTestSupport

    @Test func nextItemLossFalls() {
        let (items, dim, length, batch) = (12, 8, 5, 12)
        var layout = ParameterLayout()
        let position = layout.register("pos", shape: [length, dim], initializer: .normal(std: 0.1))
        let block = TransformerBlock("block0", dim: dim, heads: 2, layout: &layout)
        let finalNorm = LayerNorm("final", dim: dim, layout: &layout)
        var parameters = layout.initialize(seed: 7)
        // The "pulled" item table (the parameter server's rows for the batch's keys).
        var table = S.random(items, dim, seed: 8, std: 0.1).values

        // Sequences follow item -> item + 1 (mod items); lengths vary, left-padded with -1.
        var rng = SplitMix64(seed: 9)
        func makeBatch() -> (inputs: [Int], targets: [Int], mask: SequenceMask) {
            var inputs: [Int] = [], targets: [Int] = [], lengths: [Int] = []
            for _ in 0..<batch {
                let n = 2 + rng.nextInt(below: length - 1)
                let start = rng.nextInt(below: items)
                lengths.append(n)
                for p in 0..<length {
                    let k = p - (length - n)
                    inputs.append(k < 0 ? -1 : (start + k) % items)
                    targets.append(k < 0 ? -1 : (start + k + 1) % items)
                }
            }
            return (inputs, targets, SequenceMask(leftPaddedLengths: lengths, length: length))
        }

        func step(learningRate: Float) -> Double {
            let (inputs, targets, mask) = makeBatch()
            // Forward: embeddings + positions -> block -> LayerNorm -> logits against all items.
            var x = EmbeddingLookup.gather(table, dim: dim, indices: inputs)
            for r in 0..<x.rows {
                for c in 0..<dim { x[r, c] += parameters[position.offset + (r % length) * dim + c] }
            }
            mask.zeroPadding(&x)
            let (h, blockCache) = block.forward(x, mask: mask, parameters: parameters, mode: .training(seed: rng.next()))
            let (u, normCache) = finalNorm.forward(h, parameters: parameters)
            let itemMatrix = Matrix(rows: items, cols: dim, values: table)
            let logits = matmul(u, itemMatrix, transposeB: true)
            let (loss, dLogits) = softmaxCrossEntropy(logits: logits, targets: targets)

            // Backward: tied item embeddings get gradient from the logits and the inputs.
            var gradients = layout.zeros()
            var tableGradient = [Float](repeating: 0, count: table.count)
            let dItems = matmul(dLogits, u, transposeA: true)
            axpy(1, dItems.values, &tableGradient)
            let du = matmul(dLogits, itemMatrix)
            let dh = finalNorm.backward(du, cache: normCache, parameters: parameters, gradients: &gradients)
            var dx = block.backward(dh, cache: blockCache, parameters: parameters, gradients: &gradients)
            mask.zeroPadding(&dx)
            for r in 0..<dx.rows {
                for c in 0..<dim { gradients[position.offset + (r % length) * dim + c] += dx[r, c] }
            }
            EmbeddingLookup.scatterAdd(dx, indices: inputs, into: &tableGradient)

            axpy(-learningRate, gradients, &parameters)
            axpy(-learningRate, tableGradient, &table)
            return loss
        }

        var losses: [Double] = []
        for _ in 0..<300 { losses.append(step(learningRate: 0.3)) }
        let first = losses[0], last = losses.suffix(10).reduce(0, +) / 10
        #expect(abs(first - log(Double(items))) < 0.3, "initial loss \(first) should be near chance \(log(Double(items)))")
        #expect(last < 0.5, "loss fell only from \(first) to \(last)")
        #expect(losses.allSatisfy { $0.isFinite })
    }
}
