import Foundation

/// The recommendations file (`--export-recs`): one line per (user, rank),
///
///     user rank item score
///
/// four fields separated by single spaces: raw user id, rank (1, 2, 3, … for each
/// user, in order; one user's lines may be interleaved with other users'), raw item
/// id, and the score as a decimal float (`3.1416`, `1e-05`, `nan`). Lines end with
/// `\n` (a trailing `\r` is tolerated); empty lines are skipped. Example:
///
///     42 1 318 3.1416
///     42 2 50 2.5
///
/// The reader rejects, naming file and line: a wrong field count or empty field, a
/// rank that is not a positive integer, a score that is not a number, a duplicate
/// (user, rank), a rank out of order or skipping one, and an item listed twice for
/// one user.
public enum RecommendationFile {
    /// Writes `lists` in order. Throws `invalidArgument` for an id that is empty or
    /// holds whitespace, `io` when the file cannot be written.
    public static func write(_ lists: [RecommendationList], to url: URL) throws(EvaluationError) {
        let text = try format(lists)
        do {
            try Data(text.utf8).write(to: url, options: .atomic)
        } catch {
            throw EvaluationError(.io, "cannot write recommendations to \(url.path)", cause: error)
        }
    }

    /// The file's text for `lists`. Throws `invalidArgument` for an unwritable id.
    public static func format(_ lists: [RecommendationList]) throws(EvaluationError) -> String {
        var text = ""
        for list in lists {
            try checkID(list.user, "user")
            for (offset, item) in list.items.enumerated() {
                try checkID(item, "item")
                text += "\(list.user) \(offset + 1) \(item) \(list.scores[offset])\n"
            }
        }
        return text
    }

    /// Reads a file as user → ranked raw item ids.
    public static func read(from url: URL) throws(EvaluationError) -> [String: [String]] {
        var result: [String: [String]] = [:]
        for list in try readLists(from: url) { result[list.user] = list.items }
        return result
    }

    /// Reads a file as lists with scores, users in order of first appearance.
    public static func readLists(from url: URL) throws(EvaluationError) -> [RecommendationList] {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw EvaluationError(.io, "cannot read recommendations from \(url.path)", cause: error)
        }
        return try parse(String(decoding: data, as: UTF8.self), file: url.path)
    }

    /// Parses the file format from `text`; `file` names the source in errors.
    public static func parse(_ text: String, file: String = "<recommendations>") throws(EvaluationError) -> [RecommendationList] {
        var lists: [RecommendationList] = []
        var position: [String: Int] = [:]  // user → index in lists (and below)
        var rankLines: [[Int]] = []        // line of each rank, per list
        var itemRanks: [[String: Int]] = [] // rank of each item, per list
        var lineNumber = 0
        for rawLine in text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = rawLine.last == UInt8(ascii: "\r") ? rawLine.dropLast() : rawLine
            if line.isEmpty { continue }
            func fail(_ message: String) -> EvaluationError {
                EvaluationError(.malformedFile, "\(file):\(lineNumber): \(message)")
            }
            let fields = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
            guard fields.count == 4, !fields.contains(where: \.isEmpty) else {
                throw fail("expected `user rank item score` separated by single spaces, got \"\(String(decoding: line, as: UTF8.self))\"")
            }
            if fields.contains(where: { $0.contains(where: isSeparator) }) {
                throw fail("fields must be separated by single spaces, got \"\(String(decoding: line, as: UTF8.self))\"")
            }
            let user = String(decoding: fields[0], as: UTF8.self)
            let item = String(decoding: fields[2], as: UTF8.self)
            let rankText = String(decoding: fields[1], as: UTF8.self)
            let scoreText = String(decoding: fields[3], as: UTF8.self)
            guard let rank = Int(rankText), rank >= 1 else {
                throw fail("rank \"\(rankText)\" is not a positive integer")
            }
            guard let score = Float(scoreText) else {
                throw fail("score \"\(scoreText)\" is not a number")
            }
            let index: Int
            if let known = position[user] {
                index = known
            } else {
                index = lists.count
                position[user] = index
                lists.append(RecommendationList(user: user, items: [], scores: []))
                rankLines.append([])
                itemRanks.append([:])
            }
            let previous = rankLines[index].count
            if rank <= previous {
                throw fail("duplicate rank \(rank) for user \(user) (first on line \(rankLines[index][rank - 1]))")
            }
            if rank != previous + 1 {
                throw fail("rank \(rank) for user \(user) follows rank \(previous); ranks must run 1, 2, 3, … in order")
            }
            if let earlier = itemRanks[index][item] {
                throw fail("item \(item) appears twice for user \(user) (ranks \(earlier) and \(rank))")
            }
            rankLines[index].append(lineNumber)
            itemRanks[index][item] = rank
            lists[index].items.append(item)
            lists[index].scores.append(score)
        }
        return lists
    }

    /// Bytes that would split a line or a field: ASCII whitespace.
    private static func isSeparator(_ byte: UInt8) -> Bool {
        byte == 0x20 || (0x09...0x0D).contains(byte)
    }

    private static func checkID(_ id: String, _ kind: String) throws(EvaluationError) {
        if id.isEmpty || id.utf8.contains(where: isSeparator) {
            throw EvaluationError(.invalidArgument, "\(kind) id \"\(id)\" cannot be written: it is empty or holds ASCII whitespace")
        }
    }
}
