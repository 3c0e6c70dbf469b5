import Foundation
import Testing
import TesseraCore

/// Split files written as CSV read back unchanged.
@Suite struct InteractionWriterTests {
    @Test func roundTripWithRawIDs() throws {
        let text = """
            userId\tmovieId\trating\ttimestamp
            alice\tB00005N5PF\t4.5\t100
            42\tplain, "quoted" item\t0.25\t-7
            bob\t 9\t3\t1
            """
        try DataTestFiles.withFolder { folder in
            let source = folder.appendingPathComponent("in.tsv").path
            try Data(text.utf8).write(to: URL(fileURLWithPath: source))
            let original = try DataReader.read(DataSource(path: source))
            #expect(original.interactions.count == 3)

            let path = folder.appendingPathComponent("train.csv").path
            try InteractionWriter.write(original.interactions, names: original.names, to: path)
            let header = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").first
            #expect(header == "user,item,rating,timestamp")

            let back = try DataReader.read(DataSource(path: path, format: .csv, columns: .written))
            #expect(back.interactions == original.interactions)
            #expect(back.names == original.names)
            #expect(back.rawID(for: EntityKey.key(for: "plain, \"quoted\" item")) == "plain, \"quoted\" item")
        }
    }

    @Test func roundTripOfSyntheticSplitWithScenarios() throws {
        let generated = try SyntheticGenerator(spec: SyntheticSpec(users: 50, items: 40)).generate()
        var interactions = InteractionSplit.split(generated.interactions, seed: 3).test
        interactions[0].scenario = 2
        try DataTestFiles.withFolder { folder in
            let path = folder.appendingPathComponent("test.csv").path
            try InteractionWriter.write(interactions, to: path)
            var columns = ColumnNames.written
            columns.scenario = "scenario"
            let back = try DataReader.read(DataSource(path: path, columns: columns))
            #expect(back.interactions == interactions)
        }
    }

    @Test func unknownNonNumericKeyIsAnError() throws {
        try DataTestFiles.withFolder { folder in
            let path = folder.appendingPathComponent("x.csv").path
            let key = EntityKey.key(for: "someone")
            let error = #expect(throws: DataError.self) {
                try InteractionWriter.write([Interaction(user: key, item: 1)], to: path)
            }
            #expect(error?.message.contains("no raw id") == true)
        }
    }

    @Test func unwritablePathIsAnError() {
        let error = #expect(throws: DataError.self) {
            try InteractionWriter.write([], to: "/nonexistent/tessera/out.csv")
        }
        #expect(error?.file == "/nonexistent/tessera/out.csv")
    }
}

extension InteractionWriterTests {
    /// A split written by Tessera reads back with the default (MovieLens) column settings.
    @Test func writtenFilesReadWithDefaultColumns() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("written-\(UUID().uuidString).csv").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let interactions = [Interaction(user: 3, item: 9, rating: 4, timestamp: 10), Interaction(user: 4, item: 2, rating: 1, timestamp: 11)]
        try InteractionWriter.write(interactions, to: path)
        let read = try DataReader.read(DataSource(path: path))
        #expect(read.interactions == interactions)
        // A header with neither the configured nor Tessera's names is still an error naming the column.
        try "uid,iid\n1,2\n".write(toFile: path, atomically: true, encoding: .utf8)
        let error = #expect(throws: DataError.self) { try DataReader.read(DataSource(path: path)) }
        #expect(error?.message.contains("\"userId\"") == true)
    }
}
