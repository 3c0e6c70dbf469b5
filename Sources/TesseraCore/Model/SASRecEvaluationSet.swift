/// What a leave-one-out evaluation of a sequential model needs: per evaluated user the
/// history to encode and the candidate list (target first, then sampled negatives).
///
/// Built from `SequenceData` and a `SampledRankingEvaluator`: users with a held-out item for
/// `target` and a non-empty history, subsampled by `evaluator.selectUsers`; negatives avoid
/// every item the user interacted with (training, validation and test). Deterministic in
/// the evaluator's seed and the user keys. Use:
///
///     let set = SASRecEvaluationSet(data: data, target: .test, evaluator: evaluator)
///     let users = try model.encode(sequences: set.histories, rows: pulled(model.keys(forEncoding: set.histories)))
///     let keys = set.candidateKeys                                  // pull these item rows
///     let result = evaluator.evaluate(userVectors: users, candidates: set.candidates,
///                                     itemKeys: keys, itemRows: pulledItemRows, dim: model.dim)
public struct SASRecEvaluationSet: Sendable, Hashable {
    /// Evaluated user keys.
    public let users: [UInt64]
    /// Per user, the items before the target, oldest first (encode these).
    public let histories: [[UInt64]]
    /// Per user, `[target] + negatives`.
    public let candidates: [[UInt64]]

    public init(users: [UInt64], histories: [[UInt64]], candidates: [[UInt64]]) {
        precondition(users.count == histories.count && users.count == candidates.count, "one history and one candidate list per user")
        self.users = users
        self.histories = histories
        self.candidates = candidates
    }

    /// The evaluation of `target` over `data`'s users. Users are selected among *all* of
    /// `data`'s eligible users, then restricted to rows `userRows` if given (e.g. one
    /// worker's share), so shares of one `SequenceData` partition the same selection.
    public init(data: SequenceData, target: SequenceData.Target, evaluator: SampledRankingEvaluator, userRows: [Int]? = nil) {
        let eligible = data.users.indices.filter {
            data.target(target, ofUser: $0) != nil && !data.history(for: target, ofUser: $0).isEmpty
        }
        var selected = Set(evaluator.selectUsers(eligible.map { data.users[$0] }))
        if let userRows { selected.formIntersection(userRows.map { data.users[$0] }) }
        let rows = eligible
        var users: [UInt64] = [], histories: [[UInt64]] = [], candidates: [[UInt64]] = []
        for row in rows where selected.contains(data.users[row]) {
            let user = data.users[row]
            users.append(user)
            histories.append(data.history(for: target, ofUser: row))
            candidates.append(evaluator.candidates(user: user, target: data.target(target, ofUser: row)!,
                                                   items: data.items, interacted: data.interactedItems(ofUser: row)))
        }
        self.init(users: users, histories: histories, candidates: candidates)
    }

    /// Ascending unique keys of every candidate: the item rows to pull for scoring.
    public var candidateKeys: [UInt64] { SampledRankingEvaluator.candidateKeys(candidates) }
}
