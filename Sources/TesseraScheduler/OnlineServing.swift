import Foundation
import Logging
import Synchronization
import TesseraCore
import TesseraRPC

/// `tessera.v1.Inference`: Recommend, Score and Feedback, served from the live
/// parameters on the shards.
///
/// Recommend looks up the user's row (creating nothing), asks every shard for
/// its top items against it plus an exploration pool (each shard scores the
/// items it owns with BLAS), merges the lists and lets the request's policy
/// rank them. Feedback goes to the durable log and is acknowledged once
/// written. Thread-safe; admission control bounds the calls in flight.
public final class OnlineServing: InferenceService {
    /// What serving needs once data and the shard map are ready.
    struct Model: Sendable {
        var parameters: ShardedParameterClient
        var items: [UInt64]
        /// Training interactions per item, for the unknown-user fallback.
        var popularity: Popularity
        var names: [UInt64: String]
        /// The ranking stage, when the config has one.
        var ranker: Ranker?
        /// The retrieval model: how a request becomes a query vector.
        var retrieval: RetrievalModel
        /// Users are grouped by cones of their query vector.
        var groups: UserGroups
        /// The data's scenarios, by id (a multi-scenario model's query depends on it).
        var scenarioNames: [String]
        /// Sequence models: each user's latest training items, oldest first.
        var histories: [UInt64: [UInt64]]
    }

    public let config: ClusterConfig
    private let hub: FeedbackHub
    private let logger: Logger
    private let ranker: ExplorationRanker
    private let model = Mutex<Model?>(nil)
    /// Items each user interacted with: training data, then clicks.
    private let seen = Mutex<[UInt64: Set<UInt64>]>([:])
    /// Items with interactions in the training data. Others (new items) are unknown to the
    /// model: their scores are not trusted, so policies rank them by their feedback alone.
    private let knownItems = Mutex<Set<UInt64>>([])
    private let modelVersion = Atomic<UInt64>(0)
    private let inFlight = Atomic<Int>(0)
    private let requests = Atomic<UInt64>(0)
    /// Dense weights (ranker, towers, attention) by table, refreshed from the shards at most every `denseRefresh`.
    private let denseRows = Mutex<[String: (rows: [Float], fetched: ContinuousClock.Instant)]>([:])
    private let denseRefresh = Duration.seconds(1)
    /// Largest id and list sizes a request may carry.
    static let maxIDBytes = 512
    static let maxListLength = 10_000

    public init(config: ClusterConfig, hub: FeedbackHub, logger: Logger) throws {
        self.config = config
        self.hub = hub
        self.logger = logger
        ranker = try ExplorationRanker(settings: config.serving.exploration)
    }

    /// Starts answering: the shards to ask, the catalogue, and what each user has seen.
    func start(parameters: ShardedParameterClient, data: PreparedData, retrieval: RetrievalModel,
               clicks: [(user: UInt64, item: UInt64)]) {
        var history: [UInt64: Set<UInt64>] = [:]
        for interaction in data.train { history[interaction.user, default: []].insert(interaction.item) }
        for click in clicks { history[click.user, default: []].insert(click.item) }
        seen.withLock { $0 = history }
        knownItems.withLock { $0 = Set(data.train.map(\.item)) }
        let ranker = Ranker.make(config: config, train: data.train, scenarios: max(1, data.scenarioNames.count))
        var histories: [UInt64: [UInt64]] = [:]
        if case .sasrec(let sequence) = retrieval {
            histories = EvaluationContext.histories(data.train).mapValues { Array($0.suffix(sequence.maxLength)) }
        }
        let groups = UserGroups(bits: config.serving.userGroupBits, dim: retrieval.vectorDim, seed: config.serving.seed)
        model.withLock {
            $0 = Model(parameters: parameters, items: data.items, popularity: Popularity(items: data.items, train: data.train),
                       names: data.names, ranker: ranker, retrieval: retrieval, groups: groups,
                       scenarioNames: data.scenarioNames, histories: histories)
        }
    }

    /// The base model's version: epochs of offline training completed.
    func setModelVersion(_ version: UInt64) {
        modelVersion.store(version, ordering: .relaxed)
    }

    // MARK: Recommend

