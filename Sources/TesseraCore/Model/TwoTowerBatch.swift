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
