/// One observed user–item event: the unit of training and evaluation data.
public struct Interaction: Sendable, Hashable {
    /// User key (see `EntityKey`).
    public var user: UInt64
    /// Item key (see `EntityKey`).
    public var item: UInt64
    /// Explicit rating when the data has one, else 1.
    public var rating: Float
    /// Event time (seconds, or the line order when the data has no time).
    public var timestamp: Int64
    /// Scenario id for multi-scenario data, else 0.
    public var scenario: UInt32

    public init(user: UInt64, item: UInt64, rating: Float = 1, timestamp: Int64 = 0, scenario: UInt32 = 0) {
        self.user = user
        self.item = item
        self.rating = rating
        self.timestamp = timestamp
        self.scenario = scenario
    }
}