    public func recommend(_ request: Tessera_V1_RecommendRequest, context: ServerContext) async throws -> Tessera_V1_RecommendResponse {
        try admit()
        defer { inFlight.subtract(1, ordering: .relaxed) }
        let maxK = config.serving.maxK
        guard request.k >= 1, request.k <= maxK else {
            throw RPCError(.invalidArgument, "k: must be between 1 and \(maxK) (serving.max_k), got \(request.k)")
        }
        if !request.userID.isEmpty { try checkID(request.userID, field: "user_id") }
        guard request.excludeItemIds.count <= Self.maxListLength else {
            throw RPCError(.invalidArgument, "exclude_item_ids: at most \(Self.maxListLength) ids, got \(request.excludeItemIds.count)")
        }
        let policy = try self.policy(named: request.policy, scenario: request.scenario)
        let model = try ready()
        let seed = request.hasSeed ? request.seed
            : Hashing.combine(config.serving.seed, requests.add(1, ordering: .relaxed).newValue)
        let deadline = context.call.remaining.map { $0 - .milliseconds(2) }
        if let deadline, deadline <= .zero {
            throw RPCError(.deadlineExceeded, "the request's deadline passed before it could be served")
        }

        let user = EntityKey.key(for: request.userID)
        var excluded = Set(request.excludeItemIds.map { EntityKey.key(for: $0) })
        if !request.includeSeen, let history = seen.withLock({ $0[user] }) { excluded.formUnion(history) }
        let k = Int(request.k)
        let settings = ranker.with(policy: policy).settings
        var perShardCandidates = settings.modelCandidateCount(k: k)
        if model.ranker != nil {
            // The ranking stage re-scores the best retrieval candidates: fetch enough of them.
            perShardCandidates = max(perShardCandidates, (config.ranking.candidates + 1) / 2)
        }
        let shards = max(1, model.parameters.routing.shardIDs.count)
        let poolPerShard = (settings.explorePoolCount(k: k) + shards - 1) / shards

        guard request.recentItemIds.count <= Self.maxListLength else {
            throw RPCError(.invalidArgument, "recent_item_ids: at most \(Self.maxListLength) ids, got \(request.recentItemIds.count)")
        }
        if request.userID.isEmpty && !(model.retrieval.usesHistory && !request.recentItemIds.isEmpty) {
            throw RPCError(.invalidArgument, "user_id: must not be empty (only a sequence model can answer from recent_item_ids alone)")
        }
        let recent = request.recentItemIds.map { EntityKey.key(for: $0) }
        if !request.includeSeen { excluded.formUnion(recent) }
        let query = try await queryVector(user: user, recent: recent, scenario: request.scenario, model: model)
        let known = query != nil
        let rows = query ?? [Float](repeating: 0, count: model.retrieval.vectorDim)
        let group = known ? model.groups.group(of: rows[...]) : model.groups.coldGroup
        let options = CallOptions(timeout: deadline ?? .seconds(10))
        let answers = try await model.parameters.scoreItems(
            table: config.servingTable, query: rows,
            k: known ? perShardCandidates : 0, exclude: Array(excluded), explorePool: poolPerShard,
            seed: seed, userGroup: group, options: options)

        var candidates: [ExplorationCandidate] = []
        var totalImpressions = 0.0
        let knownItems = self.knownItems.withLock { $0 }
        for answer in answers {
            totalImpressions += Double(answer.totalImpressions)
            for item in answer.items {
                // A score means something only for a known user and an item with evidence.
                let trusted = known && knownItems.contains(item.key)
                candidates.append(ExplorationCandidate(
                    item: item.key, modelScore: trusted ? item.score : nil,
                    source: item.explorePool ? .pool : .model,
                    impressions: Double(item.impressions), clicks: Double(item.clicks),
                    groupImpressions: Double(item.groupImpressions), groupClicks: Double(item.groupClicks)))
            }
        }
        if !known {
            // No vector for this user: the most popular unseen items are the "model" candidates.
            let popular = model.popularity.top(k: perShardCandidates, excluding: excluded)
            let counts = Dictionary(uniqueKeysWithValues: zip(model.popularity.items, model.popularity.counts))
            candidates = popular.map { item in
                ExplorationCandidate(item: item, modelScore: Float(log1p(Double(counts[item] ?? 0))), source: .model)
            } + candidates
        }
        if known, let stage = model.ranker {
            candidates = try await rerank(candidates, user: rows, stage: stage, parameters: model.parameters,
                                          scenario: UInt32(config.serving.scenarioIndex(of: request.scenario)))
        }
        var rng = SplitMix64(seed: seed)
        let ranked = ranker.with(policy: policy).rank(candidates, k: k, totalImpressions: totalImpressions, using: &rng)

        var response = Tessera_V1_RecommendResponse()
        response.modelVersion = modelVersion.load(ordering: .relaxed)
        response.feedbackOffset = hub.reflectedOffset
        response.popularityFallback = !known
        response.policy = policy.rawValue
        response.seed = seed
        response.items = ranked.map { item in
            var scored = Tessera_V1_ScoredItem()
            scored.itemID = model.names[item.item] ?? String(item.item)
            scored.score = item.score
            scored.modelScore = item.modelScore ?? 0
            scored.explored = item.explored
            return scored
        }
        let explored = response.items.filter(\.explored).map(\.itemID)
        if !explored.isEmpty {
            logger.info("explored", metadata: ["user": "\(request.userID)", "policy": "\(policy.rawValue)",
                                               "seed": "\(seed)", "items": "\(explored.joined(separator: ","))"])
        }
        return response
    }

