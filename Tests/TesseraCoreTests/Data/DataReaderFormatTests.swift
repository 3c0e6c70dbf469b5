import Foundation
import Testing
import TesseraCore

/// Each format, line endings, quoting and the key/name mapping.
@Suite struct DataReaderFormatTests {
    @Test func movieLensDoubleColon() throws {
        let data = try DataTestFiles.withFile("ratings.dat", "1::10::4.5::100\n2::20::3::200\n") {
            try DataReader.read(DataSource(path: $0))
        }
        #expect(data.interactions == [
            Interaction(user: 1, item: 10, rating: 4.5, timestamp: 100),
            Interaction(user: 2, item: 20, rating: 3, timestamp: 200),
        ])
        #expect(data.items == [10, 20])
        #expect(data.source.hasSuffix("(movielens)"))
    }

    @Test func csvWithHeaderAndCRLF() throws {
        let text = "userId,movieId,rating,timestamp\r\n1,1,4.0,964982703\r\n1,3,4.5,964981247\r\n7,3,0.5,5\r\n"
        let data = try DataTestFiles.withFile("ratings.csv", text) { try DataReader.read(DataSource(path: $0)) }
        #expect(data.interactions == [
            Interaction(user: 1, item: 1, rating: 4, timestamp: 964_982_703),
            Interaction(user: 1, item: 3, rating: 4.5, timestamp: 964_981_247),
            Interaction(user: 7, item: 3, rating: 0.5, timestamp: 5),
        ])
        #expect(data.items == [1, 3])
        #expect(data.users() == [1, 7])
        #expect(data.skippedLines == 0)
    }

    @Test func csvColumnsInAnyOrderWithExtraColumnsAndScenario() throws {
        let text = "ts,extra,item,user,score,scene\n5,x,100,9,2.5,3\n"
        let columns = ColumnNames(user: "user", item: "item", rating: "score", timestamp: "ts", scenario: "scene")
        let data = try DataTestFiles.withFile("d.csv", text) {
            try DataReader.read(DataSource(path: $0, columns: columns))
        }
        #expect(data.interactions == [Interaction(user: 9, item: 100, rating: 2.5, timestamp: 5, scenario: 3)])
    }

    @Test func optionalColumnsDefaultToOneAndLineNumber() throws {
        // No rating or timestamp column: rating 1, timestamp = line number.
        let text = "userId,movieId\n\n1,2\n3,4\n"
        let data = try DataTestFiles.withFile("d.csv", text) { try DataReader.read(DataSource(path: $0)) }
        #expect(data.interactions == [
            Interaction(user: 1, item: 2, rating: 1, timestamp: 3),
            Interaction(user: 3, item: 4, rating: 1, timestamp: 4),
        ])
        // A nil column name ignores a column that is present.
        let ignored = try DataTestFiles.withFile("d.csv", "userId,movieId,rating\n1,2,5\n") {
            try DataReader.read(DataSource(path: $0, columns: ColumnNames(rating: nil)))
        }
        #expect(ignored.interactions.map(\.rating) == [1])
    }

    @Test func quotedCSVFields() throws {
        let text = """
            movieId,title,genres
            1,Toy Story (1995),Animation
            11,"American President, The (1995)",Comedy
            12,"Say ""Hi"", World",Drama
             13 , "padded" ,Drama
            """
        let columns = ColumnNames(user: "genres", item: "title", rating: nil, timestamp: nil)
        let data = try DataTestFiles.withFile("movies.csv", text) {
            try DataReader.read(DataSource(path: $0, columns: columns))
        }
        let titles = data.items.map { data.rawID(for: $0) }
        #expect(titles == ["Toy Story (1995)", "American President, The (1995)", "Say \"Hi\", World", "padded"])
        #expect(data.items.first == EntityKey.key(for: "Toy Story (1995)"))
        #expect(data.interactions.count == 4)
    }

    @Test func tsvWithHeader() throws {
        let text = "userId\tmovieId\trating\ttimestamp\nu1\ti1\t5\t10\nu2\ti1\t3\t11"
        let data = try DataTestFiles.withFile("d.tsv", text) { try DataReader.read(DataSource(path: $0)) }
        #expect(data.source.hasSuffix("(tsv)"))
        #expect(data.interactions.map(\.user) == [EntityKey.key(for: "u1"), EntityKey.key(for: "u2")])
        #expect(data.interactions.map(\.rating) == [5, 3])
        #expect(data.items == [EntityKey.key(for: "i1")])
    }

    @Test func pairsUseLineNumbersAsTime() throws {
        let text = "1 10\n1\t11\n\n   \n2  10\n"
        let data = try DataTestFiles.withFile("interactions.txt", text) { try DataReader.read(DataSource(path: $0)) }
        #expect(data.source.hasSuffix("(pairs)"))
        #expect(data.interactions == [
            Interaction(user: 1, item: 10, timestamp: 1),
            Interaction(user: 1, item: 11, timestamp: 2),
            Interaction(user: 2, item: 10, timestamp: 5),
        ])
    }

    @Test func sequencesUsePositionsAsTime() throws {
        let text = "7 30 31 32\n8 31 40\n"
        let data = try DataTestFiles.withFile("seq.txt", text) { try DataReader.read(DataSource(path: $0)) }
        #expect(data.source.hasSuffix("(sequences)"))
        #expect(data.interactions == [
            Interaction(user: 7, item: 30, timestamp: 1),
            Interaction(user: 7, item: 31, timestamp: 2),
            Interaction(user: 7, item: 32, timestamp: 3),
            Interaction(user: 8, item: 31, timestamp: 1),
            Interaction(user: 8, item: 40, timestamp: 2),
        ])
        #expect(data.items == [30, 31, 32, 40])
        // Explicit format overrides detection (this first line looks like pairs).
        let explicit = try DataTestFiles.withFile("seq.txt", "7 30\n8 31 40\n") {
            try DataReader.read(DataSource(path: $0, format: .sequences))
        }
        #expect(explicit.interactions.count == 3)
    }

    @Test func formatDetectionRules() {
        #expect(DataFormat.detect(path: "a.csv", firstLine: "1::2::3::4") == .movielens)
        #expect(DataFormat.detect(path: "a.CSV", firstLine: "userId,movieId") == .csv)
        #expect(DataFormat.detect(path: "a.tsv", firstLine: "u\ti") == .tsv)
        #expect(DataFormat.detect(path: "a.txt", firstLine: "1 2") == .pairs)
        #expect(DataFormat.detect(path: "a.txt", firstLine: " 1\t 2 3 ") == .sequences)
        #expect(DataFormat.detect(path: "a.txt", firstLine: "1") == nil)
    }

    @Test func trailingLineWithoutNewlineAndByteOrderMark() throws {
        let text = "\u{FEFF}userId,movieId\n1,2\n3,4"
        let data = try DataTestFiles.withFile("d.csv", text) { try DataReader.read(DataSource(path: $0)) }
        #expect(data.interactions.map(\.item) == [2, 4])
    }

    @Test func emptyFileGivesNoData() throws {
        let data = try DataTestFiles.withFile("empty.txt", "\n\n") { try DataReader.read(DataSource(path: $0)) }
        #expect(data.interactions.isEmpty)
        #expect(data.items.isEmpty)
    }

    @Test func nonNumericIDsKeepTheirNames() throws {
        let text = "alice B00005N5PF\nbob 42\n"
        let data = try DataTestFiles.withFile("p.txt", text) { try DataReader.read(DataSource(path: $0)) }
        let alice = EntityKey.key(for: "alice")
        let product = EntityKey.key(for: "B00005N5PF")
        #expect(data.interactions.map(\.user) == [alice, EntityKey.key(for: "bob")])
        #expect(data.items == [product, 42])
        #expect(data.rawID(for: alice) == "alice")
        #expect(data.rawID(for: product) == "B00005N5PF")
        #expect(data.rawID(for: 42) == "42")
        #expect(data.names[42] == nil)
        #expect(data.names.count == 3)
    }

    @Test func keysAgreeWithEntityKeyForOddNumbers() throws {
        // Leading zeros, 19+ digit and 2^63+ ids must map exactly as EntityKey does.
        let ids = ["007", "123456789012345678", "9223372036854775807", "9223372036854775808", "99999999999999999999999"]
        let text = ids.map { "1 \($0)" }.joined(separator: "\n")
        let data = try DataTestFiles.withFile("p.txt", text) { try DataReader.read(DataSource(path: $0)) }
        #expect(data.items == ids.map { EntityKey.key(for: $0) })
        #expect(data.rawID(for: EntityKey.key(for: "9223372036854775808")) == "9223372036854775808")
    }

    @Test func minRatingKeepsItemsButDropsInteractions() throws {
        let text = "userId,movieId,rating\n1,10,5\n1,11,2.5\n2,12,3.5\n2,10,3.49\n"
        let data = try DataTestFiles.withFile("r.csv", text) {
            try DataReader.read(DataSource(path: $0, minRating: 3.5))
        }
        #expect(data.interactions.map(\.item) == [10, 12])
        #expect(data.items == [10, 11, 12])
    }

    @Test func keepUserFiltersInteractionsButNotItems() throws {
        let text = "1 10\n2 20\n3 30\n2 21\nbob 40\n"
        let data = try DataTestFiles.withFile("p.txt", text) {
            try DataReader.read(DataSource(path: $0)) { $0 == 2 }
        }
        #expect(data.interactions.map(\.item) == [20, 21])
        #expect(data.items == [10, 20, 30, 21, 40])
        #expect(data.names.isEmpty, "names of users not kept are not stored")

        // Shards partition the interactions and all see the same item universe.
        let all = try DataTestFiles.withFile("p.txt", text) { try DataReader.read(DataSource(path: $0)) }
        var union: [Interaction] = []
        for index in 0..<3 {
            let shard = DataSharding(index: index, count: 3)
            let part = try DataTestFiles.withFile("p.txt", text) {
                try DataReader.read(DataSource(path: $0), keepUser: shard.owns(user:))
            }
            #expect(part.items == all.items)
            union += part.interactions
        }
        #expect(Set(union) == Set(all.interactions))
        #expect(union.count == all.interactions.count)
    }

    @Test func largeFileSpanningManyChunks() throws {
        // Over 2 MiB so lines straddle the reader's chunk boundaries.
        var text = "userId,movieId,rating,timestamp\r\n"
        let count = 150_000
        for index in 0..<count {
            text += "\(index % 997),\(index % 1009),\(index % 5 + 1),\(index)\r\n"
        }
        #expect(text.utf8.count > 2 << 20)
        let data = try DataTestFiles.withFile("big.csv", text) { try DataReader.read(DataSource(path: $0)) }
        #expect(data.interactions.count == count)
        #expect(data.items.count == 1009)
        for (index, interaction) in data.interactions.enumerated() where index % 7919 == 0 || index == count - 1 {
            #expect(interaction == Interaction(
                user: UInt64(index % 997), item: UInt64(index % 1009),
                rating: Float(index % 5 + 1), timestamp: Int64(index)))
        }
    }

    @Test func mergeConcatenatesAndUnitesItems() {
        let a = LoadedData(
            interactions: [Interaction(user: 1, item: 2)], items: [2, 3], names: [9: "x"],
            skippedLines: 1, skippedExamples: ["a"], source: "a")
        let b = LoadedData(
            interactions: [Interaction(user: 4, item: 5)], items: [5, 2], names: [8: "y"],
            skippedLines: 2, skippedExamples: ["b", "c"], source: "b")
        let merged = LoadedData.merge([a, b])
        #expect(merged.interactions == a.interactions + b.interactions)
        #expect(merged.items == [2, 3, 5])
        #expect(merged.names == [9: "x", 8: "y"])
        #expect(merged.skippedLines == 3)
        #expect(merged.skippedExamples == ["a", "b", "c"])
        #expect(merged.source == "a + b")
    }
}
