import Foundation
import Testing
import TesseraCore

/// `RetrievalModel`: the config picks the model, queries come back in request order, and the
/// per-kind trainers step through every example once per epoch.
@Suite struct RetrievalModelTests {
    static func config(_ yaml: String) throws -> ClusterConfig {
        try ClusterConfig.parse(yaml: yaml, file: "test.yaml")
    }

    static let multiScenario = """
        data: {synthetic: {users: 60, items: 40, interactions_per_user: 10, scenarios: 3, seed: 5}}
        model: {kind: multi_scenario, scenarios: {topology: star}}
        tables:
          - {name: user, dim: 8}
          - {name: item, dim: 12}
          - {name: dense, dim: 64}
        """

    @Test func matrixFactorizationQueriesAreTheUserRowsInRequestOrder() async throws {
        let config = try Self.config("tables: [{name: user, dim: 4}, {name: item, dim: 4}]")
        let model = try RetrievalModel.make(config: config, data: PreparedData())
        let queries = [7, 3, 7].map { RetrievalModel.Query(user: UInt64($0)) }
        let parameters = try LocalParameters(specs: config.tables)
        let rows = try await parameters.pull(model.queryKeys(queries), dims: ["user": 4, "item": 4])
        let vectors = try model.queryVectors(queries, rows: rows)
        let seven = try await parameters.pull(table: "user", keys: [7], dim: 4)
        let three = try await parameters.pull(table: "user", keys: [3], dim: 4)
        #expect(vectors == seven + three + seven)
    }

    @Test func multiScenarioQueriesDependOnTheScenarioAndKeepTheirOrder() async throws {
        let config = try Self.config(Self.multiScenario)
        let data = try PreparedData.load(config.data, split: config.split)
        let model = try RetrievalModel.make(config: config, data: data)
        #expect(model.vectorDim == 12)
        let parameters = try LocalParameters(specs: config.tables)
        let (blocks, initial) = try #require(model.initialDense(seed: 1))
        for (b, key) in blocks.keys.enumerated() {
            try parameters.tables["dense"]!.insert(key: key, value: Array(initial[b * blocks.blockSize..<(b + 1) * blocks.blockSize]))
        }
        let dims = Dictionary(uniqueKeysWithValues: config.tables.map { ($0.name, $0.dim) })
        let mixed = [(5, 2), (5, 0), (9, 2)].map { RetrievalModel.Query(user: UInt64($0.0), scenario: $0.1) }
        let vectors = try model.queryVectors(mixed, rows: try await parameters.pull(model.queryKeys(mixed), dims: dims))
        for (i, query) in mixed.enumerated() {
            let alone = try model.queryVectors([query], rows: try await parameters.pull(model.queryKeys([query]), dims: dims))
            #expect(Array(vectors[i * 12..<(i + 1) * 12]) == alone, "query \(i)")
        }
        #expect(vectors[0..<12] != vectors[12..<24], "the same user in two scenarios gets two queries")
    }

    @Test func towerTrainerVisitsEveryExampleOncePerEpoch() async throws {
        let config = try Self.config(Self.multiScenario + "\ntraining: {batch_size: 32}")
        let data = try PreparedData.load(config.data, split: config.split)
        let model = try RetrievalModel.make(config: config, data: data)
        let dims = Dictionary(uniqueKeysWithValues: config.tables.map { ($0.name, $0.dim) })
        var trainer = model.trainer(config: config, data: data, dims: dims, seed: 1, workerID: 0)
        #expect(trainer.exampleCount == data.train.count)
        #expect(trainer.stepsPerEpoch == (data.train.count + 31) / 32)
        let parameters = try LocalParameters(specs: config.tables)
        trainer.beginEpoch(1)
        var examples = 0
        for step in 0..<trainer.stepsPerEpoch {
            examples += try #require(try await trainer.trainStep(step, on: parameters)).examples
        }
        #expect(examples == data.train.count)
        #expect(try await trainer.trainStep(trainer.stepsPerEpoch, on: parameters) == nil)
    }
}
