import Testing
import TesseraCore

@Suite("SASRec: sequences and training batches")
struct SequenceDataTests {
    /// User 7: items 1…6 given out of time order (two tied at t = 3, kept in input order);
    /// user 8: two interactions (train only); user 9: three.
    static let interactions: [Interaction] = [
        Interaction(user: 7, item: 3, timestamp: 3), Interaction(user: 8, item: 10, timestamp: 1),
        Interaction(user: 7, item: 1, timestamp: 1), Interaction(user: 7, item: 4, timestamp: 3),
        Interaction(user: 7, item: 6, timestamp: 9), Interaction(user: 9, item: 2, timestamp: 0),
        Interaction(user: 7, item: 2, timestamp: 2), Interaction(user: 7, item: 5, timestamp: 4),
        Interaction(user: 8, item: 11, timestamp: 2), Interaction(user: 9, item: 3, timestamp: 1),
        Interaction(user: 9, item: 4, timestamp: 2),
    ]

    @Test func leaveOneOutInTimeOrder() {
        let data = SequenceData(interactions: Self.interactions, items: Array(0..<20))
        #expect(data.users == [7, 8, 9])
        #expect(data.items == Array(0..<20))
        #expect(data.trainSequence(ofUser: 0) == [1, 2, 3, 4])
        #expect(data.target(.validation, ofUser: 0) == 5)
        #expect(data.target(.test, ofUser: 0) == 6)
        #expect(data.history(for: .validation, ofUser: 0) == [1, 2, 3, 4])
        #expect(data.history(for: .test, ofUser: 0) == [1, 2, 3, 4, 5])
        #expect(data.interactedItems(ofUser: 0) == [1, 2, 3, 4, 5, 6])
        // Fewer than 3 interactions: train only.
        #expect(data.trainSequence(ofUser: 1) == [10, 11])
        #expect(data.target(.test, ofUser: 1) == nil && data.target(.validation, ofUser: 1) == nil)
        // Three: one training item, so no next-item pair.
        #expect(data.trainSequence(ofUser: 2) == [2])
        #expect(data.trainableUsers == [0, 1])
        // The default catalogue is every item seen.
        #expect(SequenceData(interactions: Self.interactions).items == [1, 2, 3, 4, 5, 6, 10, 11])
    }

    @Test func nextItemPairsLeftPaddedAndTruncated() {
        let data = SequenceData(interactions: Self.interactions, items: Array(0..<20))
        let batch = data.batch(users: [0, 1], maxLength: 5, epoch: 0, seed: 1)
        let key = { (i: Int32) -> UInt64? in i < 0 ? nil : batch.itemKeys[Int(i)] }
        #expect(batch.count == 2 && batch.length == 5 && batch.examples == 4)
        #expect(batch.inputs.map(key) == [nil, nil, 1, 2, 3, nil, nil, nil, nil, 10])
        #expect(batch.positives.map(key) == [nil, nil, 2, 3, 4, nil, nil, nil, nil, 11])
        #expect(batch.lengths == [3, 1])
        for (slot, negative) in batch.negatives.enumerated() {
            guard let item = key(negative) else {
                #expect(batch.inputs[slot] < 0)
                continue
            }
            let user = slot / 5
            #expect(!data.trainSequence(ofUser: user).contains(item), "negative \(item) is a training item of user row \(user)")
        }
        #expect(batch.itemKeys == Array(Set(batch.itemKeys)).sorted())

        // maxLength 2 keeps the last two pairs, with the same negatives at those positions.
        let short = data.batch(users: [0], maxLength: 2, epoch: 0, seed: 1)
        #expect(short.inputs.map { short.itemKeys[Int($0)] } == [2, 3])
        #expect(short.positives.map { short.itemKeys[Int($0)] } == [3, 4])
        #expect(short.negatives.map { short.itemKeys[Int($0)] } == batch.negatives[3..<5].map { batch.itemKeys[Int($0)] })
    }

    @Test func batchesAreSeededAndIndependentOfGrouping() {
        let interactions = SASRecTestSupport.cycles(users: 40, items: 30, lengths: 3...12, noise: 0.3, seed: 5)
        let data = SequenceData(interactions: interactions)
        func negatives(_ batch: SASRecBatch, sequence s: Int) -> [UInt64] {
            batch.negatives[(s * batch.length)..<((s + 1) * batch.length)].filter { $0 >= 0 }.map { batch.itemKeys[Int($0)] }
        }
        let together = data.batch(users: [3, 8, 12], maxLength: 6, epoch: 2, seed: 9)
        let alone = data.batch(users: [8], maxLength: 6, epoch: 2, seed: 9)
        #expect(negatives(together, sequence: 1) == negatives(alone, sequence: 0))
        #expect(data.batch(users: [3, 8, 12], maxLength: 6, epoch: 2, seed: 9) == together)
        #expect(negatives(data.batch(users: [8], maxLength: 6, epoch: 3, seed: 9), sequence: 0) != negatives(alone, sequence: 0))

        let order = data.epochOrder(0, seed: 9)
        #expect(order.sorted() == data.trainableUsers)
        #expect(data.epochOrder(0, seed: 9) == order && data.epochOrder(1, seed: 9) != order)
        let batches = data.batches(epoch: 0, batchSize: 16, maxLength: 6, seed: 9)
        #expect(batches.map(\.count).reduce(0, +) == data.trainableUsers.count && batches.dropLast().allSatisfy { $0.count == 16 })
        #expect(batches.count >= 2)
        #expect(batches[1] == data.batch(users: order[16..<32], maxLength: 6, epoch: 0, seed: 9))
    }

