/// The settings for reading one interaction file.
///
/// `DataSource(path: "ratings.csv")` reads MovieLens' `ratings.csv` as it is
/// published. Decoding fills every absent key with its default, so a config
/// file states only what differs.
public struct DataSource: Sendable, Hashable, Codable {
    /// The file to read.
    public var path: String
    /// The file's layout; `.auto` decides from the path and first line.
    public var format: DataFormat
    /// Header column names, used by `.csv` and `.tsv` only.
    public var columns: ColumnNames
    /// When set, only interactions with `rating >= minRating` are kept (their
    /// items still count in `LoadedData.items`).
    public var minRating: Float?
    /// What to do with a line that cannot be parsed.
    public var onBadLine: BadLinePolicy

    public init(
        path: String,
        format: DataFormat = .auto,
        columns: ColumnNames = ColumnNames(),
        minRating: Float? = nil,
        onBadLine: BadLinePolicy = .error
    ) {
        self.path = path
        self.format = format
        self.columns = columns
        self.minRating = minRating
        self.onBadLine = onBadLine
    }

    private enum CodingKeys: String, CodingKey {
        case path, format, columns, minRating, onBadLine
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            path: try c.decode(String.self, forKey: .path),
            format: try c.decodeIfPresent(DataFormat.self, forKey: .format) ?? .auto,
            columns: try c.decodeIfPresent(ColumnNames.self, forKey: .columns) ?? ColumnNames(),
            minRating: try c.decodeIfPresent(Float.self, forKey: .minRating),
            onBadLine: try c.decodeIfPresent(BadLinePolicy.self, forKey: .onBadLine) ?? .error
        )
    }
}

/// Which header columns of a `.csv` or `.tsv` file hold what. Names match the
/// header exactly (after trimming spaces and quotes).
///
/// `user` and `item` must be in the header. `rating` and `timestamp` are used
/// when present: a missing rating column gives rating 1, a missing timestamp
/// column gives the line number; nil ignores the column even when present.
/// `scenario`, when set, must be in the header and hold a small non-negative
/// integer; nil gives scenario 0.
public struct ColumnNames: Sendable, Hashable, Codable {
    public var user: String
    public var item: String
    public var rating: String?
    public var timestamp: String?
    public var scenario: String?

    /// The defaults match MovieLens: `userId,movieId,rating,timestamp`.
    public init(
        user: String = "userId",
        item: String = "movieId",
        rating: String? = "rating",
        timestamp: String? = "timestamp",
        scenario: String? = nil
    ) {
        self.user = user
        self.item = item
        self.rating = rating
        self.timestamp = timestamp
        self.scenario = scenario
    }

    /// The header `InteractionWriter` writes: `user,item,rating,timestamp`
    /// (and `scenario` when the data has scenarios).
    public static let written = ColumnNames(
        user: "user", item: "item", rating: "rating", timestamp: "timestamp", scenario: nil
    )

    private enum CodingKeys: String, CodingKey {
        case user, item, rating, timestamp, scenario
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = ColumnNames()
        self.init(
            user: try c.decodeIfPresent(String.self, forKey: .user) ?? defaults.user,
            item: try c.decodeIfPresent(String.self, forKey: .item) ?? defaults.item,
            rating: c.contains(.rating) ? try c.decodeIfPresent(String.self, forKey: .rating) : defaults.rating,
            timestamp: c.contains(.timestamp)
                ? try c.decodeIfPresent(String.self, forKey: .timestamp) : defaults.timestamp,
            scenario: try c.decodeIfPresent(String.self, forKey: .scenario)
        )
    }

    /// Writes absent optional columns as null, so that decoding gives nil back
    /// instead of the default name.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(user, forKey: .user)
        try c.encode(item, forKey: .item)
        try c.encode(rating, forKey: .rating)
        try c.encode(timestamp, forKey: .timestamp)
        try c.encodeIfPresent(scenario, forKey: .scenario)
    }
}
