import Foundation
import TesseraCore

/// Helpers shared by the exploration tests (namespaced to avoid clashing with
/// other test files of the target).
enum ExploreSupport {
    /// |a − b| ≤ tolerance.
    static func close(_ a: Double, _ b: Double, _ tolerance: Double = 1e-9) -> Bool {
        abs(a - b) <= tolerance
    }

    /// A small planted population: 200 users × 200 items of the default spec shape.
    static let spec = SyntheticSpec(users: 200, items: 200)

    static func generator() throws -> SyntheticGenerator {
        try SyntheticGenerator(spec: spec)
    }

    static func population() throws -> SimulatedPopulation {
        try SimulatedPopulation(generator: generator())
    }

    /// A model candidate with counters.
    static func candidate(_ item: UInt64, _ score: Float?, _ source: ExplorationCandidate.Source = .model,
                          n: Double = 0, c: Double = 0, gn: Double = 0, gc: Double = 0) -> ExplorationCandidate {
        ExplorationCandidate(item: item, modelScore: score, source: source, impressions: n, clicks: c,
                             groupImpressions: gn, groupClicks: gc)
    }

    /// `count` model candidates with distinct descending scores (item i scores −i/10), then `pool` pool items.
    static func candidates(model count: Int, pool: Int = 0, poolScore: Float? = -5) -> [ExplorationCandidate] {
        (0..<count).map { candidate(UInt64($0 + 1), -Float($0) / 10) }
            + (0..<pool).map { candidate(UInt64(1000 + $0), poolScore, .pool) }
    }

    static func ranker(_ policy: ExplorationPolicy, _ adjust: (inout ExplorationSettings) -> Void = { _ in })
        throws -> ExplorationRanker {
        var settings = ExplorationSettings(policy: policy)
        adjust(&settings)
        return try ExplorationRanker(settings: settings)
    }
}
