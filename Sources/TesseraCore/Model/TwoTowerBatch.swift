/// One step's examples for the retrieval models (`TwoTowerModel`, `MultiScenarioModel`):
/// positive (user, item) pairs, each in a scenario, plus optional extra negatives.
///
/// The candidates of a step are the batch's unique items: every example's positive (the
/// *in-batch negatives* of the other examples) and `negatives`, extra items (e.g. drawn
/// uniformly from the catalogue) scored against every example. An example's other
/// positives of the same user in the batch are not used as its negatives ("accidental
/// hits" are removed). Value type, `Sendable`.
public struct TwoTowerBatch: Sendable, Hashable {
    /// Per example: the user key.
    public var users: [UInt64]
    /// Per example: the positive item key.
    public var items: [UInt64]
    /// Per example: the scenario id (`Interaction.scenario`). Only `MultiScenarioModel`
    /// reads it; empty means scenario 0 everywhere.
    public var scenarios: [UInt32]
    /// Extra candidate items shared by every example (may repeat batch positives).
    public var negatives: [UInt64]

    /// Precondition: `users`, `items` and (unless empty) `scenarios` have equal counts.
    public init(users: [UInt64], items: [UInt64], scenarios: [UInt32] = [], negatives: [UInt64] = []) {
        precondition(users.count == items.count, "\(users.count) users for \(items.count) items")
        precondition(scenarios.isEmpty || scenarios.count == users.count, "\(scenarios.count) scenarios for \(users.count) examples")
        self.users = users
        self.items = items
        self.scenarios = scenarios
        self.negatives = negatives
    }

    /// A batch of `examples` (user, item, scenario) with extra `negatives`.
    public init(_ examples: some Sequence<Interaction>, negatives: [UInt64] = []) {
        var users: [UInt64] = [], items: [UInt64] = [], scenarios: [UInt32] = []
        for example in examples {
            users.append(example.user)
            items.append(example.item)
            scenarios.append(example.scenario)
        }
        self.init(users: users, items: items, scenarios: scenarios, negatives: negatives)
    }

    /// Number of examples (positives).
    public var count: Int { users.count }

    /// Example `i`'s scenario (0 when the batch has none).
    public func scenario(_ i: Int) -> Int {
        scenarios.isEmpty ? 0 : Int(scenarios[i])
    }
}

/// Cuts training interactions into `TwoTowerBatch`es, in a fresh seeded order every epoch,
/// with `negatives` extra candidates per batch drawn uniformly from `items`.
///
/// `batch(epoch:step:)` is a pure function of the seed, the epoch and the step, so workers
/// and replays agree. Value type, `Sendable`.
public struct TwoTowerBatcher: Sendable {
    /// Examples per batch.
    public let batchSize: Int
    /// Extra uniform negatives per batch (0: in-batch negatives only).
    public let negatives: Int
    public let seed: UInt64
    private let examples: [Interaction]
    private let items: [UInt64]

    /// Preconditions: `batchSize >= 1`, `negatives >= 0`, and `items` non-empty when
    /// `negatives > 0`.
    public init(train: [Interaction], items: [UInt64], batchSize: Int, negatives: Int = 0, seed: UInt64) {
        precondition(batchSize >= 1 && negatives >= 0, "batch size \(batchSize), negatives \(negatives)")
        precondition(negatives == 0 || !items.isEmpty, "uniform negatives need an item universe")
        self.examples = train
        self.items = items
        self.batchSize = batchSize
        self.negatives = negatives
        self.seed = seed
    }

    /// Examples held.
    public var exampleCount: Int { examples.count }

    /// Steps that visit every example once.
    public var stepsPerEpoch: Int { (examples.count + batchSize - 1) / batchSize }

    /// Every batch of `epoch`, in order.
    public func batches(epoch: Int) -> [TwoTowerBatch] {
        let order = permutation(epoch: epoch)
        return (0..<stepsPerEpoch).map { makeBatch(order: order, epoch: epoch, step: $0) }
    }

    /// Batch `step` of `epoch`, or nil past the end. Recomputes the epoch's order; use
    /// `batches(epoch:)` to iterate.
    public func batch(epoch: Int, step: Int) -> TwoTowerBatch? {
        guard step >= 0, step < stepsPerEpoch else { return nil }
        return makeBatch(order: permutation(epoch: epoch), epoch: epoch, step: step)
    }

