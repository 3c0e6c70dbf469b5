/// Which worker trains which users: a user belongs to data shard
/// `mix(user, salt) % workerCount`, so a worker can pick its users out of a file
/// without coordination, and sees every interaction of each of its users.
public struct DataSharding: Sendable, Hashable {
    public var index: Int
    public var count: Int

    /// Precondition: `0 <= index < count`.
    public init(index: Int, count: Int) {
        precondition(count > 0 && index >= 0 && index < count, "data shard \(index) of \(count) is out of range")
        self.index = index
        self.count = count
    }

    /// Everything in one shard.
    public static let all = DataSharding(index: 0, count: 1)

    public func owns(user: UInt64) -> Bool {
        count == 1 || Int(Hashing.combine(user, 0x5EED_DA7A) % UInt64(count)) == index
    }
}
