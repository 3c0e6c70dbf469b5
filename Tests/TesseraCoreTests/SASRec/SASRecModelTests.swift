import Foundation
import Testing
import TesseraCore

@Suite("SASRec: keys, gradients, encoding")
struct SASRecModelTests {
    typealias S = SASRecTestSupport

    /// A tiny instance: 2 blocks of 2 heads, dropout on, dense blocks of 64 from key 500.
    static func tiny(dropout: Float = 0.3, l2: Float = 0) -> SASRec {
        SASRec(dim: 4, maxLength: 4, blocks: 2, heads: 2, dropout: dropout, l2: l2,
               itemTable: "item", denseTable: "dense", blockSize: 64, denseFirstKey: 500)
    }

    /// Three sequences of lengths 4, 2 and 1 over items 0…7, with a repeated item (3) and
    /// an item used both as input and negative (6).
    static let batch = SASRecBatch(
        inputs: [[3, 1, 6, 3], [2, 5], [7]],
        positives: [[1, 6, 3, 0], [5, 4], [3]],
        negatives: [[6, 2, 4, 7], [0, 6], [1]],
        length: 4)

    /// The batch of `batch` with negatives shared by every position instead: items 6, 0, 2
    /// and 4, where 0 and 4 are also positives (left out of those positions' softmax).
    static let sharedBatch = SASRecBatch(itemKeys: batch.itemKeys, length: 4, inputs: batch.inputs, positives: batch.positives,
                                         negatives: [], sharedNegatives: [6, 0, 2, 4])

    @Test func keysAreTheBatchItemsAndEveryDenseBlock() {
        let model = Self.tiny()
        let keys = model.keys(for: Self.batch)
        #expect(keys["item"] == [0, 1, 2, 3, 4, 5, 6, 7])
        #expect(keys["dense"] == (0..<UInt64(model.dense.blockCount)).map { 500 + $0 })
        #expect(model.dense.parameterCount == model.layout.count)
        #expect(model.layout["position"]?.shape == [4, 4])
        let encoding = model.keys(forEncoding: [[9, 3, 3], [1, 2, 3, 4, 5]])
        #expect(encoding["item"] == [2, 3, 4, 5, 9])  // item 1 falls outside the last maxLength
        #expect(encoding["dense"] == keys["dense"])
    }

