import Foundation
import Testing
import TesseraCore

@Suite struct ClusterConfigTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func parse(_ yaml: String, overrides: [String] = []) throws -> ClusterConfig {
        try ClusterConfig.parse(yaml: yaml, file: "test.yaml", overrides: overrides.map { try ConfigOverride(parsing: $0) })
    }

    func error(_ yaml: String, overrides: [String] = []) -> ConfigError? {
        do {
            _ = try parse(yaml, overrides: overrides)
            return nil
        } catch let error as ConfigError {
            return error
        } catch {
            Issue.record("unexpected error \(error)")
            return nil
        }
    }

    @Test func emptyFileGivesDefaults() throws {
        let config = try parse("")
        #expect(config == ClusterConfig())
        #expect(config.data.mode == .synthetic)
        #expect(config.shards == 2 && config.workers == 2)
    }

    @Test func shippedLocalConfigLoads() throws {
        let path = Self.repositoryRoot.appendingPathComponent("Cluster/local.yaml").path
        let config = try ClusterConfig.load(path: path)
        #expect(config.name == "local")
        #expect(config.tables.map(\.name) == ["user", "item"])
        #expect(config.tables[0].dim == 64)
        #expect(config.tables[0].optimizer == .adagrad(learningRate: 0.05))
        #expect(config.training.consistency == .bsp)
        #expect(config.data.synthetic.users == 2000)
    }

    @Test func readsEverySection() throws {
        let config = try parse("""
            name: demo
            scheduler: {host: 0.0.0.0, port: 7171, heartbeat_interval: 0.5, heartbeat_timeout: 5}
            shards: 4
            workers: 3
            ring: {virtual_nodes: 64, seed: 9}
            data:
              path: ratings.dat
              format: movielens
              min_rating: 3.5
              on_bad_line: skip
            split: {train: 0.7, valid: 0.15, test: 0.15, seed: 5}
            model: {kind: logistic_mf, l2: 0.01, negatives: 4}
            tables:
              - {name: user, dim: 16, optimizer: {kind: adam, learning_rate: 0.01}, init: {kind: uniform, limit: 0.05}}
              - {name: item, dim: 16, optimizer: {kind: ftrl, alpha: 0.1, l1: 0.001}, init: {kind: zeros}}
            training: {epochs: 7, batch_size: 256, consistency: asp, patience: 0}
            evaluation: {k: 20, max_users: 100}
            serving: {max_k: 50}
            """)
        #expect(config.scheduler.port == 7171 && config.scheduler.heartbeatTimeout == 5)
        #expect(config.shards == 4 && config.workers == 3)
        #expect(config.ring.virtualNodes == 64)
        #expect(config.data.mode == .file && config.data.format == .movielens && config.data.minRating == 3.5)
        #expect(config.data.onBadLine == .skip)
        #expect(config.data.path?.hasSuffix("/ratings.dat") == true)
        #expect(config.split.ratios.train == 0.7 && config.split.seed == 5)
        #expect(config.model.kind == .logisticMF && config.model.negatives == 4)
        #expect(config.tables[0].optimizer == .adam(learningRate: 0.01))
        #expect(config.tables[1].optimizer == .ftrl(alpha: 0.1, l1: 0.001))
        #expect(config.tables[1].initializer == .zeros)
        #expect(config.training.consistency == .asp && config.training.batchSize == 256)
        #expect(config.evaluation.k == 20 && config.serving.maxK == 50)
    }

    @Test func unknownKeyIsNamedWithLineAndSuggestion() {
        let error = error("""
            shards: 2
            training:
              epochz: 3
            """)
        #expect(error?.key == "training.epochz")
        #expect(error?.line == 3)
        #expect(error?.message.contains("did you mean 'epochs'") == true)
        #expect(error?.description.hasPrefix("test.yaml:3:") == true)
    }

    @Test func badValueNamesKeyAndLine() {
        let error = error("""
            tables:
              - name: user
                dim: 8
              - name: item
                dim: 8
                optimizer: {kind: adamw}
            """)
        #expect(error?.key == "tables[1].optimizer.kind")
        #expect(error?.line == 6)
        #expect(error?.message.contains("adamw") == true)
        #expect(error?.message.contains("sgd, adagrad, adam, ftrl") == true)
    }

    @Test func outOfRangeAndWrongTypeAreRefused() {
        #expect(error("shards: 0")?.key == "shards")
        #expect(error("workers: lots")?.message.contains("expected an integer") == true)
        #expect(error("training: {consistency: ssp}")?.key == "training.consistency")
        #expect(error("split: {train: 0.5, valid: 0.1, test: 0.1}")?.key == "split")
        #expect(error("scheduler: {heartbeat_interval: 5, heartbeat_timeout: 2}")?.key == "scheduler.heartbeat_timeout")
    }

    @Test func modelMustNameDeclaredTablesOfEqualDim() {
        let missing = error("""
            model: {user_table: users}
            """)
        #expect(missing?.key == "model.user_table")
        #expect(missing?.message.contains("'users'") == true)
        let dims = error("""
            tables:
              - {name: user, dim: 8}
              - {name: item, dim: 16}
            """)
        #expect(dims?.key == "tables")
        #expect(error("""
            tables:
              - {name: user}
              - {name: user}
            """)?.message.contains("declared twice") == true)
    }

    @Test func dataSettingsMustBeConsistent() {
        #expect(error("data: {path: a.csv, train: b.csv, test: c.csv}")?.key == "data")
        #expect(error("data: {train: b.csv}")?.key == "data")
    }

    @Test func notYAMLIsReported() {
        let error = error("shards: [1, 2")
        #expect(error?.message.contains("not valid YAML") == true)
    }

    @Test func overridesApplyAndAreNamedInErrors() throws {
        let config = try parse("training: {epochs: 3}\ntables: [{name: user, dim: 8}, {name: item, dim: 8}]",
                               overrides: ["training.epochs=9", "tables[1].dim=64", "tables[0].dim=64", "data.path=x.csv"])
        #expect(config.training.epochs == 9)
        #expect(config.tables[1].dim == 64)
        #expect(config.data.path?.hasSuffix("/x.csv") == true)

        let bad = error("", overrides: ["training.epochs=many"])
        #expect(bad?.key == "training.epochs")
        #expect(bad?.file.contains("command line") == true)
        let unknown = error("", overrides: ["trainin.epochs=3"])
        #expect(unknown?.key == "trainin")
        #expect(unknown?.file.contains("command line") == true)
        #expect(throws: ConfigError.self) { try ConfigOverride(parsing: "no-equals-sign") }
        #expect(error("", overrides: ["tables[7].dim=3"])?.message.contains("past the end") == true)
        // One past the end appends.
        let appended = try parse("tables: [{name: user, dim: 8}, {name: item, dim: 8}]",
                                 overrides: ["tables[2]={name: dense, dim: 256, init: {kind: zeros}}"])
        #expect(appended.tables.map(\.name) == ["user", "item", "dense"])
        #expect(appended.tables[2].dim == 256 && appended.tables[2].initializer == .zeros)
    }

    @Test func roundTripsThroughJSON() throws {
        let config = try parse("shards: 3\ndata: {path: /data/r.csv, min_rating: 4}\nmodel: {kind: logistic_mf}")
        let decoded = try JSONDecoder().decode(ClusterConfig.self, from: JSONEncoder().encode(config))
        #expect(decoded == config)
    }
}

extension ClusterConfigTests {
    @Test func replicationIsOffByDefaultAndTakesZeroOrOneFollower() throws {
        #expect(try parse("").replication.followers == 0)
        #expect(try parse("").replication.enabled == false)
        #expect(try parse("replication: {followers: 1}").replication.enabled)
        #expect(try parse("", overrides: ["replication.followers=1"]).replication.followers == 1)
        let two = error("replication: {followers: 2}")
        #expect(two?.key == "replication.followers")
        #expect(two?.message.contains("0 (no replication) or 1") == true)
        #expect(error("replication: {followers: one}")?.key == "replication.followers")
        #expect(error("replication: {leaders: 1}")?.message.contains("leaders") == true)
        let shipped = try ClusterConfig.load(path: Self.repositoryRoot.appendingPathComponent("Cluster/replicated.yaml").path)
        #expect(shipped.replication.followers == 1 && shipped.checkpoint.everyEpochs == 1)
    }
}
