import Foundation

/// Where to read item features: a CSV with a header, one row per item, and a
/// column holding several values (MovieLens `movies.csv`: `movieId,title,genres`
/// with genres like `Adventure|Animation|Children`).
public struct ItemFeatureSource: Sendable, Hashable, Codable {
    public var path: String
    /// Column with the item id (as in the interaction data).
    public var idColumn = "movieId"
    /// Column with the feature values.
    public var column = "genres"
    /// Separator between values in that column.
    public var separator = "|"

    public init(path: String, idColumn: String = "movieId", column: String = "genres", separator: String = "|") {
        self.path = path
        self.idColumn = idColumn
        self.column = column
        self.separator = separator
    }
}

/// Categorical features of items (e.g. genres), as feature keys per item key.
///
/// Feature keys hash `"<column>=<value>"` (see `EntityKey`), so a model can keep
/// one embedding per feature value in a table on the shards.
public struct ItemFeatures: Sendable {
    /// Item key → its feature values, in file order.
    public private(set) var values: [UInt64: [String]] = [:]

    public init(values: [UInt64: [String]] = [:]) {
        self.values = values
    }

    /// Reads `source`; errors name the file and line.
    public static func read(_ source: ItemFeatureSource) throws -> ItemFeatures {
        var features = ItemFeatures()
        var idIndex = -1, valueIndex = -1, width = 0
        var fields: [FieldRange] = []
        try LineReader.forEachLine(path: source.path) { number, line in
            if LineParsers.isBlankLine(line) { return }
            do {
                try LineParsers.splitDelimited(line, delimiter: UInt8(ascii: ","), quotes: true, into: &fields)
            } catch let error as LineError {
                throw DataError(.malformedLine, file: source.path, line: number, message: error.message + " " + DataError.quote(line))
            }
            if idIndex < 0 {
                let names = fields.map { LineParsers.string(line, $0) }
                guard let id = names.firstIndex(of: source.idColumn), let value = names.firstIndex(of: source.column) else {
                    throw DataError(.malformedFile, file: source.path, line: number,
                                    message: "the header needs columns \"\(source.idColumn)\" and \"\(source.column)\"; found \(names.map { "\"\($0)\"" }.joined(separator: ", "))")
                }
                (idIndex, valueIndex, width) = (id, value, names.count)
                return
            }
            guard fields.count == width else {
                throw DataError(.malformedLine, file: source.path, line: number,
                                message: "expected \(width) fields as in the header, found \(fields.count) " + DataError.quote(line))
            }
            let id = LineParsers.string(line, fields[idIndex])
            let raw = LineParsers.string(line, fields[valueIndex])
            let parts = raw.split(separator: Character(source.separator)).map { $0.trimmingCharacters(in: .whitespaces) }
            features.values[EntityKey.key(for: id)] = parts.filter { !$0.isEmpty }
        }
        return features
    }

    /// The feature keys of `item` (empty when it has none).
    public func keys(of item: UInt64, column: String = "genres") -> [UInt64] {
        (values[item] ?? []).map { Self.key(column: column, value: $0) }
    }

    /// The key of one feature value.
    public static func key(column: String, value: String) -> UInt64 {
        EntityKey.key(for: "\(column)=\(value)")
    }
}

/// Assigns each interaction to a scenario by its item's first feature value,
/// through named groups of values (e.g. genre groups for MovieLens).
///
/// Scenario ids follow the order of `groups`; items whose first value is in no
/// group, or who have no features, go to one more scenario, `other`.
public struct ScenarioGrouping: Sendable, Hashable, Codable {
    /// Scenario names in id order, each with the feature values that select it.
    public var groups: [Group]

    public struct Group: Sendable, Hashable, Codable {
        public var name: String
        public var values: [String]

        public init(name: String, values: [String]) {
            self.name = name
            self.values = values
        }
    }

    public init(groups: [Group]) {
        self.groups = groups
    }

    /// MovieLens genre groups used by Tessera's multi-scenario benchmark:
    /// `action` (Action, Adventure, Sci-Fi, Thriller, War, Western, Crime),
    /// `comedy` (Comedy, Romance, Musical, Children, Animation),
    /// `drama` (Drama, Documentary, Film-Noir, Mystery, Horror, Fantasy, IMAX) — by each movie's first listed genre.
    public static let movieLensGenres = ScenarioGrouping(groups: [
        Group(name: "action", values: ["Action", "Adventure", "Sci-Fi", "Thriller", "War", "Western", "Crime"]),
        Group(name: "comedy", values: ["Comedy", "Romance", "Musical", "Children", "Animation"]),
        Group(name: "drama", values: ["Drama", "Documentary", "Film-Noir", "Mystery", "Horror", "Fantasy", "IMAX"]),
    ])

    /// Scenario names in id order, `other` last.
    public var names: [String] { groups.map(\.name) + ["other"] }

    /// The scenario id of `item`.
    public func scenario(of item: UInt64, features: ItemFeatures) -> UInt32 {
        guard let first = features.values[item]?.first,
              let index = groups.firstIndex(where: { $0.values.contains(first) }) else {
            return UInt32(groups.count)
        }
        return UInt32(index)
    }

    /// `interactions` with their `scenario` set from their item.
    public func assign(_ interactions: [Interaction], features: ItemFeatures) -> [Interaction] {
        interactions.map { interaction in
            var copy = interaction
            copy.scenario = scenario(of: interaction.item, features: features)
            return copy
        }
    }
}