    /// Replaces the model scores of the best retrieval candidates with the ranking stage's.
    private func rerank(_ candidates: [ExplorationCandidate], user: [Float], stage: Ranker, parameters: ShardedParameterClient,
                        scenario: UInt32) async throws -> [ExplorationCandidate] {
        let scored = candidates.indices.filter { candidates[$0].source == .model && candidates[$0].modelScore != nil }
            .sorted { (candidates[$0].modelScore ?? 0) > (candidates[$1].modelScore ?? 0) }
            .prefix(config.ranking.candidates)
        guard !scored.isEmpty else { return candidates }
        let items = scored.map { candidates[$0].item }
        let vectors = try await parameters.lookup(table: config.model.itemTable, keys: items, dim: user.count).rows
        let weights = stage.dense.flatten(try await dense(stage.dense, parameters: parameters))
        let scores = stage.score(user: user, items: items, itemVectors: vectors, scenario: scenario, parameters: weights)
        var reranked = candidates
        for (position, index) in scored.enumerated() { reranked[index].modelScore = scores[position] }
        return reranked
    }

    /// The rows of `blocks`, cached for `denseRefresh`.
    private func dense(_ blocks: DenseBlocks, parameters: ShardedParameterClient) async throws -> [Float] {
        if let cached = denseRows.withLock({ $0[blocks.table] }), ContinuousClock.now - cached.fetched < denseRefresh {
            return cached.rows
        }
        let rows = try await parameters.pull(table: blocks.table, keys: blocks.keys, dim: blocks.blockSize)
        denseRows.withLock { $0[blocks.table] = (rows, ContinuousClock.now) }
        return rows
    }

    /// The request's query vector, or nil when the model knows nothing to build it from
    /// (an unknown user; no known recent item for a sequence model). Creates no rows.
    private func queryVector(user: UInt64, recent: [UInt64], scenario: String, model: Model) async throws -> [Float]? {
        let retrieval = model.retrieval
        let scenarioID = model.scenarioNames.firstIndex(of: scenario) ?? 0
        var query = RetrievalModel.Query(user: user, history: [], scenario: scenarioID)
        if case .sasrec(let sequence) = retrieval {
            let asked = recent.isEmpty ? model.histories[user] ?? [] : Array(recent.suffix(sequence.maxLength))
            let unique = Array(Set(asked)).sorted()
            guard !unique.isEmpty else { return nil }
            let missingRows = try await model.parameters.lookup(table: sequence.itemTable, keys: unique, dim: sequence.dim).missing
            let missing = Set(missingRows.map { unique[$0] })
            query.history = asked.filter { !missing.contains($0) }
            guard !query.history.isEmpty else { return nil }
        }
        var rows: [String: [Float]] = [:]
        for (table, keys) in retrieval.queryKeys([query]) {
            if let blocks = retrieval.dense, blocks.table == table {
                rows[table] = try await dense(blocks, parameters: model.parameters)
                continue
            }
            guard let dim = config.table(named: table)?.dim else { throw RPCError(.internal, "no table '\(table)' in the config") }
            let (found, missing) = try await model.parameters.lookup(table: table, keys: keys, dim: dim)
            guard missing.isEmpty else { return nil }
            rows[table] = found
        }
        return try retrieval.queryVectors([query], rows: rows)
    }

    // MARK: Score

