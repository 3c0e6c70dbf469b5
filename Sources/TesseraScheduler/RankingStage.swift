import TesseraCore

/// Fitting the ranking stage at the end of offline training (see `RankerFitting`): the
/// validation users' retrieval candidates under the best epoch's vectors, labelled with
/// their validation items.
enum RankingStage {
    /// The candidate lists of `part` (a full-ranking validation part whose items are
    /// `data.items`): each evaluated user's top `candidates` by `userVectors · itemVectors`,
    /// training items masked.
    static func candidateLists(_ part: EvaluationPart, userVectors: [Float], itemVectors: [Float], candidates: Int,
                               dim: Int) throws -> [RankerFitting.CandidateList] {
        guard case .full(let set) = part.scoring, part.itemIndices == nil else { return [] }
        var lists: [RankerFitting.CandidateList] = []
        try FullRankingEvaluator(k: candidates).forEachTopK(
            set, scorer: DotProductScorer(userVectors: userVectors, itemVectors: itemVectors, dim: dim), onlyEvaluatedUsers: true
        ) { row, list in
            let relevant = Set(set.relevant(ofUser: row))
            var vectors: [Float] = []
            vectors.reserveCapacity(list.count * dim)
            for entry in list { vectors += itemVectors[(entry.index * dim)..<((entry.index + 1) * dim)] }
            lists.append(RankerFitting.CandidateList(
                user: Array(userVectors[(row * dim)..<((row + 1) * dim)]), items: list.map { set.items[$0.index] },
                itemVectors: vectors, relevant: list.map { relevant.contains(Int32($0.index)) }))
        }
        return lists
    }
}
