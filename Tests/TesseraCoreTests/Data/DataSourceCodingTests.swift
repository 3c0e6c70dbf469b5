import Foundation
import Testing
import TesseraCore

/// Settings decode with defaults for every absent key and round-trip.
@Suite struct DataSourceCodingTests {
    @Test func dataSourceDecodesWithDefaults() throws {
        let decoded = try JSONDecoder().decode(DataSource.self, from: Data(#"{"path": "ratings.csv"}"#.utf8))
        #expect(decoded == DataSource(path: "ratings.csv"))
        #expect(decoded.format == .auto)
        #expect(decoded.columns == ColumnNames())
        #expect(decoded.onBadLine == .error)

        let custom = try JSONDecoder().decode(DataSource.self, from: Data(#"""
            {"path": "x.tsv", "format": "tsv", "minRating": 4, "onBadLine": "skip",
             "columns": {"user": "u", "rating": null}}
            """#.utf8))
        #expect(custom.format == .tsv)
        #expect(custom.minRating == 4)
        #expect(custom.onBadLine == .skip)
        #expect(custom.columns == ColumnNames(user: "u", item: "movieId", rating: nil, timestamp: "timestamp"))
    }

    @Test func settingsRoundTrip() throws {
        let source = DataSource(
            path: "a.csv", format: .csv,
            columns: ColumnNames(user: "u", item: "i", rating: nil, timestamp: nil, scenario: "s"),
            minRating: 3, onBadLine: .skip)
        let data = try JSONEncoder().encode(source)
        #expect(try JSONDecoder().decode(DataSource.self, from: data) == source)

        let spec = SyntheticSpec(users: 7, items: 9, seed: 3)
        #expect(try JSONDecoder().decode(SyntheticSpec.self, from: JSONEncoder().encode(spec)) == spec)
    }

    @Test func syntheticSpecDecodesWithDefaults() throws {
        let spec = try JSONDecoder().decode(SyntheticSpec.self, from: Data(#"{"users": 50, "seed": 9}"#.utf8))
        #expect(spec == SyntheticSpec(users: 50, seed: 9))
    }
}
