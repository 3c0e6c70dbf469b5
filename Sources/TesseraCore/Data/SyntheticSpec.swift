/// The shape of a synthetic data set: sizes, planted structure and seed.
///
/// Users and items get latent vectors near one of `clusters` random centres;
/// each user draws distinct items with probability proportional to
/// `exp(u·v / temperature) × popularity^popularityAlpha`. The defaults give
/// about 30k implicit interactions (1000 users × 500 items) on which a
/// personalised model clearly beats popularity, which in turn beats random.
/// Decoding fills every absent key with its default.
public struct SyntheticSpec: Sendable, Hashable, Codable {
    /// Number of users; their keys are `1...users`.
    public var users: Int
    /// Number of items; their keys are `1...items`.
    public var items: Int
    /// Mean number of distinct items per user; each user's count varies around
    /// it (log-normal, σ = 0.5) and is clamped to
    /// `minInteractionsPerUser...items`.
    public var interactionsPerUser: Int
    /// The fewest items a user draws (capped by `items`).
    public var minInteractionsPerUser: Int
    /// Number of taste clusters the latent vectors gather around.
    public var clusters: Int
    /// Dimension of the planted latent vectors.
    public var latentDim: Int
    /// Spread of each vector around its cluster centre, relative to the
    /// centres' own length (0: every member equals its centre).
    public var noise: Float
    /// Softmax temperature of `u·v`; lower makes choices more predictable.
    public var temperature: Float
    /// Exponent of the Zipf item popularity (`popularity = 1 / rank`) in the
    /// choice weight; 0 turns popularity off.
    public var popularityAlpha: Float
    /// Seed of everything random; same spec, same data.
    public var seed: UInt64
    /// The last `newItems` item ids (`items - newItems + 1 … items`) are new:
    /// they are in the catalogue but have no interactions in the data, as
    /// freshly added items would (for exploration experiments). 0 by default.
    public var newItems: Int = 0
    /// Scenarios (1: none). With more, every interaction belongs to one scenario, and
    /// item tastes differ by scenario: the score adds `u·w[s][i] / temperature`, a
    /// scenario-specific item vector w of norm about `scenarioStrength` times the shared one's.
    public var scenarios: Int = 1
    public var scenarioStrength: Float = 1

    public init(
        users: Int = 1000,
        items: Int = 500,
        interactionsPerUser: Int = 30,
        minInteractionsPerUser: Int = 5,
        clusters: Int = 8,
        latentDim: Int = 16,
        noise: Float = 0.5,
        temperature: Float = 0.25,
        popularityAlpha: Float = 0.7,
        seed: UInt64 = 42
    ) {
        self.users = users
        self.items = items
        self.interactionsPerUser = interactionsPerUser
        self.minInteractionsPerUser = minInteractionsPerUser
        self.clusters = clusters
        self.latentDim = latentDim
        self.noise = noise
        self.temperature = temperature
        self.popularityAlpha = popularityAlpha
        self.seed = seed
    }

    /// Throws a `DataError` (file `synthetic`) naming the first setting out of range.
    public func validate() throws {
        func check(_ ok: Bool, _ message: String) throws {
            if !ok { throw DataError(.invalidArgument, file: "synthetic", message: message) }
        }
        try check(users >= 1, "users must be at least 1, got \(users)")
        try check(items >= 1, "items must be at least 1, got \(items)")
        try check(interactionsPerUser >= 1, "interactionsPerUser must be at least 1, got \(interactionsPerUser)")
        try check(minInteractionsPerUser >= 1, "minInteractionsPerUser must be at least 1, got \(minInteractionsPerUser)")
        try check(clusters >= 1, "clusters must be at least 1, got \(clusters)")
        try check(latentDim >= 1, "latentDim must be at least 1, got \(latentDim)")
        try check(noise >= 0 && noise.isFinite, "noise must be a finite number >= 0, got \(noise)")
        try check(temperature > 0 && temperature.isFinite, "temperature must be a finite number > 0, got \(temperature)")
        try check(
            popularityAlpha >= 0 && popularityAlpha.isFinite,
            "popularityAlpha must be a finite number >= 0, got \(popularityAlpha)")
        try check(newItems >= 0 && newItems < items, "newItems must be in 0..<items, got \(newItems)")
        try check(scenarios >= 1 && scenarios <= 64, "scenarios must be in 1...64, got \(scenarios)")
        try check(scenarioStrength >= 0 && scenarioStrength.isFinite, "scenarioStrength must be a finite number >= 0, got \(scenarioStrength)")
    }

    /// Whether `item` is one of the new items (no interactions in the data).
    public func isNew(item: UInt64) -> Bool {
        newItems > 0 && item > UInt64(items - newItems) && item <= UInt64(items)
    }

    private enum CodingKeys: String, CodingKey {
        case users, items, interactionsPerUser, minInteractionsPerUser, clusters, latentDim
        case noise, temperature, popularityAlpha, seed, newItems, scenarios, scenarioStrength
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = SyntheticSpec()
        self.init(
            users: try c.decodeIfPresent(Int.self, forKey: .users) ?? d.users,
            items: try c.decodeIfPresent(Int.self, forKey: .items) ?? d.items,
            interactionsPerUser: try c.decodeIfPresent(Int.self, forKey: .interactionsPerUser) ?? d.interactionsPerUser,
            minInteractionsPerUser: try c.decodeIfPresent(Int.self, forKey: .minInteractionsPerUser)
                ?? d.minInteractionsPerUser,
            clusters: try c.decodeIfPresent(Int.self, forKey: .clusters) ?? d.clusters,
            latentDim: try c.decodeIfPresent(Int.self, forKey: .latentDim) ?? d.latentDim,
            noise: try c.decodeIfPresent(Float.self, forKey: .noise) ?? d.noise,
            temperature: try c.decodeIfPresent(Float.self, forKey: .temperature) ?? d.temperature,
            popularityAlpha: try c.decodeIfPresent(Float.self, forKey: .popularityAlpha) ?? d.popularityAlpha,
            seed: try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? d.seed
        )
        newItems = try c.decodeIfPresent(Int.self, forKey: .newItems) ?? 0
        scenarios = try c.decodeIfPresent(Int.self, forKey: .scenarios) ?? 1
        scenarioStrength = try c.decodeIfPresent(Float.self, forKey: .scenarioStrength) ?? 1
    }
}
