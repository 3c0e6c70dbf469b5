import Foundation
import Testing
import TesseraCore

/// Shared helpers for the SASRec tests: rows from a key-indexed table, a server-free
/// training loop over `LocalParameters`, and the sampled leave-one-out evaluation.
enum SASRecTestSupport {
    /// Rows of `keys` from a table whose row `k` belongs to key `k` (`dim` wide).
    static func rows(_ table: [Float], keys: [UInt64], dim: Int) -> [Float] {
        keys.flatMap { table[(Int($0) * dim)..<((Int($0) + 1) * dim)] }
    }

    /// `count` independent N(0, std²) values.
    static func normal(_ count: Int, seed: UInt64, std: Float = 1) -> [Float] {
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { _ in std * rng.nextGaussian() }
    }

    /// Item and dense tables held in this process, Adam on both; the dense blocks are
    /// written with the model's initialization.
    static func parameters(for model: SASRec, learningRate: Float, seed: UInt64 = 1) throws -> LocalParameters {
        let parameters = try LocalParameters(specs: [
            TableSpec(name: model.itemTable, dim: model.dim, optimizer: .adam(learningRate: learningRate),
                      initializer: .normal(std: 0.05)),
            TableSpec(name: model.dense.table, dim: model.dense.blockSize, optimizer: .adam(learningRate: learningRate)),
        ])
        let blocks = model.dense.blocks(model.initialDenseParameters(seed: seed))
        let denseTable = try #require(parameters.tables[model.dense.table])
        for (b, key) in model.dense.keys.enumerated() {
            try denseTable.insert(key: key, value: Array(blocks[(b * model.dense.blockSize)..<((b + 1) * model.dense.blockSize)]))
        }
        return parameters
    }

    /// One epoch of steps through `ShardedStep` (pull, gradients, push); the mean loss per position.
    static func trainEpoch(_ model: SASRec, data: SequenceData, epoch: Int, batchSize: Int, seed: UInt64,
                           on parameters: LocalParameters) async throws -> Double {
        let dims = [model.itemTable: model.dim, model.dense.table: model.dense.blockSize]
        var stats = StepStats()
        for (step, batch) in data.batches(epoch: epoch, batchSize: batchSize, maxLength: model.maxLength, seed: seed,
                                                          sharedNegatives: model.loss.sharedNegatives).enumerated() {
            stats.add(try await ShardedStep.train(model, batch: batch, dims: dims,
                                                  seed: Hashing.combine(UInt64(epoch), UInt64(step)), on: parameters))
        }
        return stats.lossSum / Double(max(1, stats.examples))
    }

    /// Sampled leave-one-out evaluation of `model` on `set`, rows pulled from `parameters`.
    static func evaluate(_ model: SASRec, set: SASRecEvaluationSet, evaluator: SampledRankingEvaluator,
                         on parameters: LocalParameters) async throws -> EvaluationResult {
        var rows: [String: [Float]] = [:]
        for (table, keys) in model.keys(forEncoding: set.histories) {
            rows[table] = try await parameters.pull(table: table, keys: keys, dim: table == model.itemTable ? model.dim : model.dense.blockSize)
        }
        let users = try model.encode(sequences: set.histories, rows: rows)
        let keys = set.candidateKeys
        let items = try await parameters.pull(table: model.itemTable, keys: keys, dim: model.dim)
        return evaluator.evaluate(userVectors: users, candidates: set.candidates, itemKeys: keys, itemRows: items, dim: model.dim)
    }

    /// Users walking a cycle of `items` items: from a random start, the next item is the
    /// successor (`+1 mod items`) with probability `1 - noise`, else a uniform item.
    /// Timestamps are the step index, so each user's list is in time order.
    static func cycles(users: Int, items: Int, lengths: ClosedRange<Int>, noise: Double, seed: UInt64) -> [Interaction] {
        var rng = SplitMix64(seed: seed)
        var out: [Interaction] = []
        for user in 0..<users {
            let n = lengths.lowerBound + rng.nextInt(below: lengths.count)
            var item = rng.nextInt(below: items)
            for t in 0..<n {
                out.append(Interaction(user: UInt64(user), item: UInt64(item), timestamp: Int64(t)))
                item = rng.nextUnitDouble() < noise ? rng.nextInt(below: items) : (item + 1) % items
            }
        }
        return out
    }
}
