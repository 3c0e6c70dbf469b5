import Foundation

/// Simulated users with known click probabilities, for measuring exploration
/// policies against an oracle.
///
/// The true click probability of a (user, item) pair is
///
///     p(user, item) = sigmoid(scale · preference(user, item) + bias)
///
/// where `preference` is the planted `SyntheticGenerator.preferenceScore`
/// (or `u·v` for explicit vectors, or any matrix the caller supplies). By
/// default `scale` and `bias` are calibrated from the preferences themselves
/// (`Settings`): a user's best item clicks with p ≈ `topClickRate` (mean over
/// users, default 0.45) and the median pair with `typicalClickRate` (0.03).
/// On the default synthetic spec (1000 users × 500 items) this gives a mean
/// best-item rate of 0.45, a mean top-10 rate of 0.34, a median of 0.031 and
/// a mean over all pairs of 0.058.
///
/// Clicks on a shown list are independent Bernoulli draws, one per item, with
/// no position effect. Every item of the population is eligible by default,
/// including "new" items the serving side has no history or vector for: which
/// items are new is the caller's choice, the truth covers them all.
///
/// Holds a dense users × items table of probabilities (4 bytes per pair).
/// Immutable and `Sendable`.
public struct SimulatedPopulation: Sendable {
    /// How preferences map to click probabilities.
    public struct Settings: Sendable, Codable, Hashable {
        /// Target mean, over users, of the click probability of each user's best item, in (0, 1).
        public var topClickRate: Double
        /// Target click probability of the median (user, item) pair, in (0, topClickRate).
        public var typicalClickRate: Double

        public init(topClickRate: Double = 0.45, typicalClickRate: Double = 0.03) {
            self.topClickRate = topClickRate
            self.typicalClickRate = typicalClickRate
        }

        /// Throws an `ExplorationError` (`.invalidSetting`) naming the first setting out of range.
        public func validate() throws(ExplorationError) {
            guard typicalClickRate > 0, topClickRate < 1, typicalClickRate < topClickRate else {
                throw ExplorationError(.invalidSetting, "click rates need 0 < typicalClickRate < topClickRate < 1, got "
                                       + "typicalClickRate \(typicalClickRate), topClickRate \(topClickRate)")
            }
        }

