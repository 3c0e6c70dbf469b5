/// One SASRec training step: `count` left-padded sequences of `length` positions, with the
/// next item (positive) at every real position and the negatives to contrast it with:
/// either one sampled negative per position (the paper's binary cross-entropy) or one set
/// of sampled items shared by every position of the batch (sampled softmax).
///
/// Slots are sequence-major: slot `s * length + p` is position `p` of sequence `s` (the
/// row order of `SequenceMask` and the dense sequence layers). `inputs`, `positives` and
/// `negatives` hold indices into `itemKeys` (the unique item rows to pull, ascending), or
/// `-1` for padding; a slot is real iff its input is, and then its positive and negative
/// are real too. With shared negatives, `negatives` is empty and `sharedNegatives` holds
/// distinct indices into `itemKeys`. The last real position of a sequence predicts its
/// last training item.
public struct SASRecBatch: Sendable, Hashable {
    /// Unique item keys of the batch (inputs, positives and negatives), ascending.
    public let itemKeys: [UInt64]
    /// Positions per sequence (the model's `maxLength`).
    public let length: Int
    /// `count * length` indices into `itemKeys`: the item at each position, `-1` = padding.
    public let inputs: [Int32]
    /// `count * length`: the item that follows each input (the target), `-1` = padding.
    public let positives: [Int32]
    /// `count * length`: one sampled item the user did not interact with, `-1` = padding;
    /// empty when the batch has `sharedNegatives` instead.
    public let negatives: [Int32]
    /// Distinct sampled items every position is contrasted with (sampled softmax), as
    /// indices into `itemKeys`; empty for per-position negatives.
    public let sharedNegatives: [Int32]

    /// Number of sequences.
    public var count: Int { inputs.count / length }

    /// Real (non-padding) positions: the step's examples.
    public var examples: Int { inputs.reduce(0) { $0 + ($1 >= 0 ? 1 : 0) } }

    /// Per sequence, its number of real positions (they are the last ones).
    public var lengths: [Int] {
        (0..<count).map { s in inputs[(s * length)..<((s + 1) * length)].reduce(0) { $0 + ($1 >= 0 ? 1 : 0) } }
    }

    /// Builds a batch from item keys, one array per sequence, oldest first.
    ///
    /// `inputs[s]`, `positives[s]` and `negatives[s]` have equal counts `n <= length`; they
    /// fill the last `n` positions of sequence `s` (left padding). Typically `positives[s]`
    /// is `inputs[s]` shifted by one (`inputs = seq[0..<n]`, `positives = seq[1...n]`).
    public init(inputs: [[UInt64]], positives: [[UInt64]], negatives: [[UInt64]], length: Int) {
        precondition(length >= 1, "sequence length must be at least 1, got \(length)")
        precondition(inputs.count == positives.count && inputs.count == negatives.count,
                     "\(inputs.count) input, \(positives.count) positive and \(negatives.count) negative sequences")
        var keys: [UInt64] = []
        for s in inputs.indices {
            precondition(inputs[s].count <= length, "sequence \(s) has \(inputs[s].count) items, more than \(length) positions")
            precondition(positives[s].count == inputs[s].count && negatives[s].count == inputs[s].count,
                         "sequence \(s): inputs, positives and negatives differ in length")
            keys += inputs[s]
            keys += positives[s]
            keys += negatives[s]
        }
        let itemKeys = Array(Set(keys)).sorted()
        var index: [UInt64: Int32] = [:]
        index.reserveCapacity(itemKeys.count)
        for (i, key) in itemKeys.enumerated() { index[key] = Int32(i) }
        func slots(_ sequences: [[UInt64]]) -> [Int32] {
            var out = [Int32](repeating: -1, count: sequences.count * length)
            for (s, sequence) in sequences.enumerated() {
                let start = s * length + length - sequence.count
                for (p, key) in sequence.enumerated() { out[start + p] = index[key]! }
            }
            return out
        }
        self.init(itemKeys: itemKeys, length: length,
                  inputs: slots(inputs), positives: slots(positives), negatives: slots(negatives))
    }

    /// A batch from already-indexed slots. Preconditions (checked in debug builds): the
    /// slot arrays have `count * length` entries (`negatives` may instead be empty when
    /// `sharedNegatives` is not, and must be when it is not empty); indices are `-1` or
    /// below `itemKeys.count`; `itemKeys` ascending and unique; padding agrees across the
    /// slot arrays; `sharedNegatives` distinct and in range.
    public init(
        itemKeys: [UInt64], length: Int, inputs: [Int32], positives: [Int32], negatives: [Int32], sharedNegatives: [Int32] = []
    ) {
        precondition(length >= 1 && inputs.count % length == 0, "\(inputs.count) slots are not whole sequences of \(length)")
        precondition(positives.count == inputs.count, "slot arrays differ in size")
        precondition(sharedNegatives.isEmpty ? negatives.count == inputs.count : negatives.isEmpty,
                     "a batch has either one negative per slot or shared negatives")
        assert(zip(itemKeys, itemKeys.dropFirst()).allSatisfy { $0 < $1 }, "item keys must be ascending and unique")
        assert(inputs.indices.allSatisfy { i in
            let real = inputs[i] >= 0
            let negative = negatives.isEmpty ? inputs[i] : negatives[i]
            return (positives[i] >= 0) == real && (negative >= 0) == real
                && max(inputs[i], positives[i], negative) < Int32(itemKeys.count)
        }, "inputs, positives and negatives must share padding and index item keys")
        assert(Set(sharedNegatives).count == sharedNegatives.count
               && sharedNegatives.allSatisfy { $0 >= 0 && $0 < Int32(itemKeys.count) }, "shared negatives must be distinct item indices")
        self.itemKeys = itemKeys
        self.length = length
        self.inputs = inputs
        self.positives = positives
        self.negatives = negatives
        self.sharedNegatives = sharedNegatives
    }
}