    /// Both losses: the paper's BCE on `batch`, sampled softmax on `sharedBatch`.
    @Test(arguments: [SASRec.Loss.binaryCrossEntropy, .sampledSoftmax(negatives: 4)])
    func gradientsMatchFiniteDifferencesEndToEnd(loss: SASRec.Loss) throws {
        let model = SASRec(dim: 4, maxLength: 4, blocks: 2, heads: 2, dropout: 0.3, loss: loss,
                           itemTable: "item", denseTable: "dense", blockSize: 64, denseFirstKey: 500)
        let batch = loss == .binaryCrossEntropy ? Self.batch : Self.sharedBatch
        let keys = model.keys(for: batch)
        #expect(keys["item"] == batch.itemKeys)
        let itemRows = S.normal(keys["item"]!.count * model.dim, seed: 11, std: 0.5)
        var dense = model.initialDenseParameters(seed: 12)
        // Move gains and biases off 1 and 0 so a broken LayerNorm or bias gradient shows.
        for (i, noise) in S.normal(dense.count, seed: 13, std: 0.1).enumerated() { dense[i] += noise }
        func step(items: [Float], dense: [Float]) throws -> ModelStep {
            try model.gradients(for: batch, rows: ["item": items, "dense": model.dense.blocks(dense)], seed: 77)
        }
        let analytic = try step(items: itemRows, dense: dense)
        #expect(analytic.examples == 7)
        #expect(analytic.lossSum.isFinite && analytic.lossSum > 0)
        let itemGradient = try #require(analytic.gradients["item"])
        let blockGradient = try #require(analytic.gradients["dense"])
        #expect(itemGradient.count == itemRows.count)
        #expect(blockGradient.count == model.dense.blockCount * model.dense.blockSize)
        #expect(blockGradient[model.dense.parameterCount...].allSatisfy { $0 == 0 }, "block padding gets no gradient")

        let checker = GradientCheck(step: 3e-3, tolerance: 2e-2, floor: 0.1, maxCoordinates: 300, allowsKinks: true)
        let items = checker.check(itemRows, analytic: itemGradient) { v in (try? step(items: v, dense: dense).lossSum) ?? .nan }
        let weights = checker.check(dense, analytic: model.dense.flatten(blockGradient)) { v in
            (try? step(items: itemRows, dense: v).lossSum) ?? .nan
        }
        if ProcessInfo.processInfo.environment["TESSERA_GRADCHECK_VERBOSE"] != nil {
            print("gradcheck SASRec item rows: \(items)\ngradcheck SASRec dense: \(weights)")
        }
        #expect(items.passed, "item rows: \(items)")
        #expect(weights.passed, "dense weights: \(weights)")
        #expect(Double(items.kinks + weights.kinks) <= 0.1 * Double(items.checked + weights.checked), "kinks: \(items) / \(weights)")

        // The first sequence fills all 4 positions, so every positional row gets a gradient.
        let position = try #require(model.layout["position"])
        let positionGradient = Array(model.dense.flatten(blockGradient)[position.range])
        #expect((0..<4).allSatisfy { p in positionGradient[(p * 4)..<((p + 1) * 4)].contains { $0 != 0 } })
        // Every shared negative is contrasted with some position, so each gets a gradient.
        for n in batch.sharedNegatives {
            #expect(itemGradient[(Int(n) * 4)..<(Int(n) * 4 + 4)].contains { $0 != 0 }, "negative \(n)")
        }
    }

    @Test func dropoutIsSeeded() throws {
        let model = Self.tiny()
        let keys = model.keys(for: Self.batch)
        let rows = ["item": S.normal(keys["item"]!.count * 4, seed: 1), "dense": model.dense.blocks(model.initialDenseParameters(seed: 2))]
        let a = try model.gradients(for: Self.batch, rows: rows, seed: 5)
        #expect(try model.gradients(for: Self.batch, rows: rows, seed: 5).gradients == a.gradients)
        #expect(try model.gradients(for: Self.batch, rows: rows, seed: 6).lossSum != a.lossSum)
        // Without dropout the seed does not matter.
        let plain = Self.tiny(dropout: 0)
        #expect(try plain.gradients(for: Self.batch, rows: rows, seed: 5).lossSum == plain.gradients(for: Self.batch, rows: rows, seed: 6).lossSum)
    }

    @Test func l2AddsTheRowToItsGradientOnce() throws {
        let keys = Self.tiny().keys(for: Self.batch)
        let items = S.normal(keys["item"]!.count * 4, seed: 3)
        let rows = ["item": items, "dense": Self.tiny().dense.blocks(Self.tiny().initialDenseParameters(seed: 4))]
        let without = try Self.tiny(l2: 0).gradients(for: Self.batch, rows: rows, seed: 8)
        let with = try Self.tiny(l2: 0.25).gradients(for: Self.batch, rows: rows, seed: 8)
        #expect(with.lossSum == without.lossSum)
        for i in items.indices {
            #expect(abs(with.gradients["item"]![i] - without.gradients["item"]![i] - 0.25 * items[i]) < 1e-5)
        }
        #expect(with.gradients["dense"] == without.gradients["dense"])
    }

