import CBLAS

/// Produces full score rows for a block of users: the extension point through
/// which any model is evaluated. Two-tower and sequence models produce user
/// vectors and use `DotProductScorer`; a model that is not a dot product
/// implements this protocol or wraps a closure in `ClosureScorer`.
public protocol RankingScorer {
    /// Writes the scores of user rows `users` (rows of the evaluation set's `users`)
    /// against all `itemCount` items into `scores`, row-major:
    /// `scores[(u - users.lowerBound) * itemCount + i]`. Higher is better.
    /// `scores.count == users.count * itemCount`. Called from one thread at a time.
    func score(users: Range<Int>, itemCount: Int, into scores: UnsafeMutableBufferPointer<Float>)

    /// Item embeddings for intra-list diversity, if the scorer has them.
    var itemEmbeddings: ItemEmbeddings? { get }
}

extension RankingScorer {
    public var itemEmbeddings: ItemEmbeddings? { nil }
}

/// Scores by inner product of user and item vectors, one `cblas_sgemm` per block:
/// `S[block] = U[block] · Iᵀ`.
///
/// `userVectors` is row-major `users × dim` in the evaluation set's user order;
/// `itemVectors` is row-major `items × dim` in the set's item order.
public struct DotProductScorer: RankingScorer, Sendable {
    public let userVectors: [Float]
    public let itemVectors: [Float]
    public let dim: Int

    /// Preconditions: `dim >= 1`; both arrays hold whole rows.
    public init(userVectors: [Float], itemVectors: [Float], dim: Int) {
        precondition(dim >= 1, "dim must be at least 1, got \(dim)")
        precondition(userVectors.count % dim == 0, "user vectors are not whole rows of \(dim)")
        precondition(itemVectors.count % dim == 0, "item vectors are not whole rows of \(dim)")
        self.userVectors = userVectors
        self.itemVectors = itemVectors
        self.dim = dim
    }

    public var itemEmbeddings: ItemEmbeddings? {
        ItemEmbeddings(values: itemVectors, dim: dim)
    }

    public func score(users: Range<Int>, itemCount: Int, into scores: UnsafeMutableBufferPointer<Float>) {
        precondition(users.upperBound * dim <= userVectors.count, "no user vector for row \(users.upperBound - 1)")
        precondition(itemCount * dim == itemVectors.count, "\(itemVectors.count / dim) item vectors for \(itemCount) items")
        precondition(scores.count >= users.count * itemCount)
        guard !users.isEmpty, itemCount > 0 else { return }
        userVectors.withUnsafeBufferPointer { u in
            itemVectors.withUnsafeBufferPointer { v in
                cblas_sgemm(
                    CblasRowMajor, CblasNoTrans, CblasTrans,
                    Int32(users.count), Int32(itemCount), Int32(dim),
                    1, u.baseAddress! + users.lowerBound * dim, Int32(dim),
                    v.baseAddress!, Int32(dim),
                    0, scores.baseAddress!, Int32(itemCount)
                )
            }
        }
    }
}

/// The same score row for every user (popularity and other non-personal baselines).
public struct SharedScoreScorer: RankingScorer, Sendable {
    /// One score per item, in the evaluation set's item order.
    public let scores: [Float]

    public init(scores: [Float]) {
        self.scores = scores
    }

    public func score(users: Range<Int>, itemCount: Int, into output: UnsafeMutableBufferPointer<Float>) {
        precondition(itemCount == scores.count, "\(scores.count) shared scores for \(itemCount) items")
        scores.withUnsafeBufferPointer { row in
            for block in 0..<users.count {
                let target = output.baseAddress! + block * itemCount
                target.update(from: row.baseAddress!, count: itemCount)
            }
        }
    }
}

/// Adapts a closure with `RankingScorer.score`'s contract.
public struct ClosureScorer: RankingScorer {
    public let body: (Range<Int>, Int, UnsafeMutableBufferPointer<Float>) -> Void
    public let itemEmbeddings: ItemEmbeddings?

    public init(
        itemEmbeddings: ItemEmbeddings? = nil,
        _ body: @escaping (_ users: Range<Int>, _ itemCount: Int, _ scores: UnsafeMutableBufferPointer<Float>) -> Void
    ) {
        self.body = body
        self.itemEmbeddings = itemEmbeddings
    }

    public func score(users: Range<Int>, itemCount: Int, into scores: UnsafeMutableBufferPointer<Float>) {
        body(users, itemCount, scores)
    }
}
