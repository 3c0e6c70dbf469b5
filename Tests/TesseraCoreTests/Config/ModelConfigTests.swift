import Foundation
import Testing
import TesseraCore

/// The model kinds' settings: parsed, checked against the tables, shipped configs load.
@Suite struct ModelConfigTests {
    func parse(_ yaml: String) throws -> ClusterConfig {
        try ClusterConfig.parse(yaml: yaml, file: "test.yaml")
    }

    func message(_ yaml: String) -> String {
        do {
            _ = try parse(yaml)
            return "no error"
        } catch {
            return "\(error)"
        }
    }

    static let sasrecTables = """
        tables:
          - {name: item, dim: 48}
          - {name: dense, dim: 512}
        """

    @Test func sasrecSettingsParse() throws {
        let config = try parse("""
            model: {kind: sasrec, sequence: {max_length: 20, blocks: 3, heads: 4, dropout: 0.25}}
            split: {method: leave_one_out}
            evaluation: {protocol: sampled, negatives: 50}
            \(Self.sasrecTables)
            """)
        #expect(config.model.kind == .sasrec)
        #expect(config.model.sequence.maxLength == 20 && config.model.sequence.blocks == 3 && config.model.sequence.heads == 4)
        #expect(config.model.sequence.dropout == 0.25)
        #expect(config.split.method == .leaveOneOut)
        #expect(config.evaluation.protocol == .sampled && config.evaluation.negatives == 50)
        #expect(config.servingTable == "item")
    }

    @Test func sasrecLossParses() throws {
        let plain = try parse("model: {kind: sasrec}\n\(Self.sasrecTables)")
        #expect(plain.model.sequence.loss == .bce)
        let softmax = try parse("model: {kind: sasrec, sequence: {loss: sampled_softmax, negatives: 128}}\n\(Self.sasrecTables)")
        #expect(softmax.model.sequence.loss == .sampledSoftmax && softmax.model.sequence.negatives == 128)
        let unknown = message("model: {kind: sasrec, sequence: {loss: hinge}}\n\(Self.sasrecTables)")
        #expect(unknown.contains("test.yaml:1") && unknown.contains("loss") && unknown.contains("sampled_softmax"), "\(unknown)")
        let none = message("model: {kind: sasrec, sequence: {loss: sampled_softmax, negatives: 0}}\n\(Self.sasrecTables)")
        #expect(none.contains("negatives"), "\(none)")
    }

    @Test func headsMustDivideTheItemDim() {
        let text = message("model: {kind: sasrec, sequence: {heads: 5}}\n\(Self.sasrecTables)")
        #expect(text.contains("test.yaml:1") && text.contains("model.sequence.heads") && text.contains("do not divide"), "\(text)")
    }

    @Test func sampledEvaluationNeedsLeaveOneOut() {
        let text = message("model: {kind: sasrec}\nevaluation: {protocol: sampled}\n\(Self.sasrecTables)")
        #expect(text.contains("evaluation.protocol") && text.contains("leave_one_out"), "\(text)")
    }

    @Test func twoTowerNeedsAServingTableOfTheOutputWidth() throws {
        let tables = """
            tables:
              - {name: user, dim: 16}
              - {name: item, dim: 16}
              - {name: dense, dim: 256}
            """
        let missing = message("model: {kind: two_tower}\n\(tables)")
        #expect(missing.contains("model.towers.serving_table") || missing.contains("'item_vectors'"), "\(missing)")
        let wrong = message("model: {kind: two_tower, towers: {output_dim: 8}}\n\(tables)\n  - {name: item_vectors, dim: 16}")
        #expect(wrong.contains("towers.output_dim (8)"), "\(wrong)")
        let config = try parse("model: {kind: two_tower, towers: {output_dim: 16, loss: bpr}}\n\(tables)\n  - {name: item_vectors, dim: 16}")
        #expect(config.servingTable == "item_vectors")
        #expect(config.model.towers.loss == .bpr)
    }

    @Test func multiScenarioItemRowsCarryScenarioBiases() throws {
        let yaml = { (itemDim: Int, topology: String) in """
            data: {synthetic: {scenarios: 4}}
            model: {kind: multi_scenario, scenarios: {topology: \(topology)}}
            tables:
              - {name: user, dim: 16}
              - {name: item, dim: \(itemDim)}
              - {name: dense, dim: 256}
            """ }
        #expect(try parse(yaml(21, "star")).model.scenarios.topology == .star)
        #expect(try parse(yaml(21, "mmoe")).model.scenarios.topology == .mmoe)
        #expect(try parse(yaml(18, "blind")).model.scenarios.topology == .blind)
        let text = message(yaml(16, "star"))
        #expect(text.contains("'item' needs dim 21"), "\(text)")
    }

    @Test func onlineLearningAndRankingNeedMatrixFactorization() {
        let online = message("model: {kind: sasrec}\nonline: {workers: 1}\n\(Self.sasrecTables)")
        #expect(online.contains("online.workers") && online.contains("offline only"), "\(online)")
        let ranking = message("model: {kind: sasrec}\nranking: {enabled: true}\n\(Self.sasrecTables)")
        #expect(ranking.contains("ranking") && ranking.contains("does not support"), "\(ranking)")
    }

    @Test func shippedRankingConfigLoads() throws {
        let path = ClusterConfigTests.repositoryRoot.appendingPathComponent("Cluster/movielens-ranking.yaml").path
        let config = try ClusterConfig.load(path: path)
        #expect(config.model.kind == .bprMF && config.ranking.enabled && config.ranking.candidates == 100 && config.ranking.epochs == 10)
        #expect(config.table(named: config.ranking.denseTable)?.dim == 256)
        let unknown = message("model: {kind: bpr_mf}\nranking: {enabled: true, epoch: 3}\n\(Self.sasrecTables)")
        #expect(unknown.contains("ranking.epoch"), "\(unknown)")
    }

    @Test(arguments: ["amazon-games", "movielens-two-tower", "movielens-scenarios", "synthetic-scenarios"])
    func shippedModelConfigsLoad(name: String) throws {
        let path = ClusterConfigTests.repositoryRoot.appendingPathComponent("Cluster/\(name).yaml").path
        let config = try ClusterConfig.load(path: path)
        #expect(config.name == name)
        #expect(!config.model.kind.isMatrixFactorization)
    }
}