    /// Sequences are independent and all-padding leading slots are skipped: without dropout,
    /// a batch of short sequences (run at their own length) plus a full-length one gives the
    /// sum of the losses and gradients of the two batches apart.
    @Test func batchesAreAdditiveWhetherOrNotPaddingIsTrimmed() throws {
        let model = Self.tiny(dropout: 0)
        let table = S.normal(10 * model.dim, seed: 41, std: 0.5)
        let blocks = model.dense.blocks(model.initialDenseParameters(seed: 42))
        let short = (inputs: [[UInt64]]([[2, 5], [7]]), positives: [[UInt64]]([[5, 1], [3]]), negatives: [[UInt64]]([[9, 0], [4]]))
        let full = (inputs: [[UInt64]]([[3, 1, 6, 8]]), positives: [[UInt64]]([[1, 6, 8, 2]]), negatives: [[UInt64]]([[0, 9, 4, 5]]))
        func step(_ inputs: [[UInt64]], _ positives: [[UInt64]], _ negatives: [[UInt64]]) throws -> (ModelStep, [UInt64]) {
            let batch = SASRecBatch(inputs: inputs, positives: positives, negatives: negatives, length: 4)
            let keys = model.keys(for: batch)["item"]!
            return (try model.gradients(for: batch, rows: ["item": S.rows(table, keys: keys, dim: 4), "dense": blocks], seed: 1), keys)
        }
        let (a, aKeys) = try step(short.inputs, short.positives, short.negatives)
        let (b, bKeys) = try step(full.inputs, full.positives, full.negatives)
        let (both, keys) = try step(short.inputs + full.inputs, short.positives + full.positives, short.negatives + full.negatives)
        #expect(a.examples + b.examples == both.examples)
        #expect(abs(a.lossSum + b.lossSum - both.lossSum) < 1e-4)
        var items = [Float](repeating: 0, count: 10 * 4)
        for (step, stepKeys) in [(a, aKeys), (b, bKeys)] {
            for (r, key) in stepKeys.enumerated() {
                for j in 0..<4 { items[Int(key) * 4 + j] += step.gradients["item"]![r * 4 + j] }
            }
        }
        for (r, key) in keys.enumerated() {
            for j in 0..<4 { #expect(abs(items[Int(key) * 4 + j] - both.gradients["item"]![r * 4 + j]) < 1e-4) }
        }
        for (i, g) in both.gradients["dense"]!.enumerated() {
            #expect(abs(a.gradients["dense"]![i] + b.gradients["dense"]![i] - g) < 1e-4 * max(1, abs(g)))
        }
    }

    @Test func missingOrMisSizedRowsThrow() {
        let model = Self.tiny()
        let dense = model.dense.blocks(model.initialDenseParameters(seed: 1))
        #expect(throws: ModelError.self) { try model.gradients(for: Self.batch, rows: ["dense": dense], seed: 0) }
        #expect(throws: ModelError.self) {
            try model.gradients(for: Self.batch, rows: ["item": [Float](repeating: 0, count: 5), "dense": dense], seed: 0)
        }
    }

    /// The user vector is the training forward's last hidden state: changing only the last
    /// position's positive and negative changes the loss by exactly the difference of their
    /// terms under `encode`'s vector (dropout off, so training = inference).
    @Test func encodeIsTheLastHiddenStateOfTraining() throws {
        let model = Self.tiny(dropout: 0)
        let table = S.normal(10 * model.dim, seed: 21, std: 0.7)
        var dense = model.initialDenseParameters(seed: 22)
        for (i, noise) in S.normal(dense.count, seed: 23, std: 0.1).enumerated() { dense[i] += noise }
        let blocks = model.dense.blocks(dense)
        func loss(lastPositive: UInt64, lastNegative: UInt64) throws -> Double {
            let batch = SASRecBatch(inputs: [[4, 1, 7]], positives: [[1, 7, lastPositive]], negatives: [[2, 3, lastNegative]], length: 4)
            let keys = model.keys(for: batch)["item"]!
            return try model.gradients(for: batch, rows: ["item": S.rows(table, keys: keys, dim: 4), "dense": blocks], seed: 0).lossSum
        }
        let sequences: [[UInt64]] = [[4, 1, 7]]
        let keys = model.keys(forEncoding: sequences)["item"]!
        let h = try model.encode(sequences: sequences, rows: ["item": S.rows(table, keys: keys, dim: 4), "dense": blocks])
        func term(_ positive: UInt64, _ negative: UInt64) -> Double {
            func score(_ item: UInt64) -> Float { (0..<4).reduce(0) { $0 + h[$1] * table[Int(item) * 4 + $1] } }
            return Double(log1p(exp(-score(positive))) + log1p(exp(score(negative))))
        }
        let difference = try loss(lastPositive: 9, lastNegative: 0) - loss(lastPositive: 5, lastNegative: 8)
        #expect(abs(difference - (term(9, 0) - term(5, 8))) < 1e-4, "\(difference) vs \(term(9, 0) - term(5, 8))")
    }