    private func permutation(epoch: Int) -> [Int32] {
        var rng = SplitMix64(seed: Hashing.combine(seed, UInt64(epoch)))
        var order = (0..<Int32(examples.count)).map { $0 }
        for i in stride(from: order.count - 1, to: 0, by: -1) {
            order.swapAt(i, rng.nextInt(below: i + 1))
        }
        return order
    }

    private func makeBatch(order: [Int32], epoch: Int, step: Int) -> TwoTowerBatch {
        let range = (step * batchSize)..<min((step + 1) * batchSize, order.count)
        var rng = SplitMix64(seed: Hashing.combine(Hashing.combine(seed, UInt64(epoch)), UInt64(step) &+ 0x4E45_4741))
        let extra = (0..<negatives).map { _ in items[rng.nextInt(below: items.count)] }
        return TwoTowerBatch(range.map { examples[Int(order[$0])] }, negatives: extra)
    }
}

/// Unique keys in ascending order (the order rows are pulled in) and each key's position.
struct TowerKeyIndex: Sendable {
    let keys: [UInt64]
    private let positions: [UInt64: Int32]

    init(_ keys: some Sequence<UInt64>) {
        let sorted = Set(keys).sorted()
        var positions: [UInt64: Int32] = [:]
        positions.reserveCapacity(sorted.count)
        for (i, key) in sorted.enumerated() { positions[key] = Int32(i) }
        self.keys = sorted
        self.positions = positions
    }

    var count: Int { keys.count }

    /// The position of `key`. Precondition: `key` was indexed.
    subscript(key: UInt64) -> Int32 {
        guard let position = positions[key] else { preconditionFailure("key \(key) was not indexed") }
        return position
    }
}

/// Shared checks on pulled rows.
enum TowerRows {
    /// `rows[table]`, checked to hold `count` rows of `dim`.
    static func table(_ rows: [String: [Float]], _ table: String, count: Int, dim: Int) throws -> [Float] {
        guard let values = rows[table] else {
            throw ModelError("no rows were pulled for table '\(table)' (\(count) keys expected)")
        }
        guard values.count == count * dim else {
            throw ModelError("table '\(table)': \(values.count) values pulled for \(count) keys of dim \(dim)")
        }
        return values
    }

    /// The flat dense parameter vector from the pulled blocks of `dense`.
    static func dense(_ rows: [String: [Float]], _ dense: DenseBlocks) throws -> [Float] {
        dense.flatten(try table(rows, dense.table, count: dense.blockCount, dim: dense.blockSize))
    }

    /// Adds `l2 · row` to every row's gradient (weight decay on the rows a step touched).
    static func addL2(_ l2: Float, rows: [Float], into gradients: inout [Float]) {
        guard l2 > 0 else { return }
        axpy(l2, rows, &gradients)
    }
}

/// How a batch maps onto pulled rows: the unique users and candidate items (ascending,
/// the pull order), each example's user row and target column, and the accidental hits
/// each example must not treat as negatives.
struct TowerPlan: Sendable {
    let users: TowerKeyIndex
    /// Candidates: every example's positive and the extra negatives.
    let items: TowerKeyIndex
    /// Per example: its row in `users`.
    let exampleUsers: [Int32]
    /// Per example: its positive's column in `items`.
    let targets: [Int]
    /// Per example: the columns of the same user's other positives in the batch.
    let excluded: [[Int]]

    init(_ batch: TwoTowerBatch) {
        let users = TowerKeyIndex(batch.users), items = TowerKeyIndex(batch.items + batch.negatives)
        let exampleUsers = batch.users.map { users[$0] }, targets = batch.items.map { Int(items[$0]) }
        (self.users, self.items, self.exampleUsers, self.targets) = (users, items, exampleUsers, targets)
        var positives: [Int32: Set<Int>] = [:]
        for (user, target) in zip(exampleUsers, targets) { positives[user, default: []].insert(target) }
        excluded = zip(exampleUsers, targets).map { user, target in
            guard let all = positives[user], all.count > 1 else { return [] }
            return all.filter { $0 != target }.sorted()
        }
    }

    var count: Int { targets.count }
}
