import Foundation
import Testing
import TesseraCore

/// The per-user random 8:1:1 split and leave-one-out.
@Suite struct InteractionSplitTests {
    /// About 30k interactions of 1000 users with varied counts.
    static let data = (try? SyntheticGenerator(spec: SyntheticSpec()).generate().interactions) ?? []

    private struct Pair: Hashable {
        var user: UInt64
        var item: UInt64
        init(_ interaction: Interaction) {
            user = interaction.user
            item = interaction.item
        }
    }

    @Test(arguments: [
        (1, 1, 0, 0), (2, 1, 0, 1), (3, 1, 1, 1), (4, 2, 1, 1), (9, 7, 1, 1),
        (10, 8, 1, 1), (15, 13, 1, 1), (19, 17, 1, 1), (20, 16, 2, 2), (30, 24, 3, 3),
    ])
    func recBoleCounts(n: Int, train: Int, valid: Int, test: Int) {
        let counts = InteractionSplit.partCounts(n)
        #expect(counts.train == train && counts.valid == valid && counts.test == test)
    }

    @Test func otherRatiosAndNoValid() {
        let noValid = InteractionSplit.partCounts(10, SplitRatios(train: 9, valid: 0, test: 1))
        #expect(noValid == (9, 0, 1))
        let small = InteractionSplit.partCounts(2, SplitRatios(train: 9, valid: 0, test: 1))
        #expect(small == (1, 0, 1))
        #expect(InteractionSplit.partCounts(10, SplitRatios(train: 6, valid: 2, test: 2)) == (6, 2, 2))
    }

    @Test func partsAreDisjointCompleteAndNearRatios() throws {
        let input = Self.data
        try #require(input.count > 20_000)
        let split = InteractionSplit.split(input, seed: 1)
        let total = Double(input.count)
        #expect(abs(Double(split.train.count) / total - 0.8) < 0.03)
        #expect(abs(Double(split.valid.count) / total - 0.1) < 0.02)
        #expect(abs(Double(split.test.count) / total - 0.1) < 0.02)

        let train = Set(split.train.map(Pair.init))
        let valid = Set(split.valid.map(Pair.init))
        let test = Set(split.test.map(Pair.init))
        #expect(train.isDisjoint(with: valid) && train.isDisjoint(with: test) && valid.isDisjoint(with: test))
        #expect(Set(split.train + split.valid + split.test) == Set(input))
        #expect(split.train.count + split.valid.count + split.test.count == input.count)
        // Every user keeps at least one training interaction.
        #expect(Set(split.train.map(\.user)) == Set(input.map(\.user)))
    }

    @Test func deterministicPerSeed() {
        let input = Self.data
        let first = InteractionSplit.split(input, seed: 7)
        let same = InteractionSplit.split(input, seed: 7) == first
        let differs = InteractionSplit.split(input, seed: 8) != first
        #expect(same, "same seed, same split")
        #expect(differs, "another seed, another split")
        // Users in order of first appearance.
        #expect(Array(OrderedUsers(first.train)) == Array(OrderedUsers(input)))
    }

    @Test func subsetOfUsersSplitsLikeTheWhole() {
        let input = Self.data
        let whole = InteractionSplit.split(input, seed: 11)
        for index in 0..<3 {
            let shard = DataSharding(index: index, count: 3)
            let mine = input.filter { shard.owns(user: $0.user) }
            let part = InteractionSplit.split(mine, seed: 11)
            // Compared as booleans to keep a failure message short.
            let sameTrain = part.train == whole.train.filter { shard.owns(user: $0.user) }
            let sameValid = part.valid == whole.valid.filter { shard.owns(user: $0.user) }
            let sameTest = part.test == whole.test.filter { shard.owns(user: $0.user) }
            #expect(sameTrain && sameValid && sameTest, "shard \(index) of 3 splits differently")
            #expect(!part.test.isEmpty)
        }
    }

    @Test func duplicatesKeepTheFirstOccurrence() {
        let input = [
            Interaction(user: 1, item: 5, rating: 4, timestamp: 1),
            Interaction(user: 1, item: 5, rating: 2, timestamp: 2),
            Interaction(user: 2, item: 5, rating: 3, timestamp: 3),
        ]
        #expect(InteractionSplit.dedupe(input) == [input[0], input[2]])
        let split = InteractionSplit.split(input, seed: 0)
        #expect(split.train == [input[0], input[2]])
        #expect(split.valid.isEmpty && split.test.isEmpty)
    }

    @Test func leaveOneOutByTimeThenInputOrder() {
        let input = [
            Interaction(user: 2, item: 1, timestamp: 1),
            Interaction(user: 1, item: 10, timestamp: 30),
            Interaction(user: 1, item: 11, timestamp: 10),
            Interaction(user: 1, item: 12, timestamp: 20),
            Interaction(user: 1, item: 13, timestamp: 20),
            Interaction(user: 2, item: 2, timestamp: 2),
            Interaction(user: 3, item: 7, timestamp: 1),
            Interaction(user: 3, item: 7, timestamp: 2),
            Interaction(user: 3, item: 8, timestamp: 3),
        ]
        let split = InteractionSplit.leaveOneOut(input)
        #expect(split.train.map(\.item) == [1, 2, 11, 12, 7])
        #expect(split.valid.map(\.item) == [13, 7])
        #expect(split.test.map(\.item) == [10, 8])
        #expect(split.valid.map(\.user) == [1, 3])
    }
}

/// Distinct users of a list in order of first appearance.
private struct OrderedUsers: Sequence {
    let users: [UInt64]
    init(_ interactions: [Interaction]) {
        var seen = Set<UInt64>()
        users = interactions.map(\.user).filter { seen.insert($0).inserted }
    }
    func makeIterator() -> IndexingIterator<[UInt64]> { users.makeIterator() }
}
