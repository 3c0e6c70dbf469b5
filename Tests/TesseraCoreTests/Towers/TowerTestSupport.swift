import Foundation
import Testing
import TesseraCore

/// Shared helpers for the two-tower and multi-scenario tests: random pulled rows, an
/// end-to-end gradient check of a `ShardedModel`, and a local training loop.
enum TowerTestSupport {
    /// Set `TESSERA_GRADCHECK_VERBOSE=1` to print every gradient-check report.
    static let verbose = ProcessInfo.processInfo.environment["TESSERA_GRADCHECK_VERBOSE"] != nil

    /// Random rows for every table of `keys`: embeddings N(0, 0.5²); the dense table is
    /// `denseRows` (the model's initial blocks) plus N(0, 0.1²) noise, so biases are not 0
    /// and scenario weights not exactly 1.
    static func randomRows(keys: [String: [UInt64]], dims: [String: Int], denseTable: String, denseRows: [Float],
                           seed: UInt64) -> [String: [Float]] {
        var rng = SplitMix64(seed: seed)
        var rows: [String: [Float]] = [:]
        for table in keys.keys.sorted() {
            let count = keys[table]!.count * dims[table]!
            if table == denseTable {
                rows[table] = denseRows.map { $0 + 0.1 * rng.nextGaussian() }
            } else {
                rows[table] = (0..<count).map { _ in 0.5 * rng.nextGaussian() }
            }
        }
        return rows
    }

    /// Checks `model.gradients` against finite differences of its `lossSum` over every
    /// pulled value of every table (tables concatenated in name order).
    static func checkGradients<M: ShardedModel>(
        _ model: M, batch: M.Batch, rows: [String: [Float]], checker: GradientCheck, seed: UInt64 = 5
    ) throws -> GradientCheck.Report {
        let tables = rows.keys.sorted()
        let flat = tables.flatMap { rows[$0]! }
        let step = try model.gradients(for: batch, rows: rows, seed: seed)
        #expect(Set(step.gradients.keys) == Set(tables), "gradients for \(step.gradients.keys.sorted()), rows for \(tables)")
        for table in tables {
            #expect(step.gradients[table]?.count == rows[table]!.count, "table \(table): gradient size")
        }
        let analytic = tables.flatMap { step.gradients[$0] ?? [] }
        func unflatten(_ values: [Float]) -> [String: [Float]] {
            var out: [String: [Float]] = [:]
            var offset = 0
            for table in tables {
                let n = rows[table]!.count
                out[table] = Array(values[offset..<(offset + n)])
                offset += n
            }
            return out
        }
        let report = checker.check(flat, analytic: analytic) { values in
            (try? model.gradients(for: batch, rows: unflatten(values), seed: seed).lossSum) ?? .nan
        }
        if verbose { print("gradcheck \(M.self) loss \(step.lossSum): \(report)") }
        #expect(report.checked >= min(flat.count, checker.maxCoordinates))
        return report
    }

    /// Smooth compositions (GELU, softmax, normalisation): 2% or 2e-3 absolute. At h = 1e-2 the
    /// truncation error of the normalised towers reaches ~1%; 3e-3 keeps it and Float noise small.
    static let composite = GradientCheck(step: 3e-3, tolerance: 2e-2, floor: 0.1, maxCoordinates: 400)
    /// With ReLU: smaller steps and kinks excused (see `DenseTestSupport.reluComposite`).
    static let reluComposite = GradientCheck(step: 3e-3, tolerance: 2e-2, floor: 0.1, maxCoordinates: 400, allowsKinks: true)

    /// In-process tables for a model: embeddings N(0, std²), the dense table seeded with
    /// `denseRows` at `denseKeys`; every table uses `optimizer`.
    static func localParameters(dims: [String: Int], denseTable: String, denseKeys: [UInt64], denseRows: [Float],
                                optimizer: OptimizerSpec, embeddingStd: Float = 0.1) throws -> LocalParameters {
        let specs = dims.keys.sorted().map { name in
            TableSpec(name: name, dim: dims[name]!, optimizer: optimizer, initializer: .normal(std: embeddingStd))
        }
        let parameters = try LocalParameters(specs: specs)
        let dim = dims[denseTable]!
        for (b, key) in denseKeys.enumerated() {
            try parameters.tables[denseTable]!.insert(key: key, value: Array(denseRows[(b * dim)..<((b + 1) * dim)]))
        }
        return parameters
    }

    /// One step: pull the batch's rows, compute, push. Returns the step's loss sum.
    @discardableResult
    static func trainStep<M: ShardedModel>(_ model: M, batch: M.Batch, dims: [String: Int], seed: UInt64,
                                           on parameters: LocalParameters) async throws -> Double {
        let keys = model.keys(for: batch)
        var rows: [String: [Float]] = [:]
        for (table, tableKeys) in keys { rows[table] = try await parameters.pull(table: table, keys: tableKeys, dim: dims[table]!) }
        let step = try model.gradients(for: batch, rows: rows, seed: seed)
        for (table, gradients) in step.gradients {
            try await parameters.push(table: table, keys: keys[table]!, gradients: gradients, dim: dims[table]!)
        }
        return step.lossSum
    }

    /// Pulls `keys` (per table) from `parameters`.
    static func pull(_ keys: [String: [UInt64]], dims: [String: Int], from parameters: LocalParameters) async throws -> [String: [Float]] {
        var rows: [String: [Float]] = [:]
        for (table, tableKeys) in keys { rows[table] = try await parameters.pull(table: table, keys: tableKeys, dim: dims[table]!) }
        return rows
    }
}