    public func score(_ request: Tessera_V1_ScoreRequest, context: ServerContext) async throws -> Tessera_V1_ScoreResponse {
        try admit()
        defer { inFlight.subtract(1, ordering: .relaxed) }
        try checkID(request.userID, field: "user_id")
        guard request.itemIds.count <= Self.maxListLength else {
            throw RPCError(.invalidArgument, "item_ids: at most \(Self.maxListLength) ids, got \(request.itemIds.count)")
        }
        for (index, id) in request.itemIds.enumerated() { try checkID(id, field: "item_ids[\(index)]") }
        _ = try policy(named: "", scenario: request.scenario)
        let model = try ready()
        let user = EntityKey.key(for: request.userID)
        let items = request.itemIds.map { EntityKey.key(for: $0) }
        let dim = model.retrieval.vectorDim
        let query = try await queryVector(user: user, recent: [], scenario: request.scenario, model: model)
        let (itemRows, itemMissing) = try await model.parameters.lookup(table: config.servingTable, keys: items, dim: dim)
        let userRows = query ?? []
        let unknownItems = Set(itemMissing)
        var response = Tessera_V1_ScoreResponse()
        response.userKnown = query != nil
        response.modelVersion = modelVersion.load(ordering: .relaxed)
        response.feedbackOffset = hub.reflectedOffset
        response.known = items.indices.map { !unknownItems.contains($0) }
        response.scores = items.indices.map { i in
            guard response.userKnown, !unknownItems.contains(i) else { return 0 }
            return (0..<dim).reduce(Float(0)) { $0 + userRows[$1] * itemRows[i * dim + $1] }
        }
        return response
    }

    // MARK: Feedback

    public func feedback(_ request: Tessera_V1_FeedbackRequest, context: ServerContext) async throws -> Tessera_V1_FeedbackResponse {
        try admit()
        defer { inFlight.subtract(1, ordering: .relaxed) }
        try checkID(request.userID, field: "user_id")
        try checkID(request.itemID, field: "item_id")
        switch request.event {
        case .impression, .click, .rating: break
        default:
            throw RPCError(.invalidArgument, "event: must be FEEDBACK_TYPE_IMPRESSION, FEEDBACK_TYPE_CLICK or FEEDBACK_TYPE_RATING, got \(request.event.rawValue)")
        }
        guard request.value.isFinite else {
            throw RPCError(.invalidArgument, "value: must be a finite number, got \(request.value)")
        }
        _ = try policy(named: "", scenario: request.scenario)
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        guard request.timestampMs >= 0 else {
            throw RPCError(.invalidArgument, "timestamp_ms: must not be negative, got \(request.timestampMs)")
        }
        guard request.timestampMs <= now + 60_000 else {
            throw RPCError(.invalidArgument, "timestamp_ms: \(request.timestampMs) is more than a minute in the future (now \(now))")
        }
        var event = Tessera_V1_LoggedFeedback()
        event.event = request
        if event.event.timestampMs == 0 { event.event.timestampMs = now }
        event.receivedMs = now
        let offset = try await hub.append(event)
        if request.event == .click {
            let user = EntityKey.key(for: request.userID), item = EntityKey.key(for: request.itemID)
            seen.withLock { _ = $0[user, default: []].insert(item) }
        }
        var response = Tessera_V1_FeedbackResponse()
        response.offset = offset
        return response
    }

    // MARK: Checks

    private func admit() throws {
        let now = inFlight.add(1, ordering: .relaxed).newValue
        if now > config.serving.maxInFlight {
            inFlight.subtract(1, ordering: .relaxed)
            throw RPCError(.resourceExhausted, "overloaded: \(now - 1) calls in flight (serving.max_in_flight \(config.serving.maxInFlight)); retry with backoff")
        }
    }

    private func ready() throws -> Model {
        guard let model = model.withLock({ $0 }) else {
            throw RPCError(.unavailable, "serving is starting (waiting for the shards and the data); retry shortly")
        }
        return model
    }

    private func checkID(_ id: String, field: String) throws {
        guard !id.isEmpty else { throw RPCError(.invalidArgument, "\(field): must not be empty") }
        guard id.utf8.count <= Self.maxIDBytes else {
            throw RPCError(.invalidArgument, "\(field): longer than \(Self.maxIDBytes) bytes")
        }
    }

    private func policy(named name: String, scenario: String) throws -> ExplorationPolicy {
        let dataScenarios = model.withLock { $0?.scenarioNames } ?? []
        guard let scenarioPolicy = config.serving.policy(for: scenario)
                ?? (dataScenarios.contains(scenario) ? config.serving.exploration.policy : nil) else {
            let known = ([""] + config.serving.scenarios.keys.sorted() + dataScenarios).map { "'\($0)'" }.joined(separator: ", ")
            throw RPCError(.invalidArgument, "scenario: unknown scenario '\(scenario)' (known: \(known))")
        }
        guard !name.isEmpty else { return scenarioPolicy }
        do {
            return try ExplorationPolicy(parsing: name)
        } catch {
            throw RPCError(.invalidArgument, "policy: \(error.message)")
        }
    }
}