    @Test func sortedWindowsGroupSimilarLengths() {
        let interactions = SASRecTestSupport.cycles(users: 200, items: 50, lengths: 3...40, noise: 0.3, seed: 6)
        let data = SequenceData(interactions: interactions)
        let mixed = data.batches(epoch: 1, batchSize: 10, maxLength: 20, seed: 2)
        let sorted = data.batches(epoch: 1, batchSize: 10, maxLength: 20, seed: 2, sortWindow: 100)
        #expect(data.batches(epoch: 1, batchSize: 10, maxLength: 20, seed: 2, sortWindow: 100) == sorted)
        // Every trainable user once, with the same negatives as in uniformly mixed batches.
        func sequences(_ batches: [SASRecBatch]) -> Set<[UInt64]> {
            var out = Set<[UInt64]>()
            for batch in batches {
                for s in 0..<batch.count {
                    let slots = (s * batch.length)..<((s + 1) * batch.length)
                    out.insert(slots.compactMap { batch.inputs[$0] < 0 ? nil : batch.itemKeys[Int(batch.negatives[$0])] })
                }
            }
            return out
        }
        #expect(sorted.map(\.count).reduce(0, +) == data.trainableUsers.count)
        #expect(sequences(sorted) == sequences(mixed))
        // Within a batch, lengths are close; padding falls sharply.
        func padding(_ batches: [SASRecBatch]) -> Int {
            batches.reduce(0) { $0 + $1.count * ($1.lengths.max() ?? 0) - $1.examples }
        }
        #expect(padding(sorted) * 4 < padding(mixed), "padding \(padding(sorted)) sorted vs \(padding(mixed)) mixed")
    }

    @Test func negativesAreUniformOverItemsNotTrainedOn() {
        // A user who trained on 7 of 10 items: negatives (dense path) come from {7, 8, 9}, evenly.
        let sequence = [0, 1, 2, 3, 4, 5, 6, 0, 1]
        var interactions = sequence.enumerated().map { Interaction(user: 1, item: UInt64($0.element), timestamp: Int64($0.offset)) }
        interactions += [Interaction(user: 1, item: 5, timestamp: 20), Interaction(user: 1, item: 6, timestamp: 21)]
        let data = SequenceData(interactions: interactions, items: Array(0..<10))
        var counts: [UInt64: Int] = [:]
        for epoch in 0..<300 {
            let batch = data.batch(users: [0], maxLength: 8, epoch: epoch, seed: 3)
            for n in batch.negatives where n >= 0 { counts[batch.itemKeys[Int(n)], default: 0] += 1 }
        }
        #expect(Set(counts.keys) == [7, 8, 9])
        let total = counts.values.reduce(0, +)
        for (item, count) in counts {
            #expect(abs(Double(count) / Double(total) - 1.0 / 3) < 0.04, "item \(item) drawn \(count) of \(total)")
        }
    }

    @Test func sharedNegativesAreDistinctSeededAndUniform() {
        var interactions: [Interaction] = []
        for user in 0..<6 {
            for t in 0..<5 {
                let item = (user * 7 + t * 3) % 40
                interactions.append(Interaction(user: UInt64(user), item: UInt64(item), timestamp: Int64(t)))
            }
        }
        let data = SequenceData(interactions: interactions, items: Array(0..<40))
        let batch = data.batch(users: [0, 2, 4], maxLength: 4, epoch: 1, seed: 5, sharedNegatives: 12)
        #expect(batch.negatives.isEmpty && batch.sharedNegatives.count == 12)
        #expect(Set(batch.sharedNegatives).count == 12)
        func inputKeys(_ b: SASRecBatch) -> [UInt64?] { b.inputs.map { $0 < 0 ? nil : b.itemKeys[Int($0)] } }
        #expect(inputKeys(batch) == inputKeys(data.batch(users: [0, 2, 4], maxLength: 4, epoch: 1, seed: 5)))
        #expect(data.batch(users: [0, 2, 4], maxLength: 4, epoch: 1, seed: 5, sharedNegatives: 12) == batch)
        let other = data.batch(users: [0, 2, 4], maxLength: 4, epoch: 2, seed: 5, sharedNegatives: 12)
        #expect(Set(other.sharedNegatives.map { other.itemKeys[Int($0)] }) != Set(batch.sharedNegatives.map { batch.itemKeys[Int($0)] }))
        // More negatives than items: the whole catalogue (the dense draw).
        #expect(data.batch(users: [1], maxLength: 4, epoch: 0, seed: 5, sharedNegatives: 100).sharedNegatives.count == 40)
        // Uniform over the catalogue, training items included.
        var counts = [Int](repeating: 0, count: 40)
        for epoch in 0..<500 {
            let b = data.batch(users: [3], maxLength: 4, epoch: epoch, seed: 9, sharedNegatives: 8)
            for n in b.sharedNegatives { counts[Int(b.itemKeys[Int(n)])] += 1 }
        }
        #expect(counts.allSatisfy { abs(Double($0) / 4000 - 1.0 / 40) < 0.012 }, "\(counts)")
    }

    @Test func batchFromKeys() {
        let batch = SASRecBatch(inputs: [[5, 9], [2]], positives: [[9, 4], [5]], negatives: [[7, 7], [1]], length: 3)
        #expect(batch.itemKeys == [1, 2, 4, 5, 7, 9])
        #expect(batch.inputs == [-1, 3, 5, -1, -1, 1])
        #expect(batch.positives == [-1, 5, 2, -1, -1, 3])
        #expect(batch.negatives == [-1, 4, 4, -1, -1, 0])
        #expect(batch.examples == 3 && batch.count == 2)
    }
}
