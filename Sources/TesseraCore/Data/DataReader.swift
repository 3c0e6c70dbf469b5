/// Reads interaction files described by a `DataSource`.
public enum DataReader {
    /// Reads the whole file, keeping the interactions of users for which
    /// `keepUser` returns true (a worker passes `DataSharding.owns(user:)`).
    ///
    /// The file is streamed in chunks, never held whole. Every line is parsed
    /// even for users not kept, so a malformed line is reported by every
    /// reader, and `LoadedData.items` lists every item of the file. Blank lines
    /// are skipped; lines may end in `\n` or `\r\n`.
    ///
    /// - Throws: `DataError` for a missing or unreadable file, a header without
    ///   a named column, an undetectable format, or (with `onBadLine == .error`)
    ///   the first malformed line, naming the file and line.
    public static func read(
        _ source: DataSource,
        keepUser: (UInt64) -> Bool = { _ in true }
    ) throws -> LoadedData {
        var parser = LineParser(source: source)
        var state = ReadAccumulator(minRating: source.minRating)
        try LineReader.forEachLine(path: source.path) { number, line in
            guard !LineParsers.isBlankLine(line) else { return }
            do {
                try parser.parse(number: number, line: line)
            } catch let error as LineError {
                let problem = DataError(
                    .malformedLine, file: source.path, line: number,
                    message: error.message + " " + DataError.quote(line))
                guard source.onBadLine == .skip else { throw problem }
                state.skip(problem)
                return
            }
            state.commit(parser, keepUser: keepUser)
        }
        let format = parser.format.map(\.rawValue) ?? "empty"
        return state.finish(source: "\(source.path) (\(format))")
    }
}

/// Collects the output of parsed lines.
private struct ReadAccumulator {
    let minRating: Float?
    var data = LoadedData()
    var seenItems = Set<UInt64>()

    init(minRating: Float?) {
        self.minRating = minRating
    }

    /// Adds the parsed line: its items to the universe, and its interactions
    /// when the user is kept and the rating passes.
    mutating func commit(_ line: LineParser, keepUser: (UInt64) -> Bool) {
        for (key, name) in line.itemNames where data.names[key] == nil {
            data.names[key] = name
        }
        guard let user = line.parsed.first?.user else { return }
        let keep = keepUser(user)
        if keep, let name = line.userName, data.names[user] == nil {
            data.names[user] = name
        }
        for interaction in line.parsed {
            if seenItems.insert(interaction.item).inserted {
                data.items.append(interaction.item)
            }
            guard keep else { continue }
            if let minRating, !(interaction.rating >= minRating) { continue }
            data.interactions.append(interaction)
        }
    }

    mutating func skip(_ problem: DataError) {
        data.skippedLines += 1
        if data.skippedExamples.count < LoadedData.skippedExampleLimit {
            data.skippedExamples.append(problem.description)
        }
    }

    mutating func finish(source: String) -> LoadedData {
        data.source = source
        return data
    }
}
