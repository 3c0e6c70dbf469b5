/// The fixed inputs of one full-ranking evaluation (validation or test), mapped
/// from keys to dense indices once so the same set can be scored every epoch.
///
/// - `items` is the item universe; an item's dense index is its position, and the
///   columns of every score matrix follow it.
/// - `users` is the row order of user vectors: the distinct users of `heldOut`
///   in ascending key order, unless the caller names the rows.
/// - Per user, the *mask* is the sorted, unique dense indices of the items in
///   `train` and `extraMask` (for the test set pass the validation interactions
///   as `extraMask`; RecBole masks both), and the *relevant* set is the sorted,
///   unique items of `heldOut`.
///
/// Conventions (RecBole's): a relevant item that is also masked can never be
/// ranked but still counts in the user's relevant total. A held-out item outside
/// the universe gets a virtual index `>= items.count`: it is never ranked, counts
/// as relevant, and is tallied in `unknownHeldOutItems`. Train or mask items
/// outside the universe are ignored. Building is O(interactions) plus a sort of
/// each user's (short) lists. Immutable and `Sendable`.
public struct EvaluationSet: Sendable {
    /// The item universe; dense index = position.
    public let items: [UInt64]
    /// Row order of user vectors and score rows.
    public let users: [UInt64]
    /// Training interactions per dense item (repeats count), for popularity and novelty.
    public let trainCounts: [Int]
    /// Distinct users in `train` (all of them, evaluated or not).
    public let trainUserCount: Int
    /// Distinct (user, item) held-out pairs whose item is not in `items`.
    public let unknownHeldOutItems: Int
    /// Rows with at least one relevant item: the users metrics average over.
    public let evaluatedUserCount: Int

    let itemIndex: [UInt64: Int32]
    let maskOffsets: [Int]
    let maskIndices: [Int32]
    let relevantOffsets: [Int]
    let relevantIndices: [Int32]

    /// Builds the set. Preconditions: `items` and `users` (when given) hold no key
    /// twice; fewer than 2^31 items. With `users` given, held-out interactions of
    /// other users are ignored, and listed users without any are kept as rows but
    /// skipped by the metrics.
    public init(
        items: [UInt64], train: [Interaction], heldOut: [Interaction],
        extraMask: [Interaction] = [], users: [UInt64]? = nil
    ) {
        precondition(items.count < Int(Int32.max), "too many items for 32-bit indices")
        var itemIndex: [UInt64: Int32] = [:]
        itemIndex.reserveCapacity(items.count)
        for (position, key) in items.enumerated() {
            let previous = itemIndex.updateValue(Int32(position), forKey: key)
            precondition(previous == nil, "item \(key) appears twice in the universe")
        }

        let userOrder = users ?? Set(heldOut.map(\.user)).sorted()
        var userRow: [UInt64: Int32] = [:]
        userRow.reserveCapacity(userOrder.count)
        for (row, key) in userOrder.enumerated() {
            let previous = userRow.updateValue(Int32(row), forKey: key)
            precondition(previous == nil, "user \(key) appears twice in the user order")
        }

        var counts = [Int](repeating: 0, count: items.count)
        var trainUsers = Set<UInt64>()
        var maskPairs: [(row: Int32, item: Int32)] = []
        for interaction in train {
            trainUsers.insert(interaction.user)
            guard let item = itemIndex[interaction.item] else { continue }
            counts[Int(item)] += 1
            if let row = userRow[interaction.user] { maskPairs.append((row, item)) }
        }
        for interaction in extraMask {
            if let row = userRow[interaction.user], let item = itemIndex[interaction.item] {
                maskPairs.append((row, item))
            }
        }

        var unknownIndex: [UInt64: Int32] = [:]
        var relevantPairs: [(row: Int32, item: Int32)] = []
        relevantPairs.reserveCapacity(heldOut.count)
        for interaction in heldOut {
            guard let row = userRow[interaction.user] else { continue }
            if let item = itemIndex[interaction.item] {
                relevantPairs.append((row, item))
            } else {
                let virtual = Int32(items.count + unknownIndex.count)
                let item = unknownIndex[interaction.item, default: virtual]
                unknownIndex[interaction.item] = item
                relevantPairs.append((row, item))
            }
        }

        (maskOffsets, maskIndices) = Self.compressedRows(rowCount: userOrder.count, pairs: maskPairs)
        (relevantOffsets, relevantIndices) = Self.compressedRows(rowCount: userOrder.count, pairs: relevantPairs)
        var unknown = 0
        var evaluated = 0
        for row in 0..<userOrder.count {
            let relevant = relevantIndices[relevantOffsets[row]..<relevantOffsets[row + 1]]
            if !relevant.isEmpty { evaluated += 1 }
            unknown += relevant.reduce(0) { $0 + ($1 >= Int32(items.count) ? 1 : 0) }
        }

        self.items = items
        self.users = userOrder
        self.itemIndex = itemIndex
        self.trainCounts = counts
        self.trainUserCount = trainUsers.count
        self.unknownHeldOutItems = unknown
        self.evaluatedUserCount = evaluated
    }

    /// The dense index of an item key, or nil when it is not in the universe.
    public func index(ofItem key: UInt64) -> Int? {
        itemIndex[key].map(Int.init)
    }

    /// The sorted, unique dense indices masked for user row `row`.
    public func mask(ofUser row: Int) -> ArraySlice<Int32> {
        maskIndices[maskOffsets[row]..<maskOffsets[row + 1]]
    }

    /// The sorted, unique dense indices relevant for user row `row` (virtual
    /// indices `>= items.count` stand for held-out items outside the universe).
    public func relevant(ofUser row: Int) -> ArraySlice<Int32> {
        relevantIndices[relevantOffsets[row]..<relevantOffsets[row + 1]]
    }

    /// Groups (row, item) pairs into compressed rows, each sorted and unique.
    /// Counting sort by row, so O(pairs + rows) before the per-row sorts.
    private static func compressedRows(
        rowCount: Int, pairs: [(row: Int32, item: Int32)]
    ) -> (offsets: [Int], indices: [Int32]) {
        var offsets = [Int](repeating: 0, count: rowCount + 1)
        for pair in pairs { offsets[Int(pair.row) + 1] += 1 }
        for row in 0..<rowCount { offsets[row + 1] += offsets[row] }
        var cursor = offsets
        var scattered = [Int32](repeating: 0, count: pairs.count)
        for pair in pairs {
            scattered[cursor[Int(pair.row)]] = pair.item
            cursor[Int(pair.row)] += 1
        }
        // Sort and deduplicate each row, compacting in place.
        var compacted = [Int](repeating: 0, count: rowCount + 1)
        var write = 0
        for row in 0..<rowCount {
            scattered[offsets[row]..<offsets[row + 1]].sort()
            var previous: Int32 = -1
            for read in offsets[row]..<offsets[row + 1] where scattered[read] != previous {
                previous = scattered[read]
                scattered[write] = previous
                write += 1
            }
            compacted[row + 1] = write
        }
        scattered.removeLast(scattered.count - write)
        return (compacted, scattered)
    }
}
