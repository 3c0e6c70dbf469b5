import Foundation
import Testing
import TesseraCore

/// Malformed input: every error names the file and line, or is skipped and counted.
@Suite struct DataReaderErrorTests {
    /// The `DataError` that reading `text` as `name` throws.
    private func readError(_ name: String, _ text: String, format: DataFormat = .auto) throws -> DataError {
        try DataTestFiles.withFile(name, text) { path in
            let error = #expect(throws: DataError.self) {
                try DataReader.read(DataSource(path: path, format: format))
            }
            let unwrapped = try #require(error)
            #expect(unwrapped.file == path)
            return unwrapped
        }
    }

    @Test func wrongFieldCountInMovieLens() throws {
        let error = try readError("ratings.dat", "1::2::3::4\n\n1::2\n")
        #expect(error.line == 3)
        #expect(error.code == .malformedLine)
        #expect(error.message == "expected 4 fields separated by '::', found 2 (\"1::2\")")
        #expect(error.description.hasSuffix("ratings.dat:3: expected 4 fields separated by '::', found 2 (\"1::2\")"))
    }

    @Test func badNumbers() throws {
        let rating = try readError("r.csv", "userId,movieId,rating,timestamp\n1,2,four,5\n")
        #expect(rating.line == 2)
        #expect(rating.message.contains("rating \"four\" is not a number"))
        #expect(rating.message.contains("(\"1,2,four,5\")"))

        let time = try readError("r.csv", "userId,movieId,rating,timestamp\n1,2,4,yesterday\n")
        #expect(time.message.contains("timestamp \"yesterday\" is not an integer"))

        let nan = try readError("r.dat", "1::2::nan::5\n")
        #expect(nan.message.contains("rating \"nan\" is not a number"))

        let emptyID = try readError("r.csv", "userId,movieId\n,2\n")
        #expect(emptyID.message.contains("empty user id"))
    }

    @Test func wrongFieldCountInCSVAndPairs() throws {
        let csv = try readError("r.csv", "userId,movieId,rating\n1,2,3\n1,2\n")
        #expect(csv.line == 3)
        #expect(csv.message.hasPrefix("expected 3 fields separated by ',' as in the header, found 2"))

        let pairs = try readError("p.txt", "1 2\n1 2 3\n", format: .pairs)
        #expect(pairs.line == 2)
        #expect(pairs.message.hasPrefix("expected 2 fields (user item), found 3"))

        let sequences = try readError("s.txt", "1 2 3\n4\n", format: .sequences)
        #expect(sequences.line == 2)
    }

    @Test func badQuoting() throws {
        let open = try readError("m.csv", "userId,movieId\n1,\"unterminated\n")
        #expect(open.line == 2)
        #expect(open.message.contains("unterminated quoted field 2"))
        let trailing = try readError("m.csv", "userId,movieId\n1,\"a\"b\n")
        #expect(trailing.message.contains("after the closing quote"))
    }

    @Test func longLinesAreQuotedTruncated() throws {
        let long = String(repeating: "x", count: 500)
        let error = try readError("r.dat", "1::\(long)\n")
        #expect(error.message.contains("(\"1::xxxx"))
        #expect(error.message.hasSuffix("…\")"))
        #expect(error.message.count < 200)
    }

    @Test func missingHeaderColumnNamesColumnAndHeader() throws {
        // (`user,item` would be read: it is the header Tessera itself writes.)
        let error = try readError("ratings.csv", "uid,iid,rating\n1,2,3\n")
        #expect(error.line == 1)
        #expect(error.code == .malformedFile)
        #expect(error.message.contains("\"userId\""))
        #expect(error.message.contains("found \"uid\", \"iid\", \"rating\""))

        // Missing even under the skip policy: the whole file is unusable.
        try DataTestFiles.withFile("ratings.csv", "userId,rating\n1,2\n") { path in
            #expect(throws: DataError.self) {
                try DataReader.read(DataSource(path: path, onBadLine: .skip))
            }
        }

        // A named scenario column is required.
        try DataTestFiles.withFile("ratings.csv", "userId,movieId\n1,2\n") { path in
            let columns = ColumnNames(scenario: "scenario")
            let error = #expect(throws: DataError.self) {
                try DataReader.read(DataSource(path: path, columns: columns))
            }
            #expect(error?.message.contains("scenario column \"scenario\"") == true)
        }
    }

    @Test func missingFileNamesThePath() throws {
        let path = "/nonexistent/tessera/ratings.csv"
        let error = #expect(throws: DataError.self) { try DataReader.read(DataSource(path: path)) }
        #expect(error?.file == path)
        #expect(error?.code == .io)
        #expect(error?.line == nil)
        #expect(error?.description == "\(path): no such file")
    }

    @Test func folderIsNotAFile() throws {
        try DataTestFiles.withFolder { folder in
            let error = #expect(throws: DataError.self) { try DataReader.read(DataSource(path: folder.path)) }
            #expect(error?.message.contains("directory") == true)
        }
    }

    @Test func undetectableFormat() throws {
        let error = try readError("ids.txt", "\n42\n")
        #expect(error.line == 2)
        #expect(error.message.contains("cannot tell the format"))
    }

    @Test func skipPolicyCountsAndKeepsFirstFiveMessages() throws {
        var text = "userId,movieId,rating\n"
        for index in 0..<10 {
            text += "\(index),\(index),\(index)\n"
            text += "\(index),bad,line,extra\n"
        }
        let data = try DataTestFiles.withFile("r.csv", text) {
            try DataReader.read(DataSource(path: $0, onBadLine: .skip))
        }
        #expect(data.interactions.count == 10)
        #expect(data.skippedLines == 10)
        #expect(data.skippedExamples.count == 5)
        #expect(data.skippedExamples.first?.hasSuffix("r.csv:3: expected 3 fields separated by ',' as in the header, found 4 (\"0,bad,line,extra\")") == true)
        // Items of skipped lines are not in the universe.
        #expect(data.items.count == 10)
    }

    @Test func skippedSequenceLineAddsNothing() throws {
        let data = try DataTestFiles.withFile("s.txt", "1 2 3\n5 6 7 \"\" 9\n4 5 6\n") {
            try DataReader.read(DataSource(path: $0, format: .sequences, onBadLine: .skip))
        }
        // `""` is a valid (non-numeric) id in a whitespace format, so nothing is skipped here…
        #expect(data.skippedLines == 0)
        // …but a line with only a user is.
        let short = try DataTestFiles.withFile("s.txt", "1 2 3\n5\n4 5 6\n") {
            try DataReader.read(DataSource(path: $0, format: .sequences, onBadLine: .skip))
        }
        #expect(short.skippedLines == 1)
        #expect(short.interactions.map(\.user) == [1, 1, 4, 4])
        #expect(short.items == [2, 3, 5, 6])
    }
}