    /// One position, dropout off: the loss is the softmax cross-entropy of `encode`'s vector
    /// against the positive and the shared negatives, and a negative that is the positive
    /// itself is left out rather than counted against it.
    @Test func sampledSoftmaxIsCrossEntropyOverTheSharedNegatives() throws {
        let model = SASRec(dim: 4, maxLength: 4, blocks: 1, heads: 1, dropout: 0, loss: .sampledSoftmax(negatives: 3),
                           itemTable: "item", denseTable: "dense", blockSize: 64)
        let table = S.normal(10 * model.dim, seed: 41, std: 0.7)
        let blocks = model.dense.blocks(model.initialDenseParameters(seed: 42))
        // Item keys [2, 5, 7, 9]: input 2 predicts 5, against 7 and 9 (and 5 itself, left out).
        func loss(shared: [Int32]) throws -> Double {
            let batch = SASRecBatch(itemKeys: [2, 5, 7, 9], length: 4, inputs: [-1, -1, -1, 0], positives: [-1, -1, -1, 1],
                                    negatives: [], sharedNegatives: shared)
            return try model.gradients(for: batch, rows: ["item": S.rows(table, keys: [2, 5, 7, 9], dim: 4), "dense": blocks],
                                       seed: 0).lossSum
        }
        let h = try model.encode(sequences: [[2]], rows: ["item": S.rows(table, keys: [2], dim: 4), "dense": blocks])
        func score(_ item: Int) -> Double { Double((0..<4).reduce(Float(0)) { $0 + h[$1] * table[item * 4 + $1] }) }
        let expected = log(exp(score(5)) + exp(score(7)) + exp(score(9))) - score(5)
        let plain = try loss(shared: [2, 3]), withPositive = try loss(shared: [2, 1, 3])
        #expect(abs(plain - expected) < 1e-4, "\(plain) vs \(expected)")
        #expect(abs(withPositive - expected) < 1e-4, "the positive among the negatives is left out: \(withPositive)")
    }

    @Test func encodeTruncatesAndDoesNotDependOnChunking() throws {
        let model = SASRec(dim: 8, maxLength: 5, blocks: 1, heads: 2, dropout: 0.5, itemTable: "item", denseTable: "dense", blockSize: 32)
        let table = S.normal(50 * 8, seed: 31, std: 0.3)
        let blocks = model.dense.blocks(model.initialDenseParameters(seed: 32))
        var rng = SplitMix64(seed: 33)
        let sequences: [[UInt64]] = (0..<300).map { _ in (0..<rng.nextInt(below: 9)).map { _ in UInt64(rng.nextInt(below: 50)) } }
        func encode(_ sequences: [[UInt64]]) throws -> [Float] {
            let keys = model.keys(forEncoding: sequences)["item"]!
            return try model.encode(sequences: sequences, rows: ["item": S.rows(table, keys: keys, dim: 8), "dense": blocks])
        }
        let all = try encode(sequences)
        #expect(all.count == 300 * 8)
        for s in [0, 17, 255, 256, 299] {
            let one = try encode([sequences[s]])
            let truncated = try encode([Array(sequences[s].suffix(5))])
            for j in 0..<8 {
                #expect(abs(one[j] - all[s * 8 + j]) < 1e-5)
                #expect(one[j] == truncated[j])
            }
        }
    }
}
