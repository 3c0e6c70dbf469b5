/// Interactions read from a file or generated, with what a model and a report
/// need around them.
public struct LoadedData: Sendable, Hashable {
    /// Kept interactions, in file order.
    public var interactions: [Interaction]
    /// Every distinct item key of the source, in order of first appearance,
    /// including items seen only in lines of users not kept or below
    /// `minRating`: the item universe for negative sampling and ranking.
    public var items: [UInt64]
    /// Raw ids of non-numeric keys (numeric keys print as themselves).
    public var names: [UInt64: String]
    /// Lines dropped under `BadLinePolicy.skip`.
    public var skippedLines: Int
    /// The messages of the first few dropped lines (at most `skippedExampleLimit`).
    public var skippedExamples: [String]
    /// Where the data came from, for logs: a path and format, or a synthetic spec.
    public var source: String

    /// How many skipped-line messages are kept.
    public static let skippedExampleLimit = 5

    public init(
        interactions: [Interaction] = [],
        items: [UInt64] = [],
        names: [UInt64: String] = [:],
        skippedLines: Int = 0,
        skippedExamples: [String] = [],
        source: String = ""
    ) {
        self.interactions = interactions
        self.items = items
        self.names = names
        self.skippedLines = skippedLines
        self.skippedExamples = skippedExamples
        self.source = source
    }

    /// The id as it appeared in the data: the stored name of a non-numeric key,
    /// else the key in decimal.
    public func rawID(for key: UInt64) -> String {
        names[key] ?? String(key)
    }

    /// The distinct users of `interactions`, in order of first appearance.
    public func users() -> [UInt64] {
        var seen = Set<UInt64>()
        var result: [UInt64] = []
        for interaction in interactions where seen.insert(interaction.user).inserted {
            result.append(interaction.user)
        }
        return result
    }

    /// Several data sets as one (for example train, valid and test files given
    /// separately): interactions concatenated in the order given, items the
    /// ordered union, names merged, skip counts summed.
    public static func merge(_ parts: [LoadedData]) -> LoadedData {
        var merged = LoadedData()
        var seenItems = Set<UInt64>()
        for part in parts {
            merged.interactions.append(contentsOf: part.interactions)
            for item in part.items where seenItems.insert(item).inserted {
                merged.items.append(item)
            }
            merged.names.merge(part.names) { first, _ in first }
            merged.skippedLines += part.skippedLines
            let room = skippedExampleLimit - merged.skippedExamples.count
            merged.skippedExamples.append(contentsOf: part.skippedExamples.prefix(max(room, 0)))
        }
        merged.source = parts.map(\.source).joined(separator: " + ")
        return merged
    }
}