        private enum CodingKeys: String, CodingKey { case topClickRate, typicalClickRate }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let d = Settings()
            let top = try c.decodeIfPresent(Double.self, forKey: .topClickRate) ?? d.topClickRate
            let typical = try c.decodeIfPresent(Double.self, forKey: .typicalClickRate) ?? d.typicalClickRate
            self.init(topClickRate: top, typicalClickRate: typical)
        }
    }

    /// The users, in row order.
    public let users: [UInt64]
    /// The items, in column order.
    public let items: [UInt64]
    /// Logit units per unit of preference.
    public let scale: Double
    /// Logit offset.
    public let bias: Double
    /// `users.count × items.count`, row-major.
    let probabilities: [Float]
    let userRows: [UInt64: Int]
    let itemColumns: [UInt64: Int]

    /// A population from a preference matrix and an explicit calibration.
    ///
    /// - Parameter preferences: `users.count × items.count` values, row-major.
    /// - Throws: `ExplorationError` (`.invalidArgument`) for empty or repeated
    ///   keys, a matrix of the wrong size, or non-finite values.
    public init(users: [UInt64], items: [UInt64], preferences: [Float], scale: Double, bias: Double)
        throws(ExplorationError) {
        try Self.check(users: users, items: items, preferences: preferences)
        guard scale.isFinite, bias.isFinite else {
            throw ExplorationError(.invalidArgument, "scale and bias must be finite, got \(scale) and \(bias)")
        }
        self.users = users
        self.items = items
        self.scale = scale
        self.bias = bias
        probabilities = preferences.map { Float(1 / (1 + exp(-(scale * Double($0) + bias)))) }
        userRows = Dictionary(uniqueKeysWithValues: users.enumerated().map { ($1, $0) })
        itemColumns = Dictionary(uniqueKeysWithValues: items.enumerated().map { ($1, $0) })
    }

    /// A population from a preference matrix, calibrated by `settings`.
    ///
    /// Solves `scale·q_top + bias = logit(topClickRate)` and
    /// `scale·q_median + bias = logit(typicalClickRate)`, where q_top is the
    /// mean over users of their largest preference and q_median the median
    /// preference (of at most 65,536 evenly spaced pairs). If every
    /// preference is equal, scale is 0 and every pair clicks with `typicalClickRate`.
    public init(users: [UInt64], items: [UInt64], preferences: [Float], settings: Settings = Settings())
        throws(ExplorationError) {
        try settings.validate()
        try Self.check(users: users, items: items, preferences: preferences)
        let (scale, bias) = Self.calibrate(preferences, rowLength: items.count, settings: settings)
        try self.init(users: users, items: items, preferences: preferences, scale: scale, bias: bias)
    }

    /// The planted preferences of `generator`'s users (default: all of
    /// `1...spec.users`) over all its items `1...spec.items`.
    /// Cost: O(users × items × latentDim).
    public init(generator: SyntheticGenerator, users: [UInt64]? = nil, settings: Settings = Settings())
        throws(ExplorationError) {
        let users = users ?? (1...UInt64(generator.spec.users)).map { $0 }
        var preferences: [Float] = []
        preferences.reserveCapacity(users.count * generator.spec.items)
        for user in users {
            guard let row = generator.preferenceScores(user: user) else {
                throw ExplorationError(.invalidArgument,
                                       "user \(user) is not in the generator's 1...\(generator.spec.users)")
            }
            preferences += row
        }
        try self.init(users: users, items: (1...UInt64(generator.spec.items)).map { $0 },
                      preferences: preferences, settings: settings)
    }

    /// Preferences `u·v` from explicit vectors (`dim` values per key, row-major).
    public init(users: [UInt64], userVectors: [Float], items: [UInt64], itemVectors: [Float], dim: Int,
                settings: Settings = Settings()) throws(ExplorationError) {
        guard dim > 0, userVectors.count == users.count * dim, itemVectors.count == items.count * dim else {
            throw ExplorationError(.invalidArgument, "vectors must hold \(users.count)×\(dim) user and "
                                   + "\(items.count)×\(dim) item values, "
                                   + "got \(userVectors.count) and \(itemVectors.count)")
        }
        var preferences = [Float](repeating: 0, count: users.count * items.count)
        for u in 0..<users.count {
            for i in 0..<items.count {
                var dot: Float = 0
                for d in 0..<dim { dot += userVectors[u * dim + d] * itemVectors[i * dim + d] }
                preferences[u * items.count + i] = dot
            }
        }
        try self.init(users: users, items: items, preferences: preferences, settings: settings)
    }

    private static func check(users: [UInt64], items: [UInt64], preferences: [Float]) throws(ExplorationError) {
        guard !users.isEmpty, !items.isEmpty else {
            throw ExplorationError(.invalidArgument, "a population needs at least one user and one item")
        }
        guard Set(users).count == users.count, Set(items).count == items.count else {
            throw ExplorationError(.invalidArgument, "user and item keys must be distinct")
        }
        guard preferences.count == users.count * items.count else {
            throw ExplorationError(.invalidArgument, "preferences must hold \(users.count)×\(items.count) values, "
                                   + "got \(preferences.count)")
        }
        guard preferences.allSatisfy(\.isFinite) else {
            throw ExplorationError(.invalidArgument, "preferences must be finite")
        }
    }

    private static func calibrate(_ preferences: [Float], rowLength: Int, settings: Settings) -> (Double, Double) {
        let rows = preferences.count / rowLength
        var top = 0.0
        for r in 0..<rows {
            top += Double(preferences[r * rowLength..<(r + 1) * rowLength].max() ?? 0)
        }
        top /= Double(rows)
        let stride = max(1, preferences.count / 65_536)
        var sample = Swift.stride(from: 0, to: preferences.count, by: stride).map { preferences[$0] }
        sample.sort()
        let median = Double(sample[sample.count / 2])
        let logit = { (p: Double) in log(p / (1 - p)) }
        guard top - median > 1e-9 else { return (0, logit(settings.typicalClickRate)) }
        let scale = (logit(settings.topClickRate) - logit(settings.typicalClickRate)) / (top - median)
        return (scale, logit(settings.typicalClickRate) - scale * median)
    }
}
