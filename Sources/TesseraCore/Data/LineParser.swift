/// Turns one non-blank line of a file into interactions, format by format.
///
/// Holds the resolved format and, for `.csv`/`.tsv`, the header layout once the
/// header line has been seen. After a successful `parse`, `parsed` holds the
/// line's interactions (all of one user; empty for a header) and `userName`
/// and `itemNames` the raw ids of its non-numeric keys.
struct LineParser {
    let source: DataSource
    private(set) var format: DataFormat?
    private var layout: HeaderLayout?
    private var fields: [FieldRange] = []

    private(set) var parsed: [Interaction] = []
    private(set) var userName: String?
    private(set) var itemNames: [(UInt64, String)] = []

    init(source: DataSource) {
        self.source = source
        self.format = source.format == .auto ? nil : source.format
    }

    /// Parses one line. Throws `DataError` for problems with the whole file
    /// (undetectable format, a header without a required column) and
    /// `LineError` for a malformed line.
    mutating func parse(number: Int, line: UnsafeBufferPointer<UInt8>) throws {
        parsed.removeAll(keepingCapacity: true)
        itemNames.removeAll(keepingCapacity: true)
        userName = nil

        let format = try resolvedFormat(number: number, line: line)
        switch format {
        case .movielens:
            LineParsers.splitDoubleColon(line, into: &fields)
            guard fields.count == 4 else {
                throw LineError(message: "expected 4 fields separated by '::', found \(fields.count)")
            }
            try addInteraction(
                line, user: fields[0], item: fields[1],
                rating: fields[2], timestamp: LineParsers.int64(line, fields[3], what: "timestamp"))
        case .csv, .tsv:
            guard let layout else {
                layout = try HeaderLayout(
                    line, format: format, columns: source.columns, file: source.path, number: number)
                return
            }
            try layout.split(line, into: &fields)
            let timestamp = try layout.timestamp.map { index throws(LineError) in
                try LineParsers.int64(line, fields[index], what: "timestamp")
            }
            let scenario = try layout.scenario.map { index throws(LineError) in
                try LineParsers.uint32(line, fields[index], what: "scenario")
            }
            try addInteraction(
                line, user: fields[layout.user], item: fields[layout.item],
                rating: layout.rating.map { fields[$0] },
                timestamp: timestamp ?? Int64(number), scenario: scenario ?? 0)
        case .pairs:
            LineParsers.splitWhitespace(line, into: &fields)
            guard fields.count == 2 else {
                throw LineError(message: "expected 2 fields (user item), found \(fields.count)")
            }
            try addInteraction(line, user: fields[0], item: fields[1], rating: nil, timestamp: Int64(number))
        case .sequences:
            LineParsers.splitWhitespace(line, into: &fields)
            guard fields.count >= 2 else {
                throw LineError(message: "expected a user and at least 1 item, found \(fields.count) field")
            }
            let user = try key(line, fields[0], what: "user")
            userName = user.name
            for position in 1..<fields.count {
                let item = try key(line, fields[position], what: "item")
                if let name = item.name { itemNames.append((item.key, name)) }
                parsed.append(Interaction(user: user.key, item: item.key, timestamp: Int64(position)))
            }
        case .auto:
            preconditionFailure("format resolved above")
        }
    }

    private mutating func resolvedFormat(number: Int, line: UnsafeBufferPointer<UInt8>) throws -> DataFormat {
        if let format { return format }
        let firstLine = String(decoding: line, as: UTF8.self)
        guard let detected = DataFormat.detect(path: source.path, firstLine: firstLine) else {
            throw DataError(
                .malformedFile, file: source.path, line: number,
                message: "cannot tell the format from the path or the first line; set format to one of "
                    + "movielens, csv, tsv, pairs, sequences " + DataError.quote(line))
        }
        format = detected
        return detected
    }

    private func key(
        _ line: UnsafeBufferPointer<UInt8>, _ field: FieldRange, what: String
    ) throws(LineError) -> (key: UInt64, name: String?) {
        try LineParsers.key(line, field, what: what)
    }

    private mutating func addInteraction(
        _ line: UnsafeBufferPointer<UInt8>, user: FieldRange, item: FieldRange,
        rating: FieldRange?, timestamp: Int64, scenario: UInt32 = 0
    ) throws(LineError) {
        let user = try key(line, user, what: "user")
        let item = try key(line, item, what: "item")
        let value = try rating.map { field throws(LineError) in
            try LineParsers.float(line, field, what: "rating")
        }
        userName = user.name
        if let name = item.name { itemNames.append((item.key, name)) }
        parsed.append(Interaction(
            user: user.key, item: item.key, rating: value ?? 1, timestamp: timestamp, scenario: scenario))
    }
}

/// Where the named columns sit in a `.csv` or `.tsv` header.
private struct HeaderLayout {
    let delimiter: UInt8
    let quotes: Bool
    let fieldCount: Int
    let user: Int
    let item: Int
    let rating: Int?
    let timestamp: Int?
    let scenario: Int?

    init(
        _ line: UnsafeBufferPointer<UInt8>, format: DataFormat, columns: ColumnNames,
        file: String, number: Int
    ) throws {
        delimiter = format == .tsv ? LineParsers.tab : UInt8(ascii: ",")
        quotes = format == .csv
        var fields: [FieldRange] = []
        do {
            try LineParsers.splitDelimited(line, delimiter: delimiter, quotes: quotes, into: &fields)
        } catch {
            throw DataError(.malformedFile, file: file, line: number, message: "bad header: \(error.message) " + DataError.quote(line))
        }
        let names = fields.map { LineParsers.string(line, $0) }
        fieldCount = names.count

        // Files Tessera writes (`tessera split`, `InteractionWriter`) use the `ColumnNames.written`
        // header; they are read with the default column names too, so a split made by one
        // command feeds `--train/--valid/--test` of another without extra settings.
        let defaults = ColumnNames()
        let written = ColumnNames.written
        func fallback(_ name: String) -> String? {
            switch name {
            case defaults.user: written.user
            case defaults.item: written.item
            default: nil
            }
        }
        func required(_ name: String, _ role: String) throws -> Int {
            guard let index = names.firstIndex(of: name) ?? fallback(name).flatMap({ names.firstIndex(of: $0) }) else {
                let found = names.map { "\"\($0)\"" }.joined(separator: ", ")
                throw DataError(
                    .malformedFile, file: file, line: number,
                    message: "the header has no \(role) column \"\(name)\"; found \(found)")
            }
            return index
        }
        user = try required(columns.user, "user")
        item = try required(columns.item, "item")
        rating = columns.rating.flatMap { names.firstIndex(of: $0) }
        timestamp = columns.timestamp.flatMap { names.firstIndex(of: $0) }
        scenario = try columns.scenario.map { try required($0, "scenario") }
    }

    /// Splits a data line and checks it has as many fields as the header.
    func split(_ line: UnsafeBufferPointer<UInt8>, into fields: inout [FieldRange]) throws(LineError) {
        try LineParsers.splitDelimited(line, delimiter: delimiter, quotes: quotes, into: &fields)
        guard fields.count == fieldCount else {
            let separator = delimiter == LineParsers.tab ? "tabs" : "','"
            throw LineError(
                message: "expected \(fieldCount) fields separated by \(separator) as in the header, found \(fields.count)")
        }
    }
}
