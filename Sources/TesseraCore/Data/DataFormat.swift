/// The layout of an interaction file. Every format yields `Interaction`s with
/// keys from `EntityKey.key(for:)`; formats without ratings give rating 1, and
/// formats without times give a position as the timestamp, so sorting by
/// timestamp keeps the file order.
public enum DataFormat: String, Sendable, Hashable, Codable, CaseIterable {
    /// Chosen from the path and the first non-blank line; see `detect(path:firstLine:)`.
    case auto
    /// `user::item::rating::timestamp`, no header (MovieLens 1M/10M `ratings.dat`).
    /// Exactly four fields: a line with two or three is an error, not a line
    /// with defaults, because a short line in such a file is a damaged line.
    case movielens
    /// Comma-separated with a header row naming the columns (`ColumnNames`).
    /// Fields may be quoted (`"a,b"`, with `""` for a quote inside); a quoted
    /// field may not span lines.
    case csv
    /// Tab-separated with a header row naming the columns; no quoting.
    case tsv
    /// `user item` per line, separated by spaces or tabs; no header, rating 1,
    /// timestamp = the line number (SASRec's `interactions.txt`).
    case pairs
    /// `user item item …` per line, items in time order; no header, rating 1,
    /// timestamp = the item's 1-based position in its line.
    case sequences

    /// The format `auto` stands for, decided by these rules in order:
    /// 1. the first line contains `::` → `movielens`;
    /// 2. the path ends in `.csv` → `csv`; in `.tsv` → `tsv` (any letter case);
    /// 3. the first line has 2 whitespace-separated fields → `pairs`,
    ///    3 or more → `sequences`;
    /// 4. otherwise nil (the caller reports that the format cannot be told).
    ///
    /// A `sequences` file whose first user has one item looks like `pairs`:
    /// name the format explicitly for such files.
    public static func detect(path: String, firstLine: String) -> DataFormat? {
        if firstLine.contains("::") {
            return .movielens
        }
        let lowered = path.lowercased()
        if lowered.hasSuffix(".csv") {
            return .csv
        }
        if lowered.hasSuffix(".tsv") {
            return .tsv
        }
        var fields = 0
        var inField = false
        for byte in firstLine.utf8 {
            let space = byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t")
            if !space && !inField {
                fields += 1
            }
            inField = !space
        }
        switch fields {
        case 2: return .pairs
        case 3...: return .sequences
        default: return nil
        }
    }
}

/// What the reader does with a line it cannot parse.
public enum BadLinePolicy: String, Sendable, Hashable, Codable {
    /// Stop with a `DataError` naming the file and line.
    case error
    /// Count the line in `LoadedData.skippedLines`, keep the first few messages
    /// in `LoadedData.skippedExamples`, and go on.
    case skip
}
