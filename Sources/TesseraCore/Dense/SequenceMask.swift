/// Which positions of a batch of fixed-length sequences are real and which are padding.
///
/// Sequence-major: position `p` of sequence `s` is row `s * length + p` of the matrices the
/// sequence layers take. Tessera's sequences are left-padded (the most recent item last),
/// which `init(leftPaddedLengths:length:)` builds; any other pattern may be given directly.
public struct SequenceMask: Sendable, Hashable {
    /// Number of sequences.
    public let batch: Int
    /// Positions per sequence (`seqLen`).
    public let length: Int
    /// `batch * length` flags, true where the position is real.
    public let valid: [Bool]

    /// Precondition: `valid.count == batch * length`.
    public init(batch: Int, length: Int, valid: [Bool]) {
        precondition(batch >= 0 && length >= 1, "mask needs batch >= 0 and length >= 1")
        precondition(valid.count == batch * length, "\(valid.count) flags for \(batch) sequences of \(length)")
        self.batch = batch
        self.length = length
        self.valid = valid
    }

    /// Sequence `s` has its `lengths[s]` real positions last: `length - lengths[s] ..< length`.
    /// Precondition: `0 <= lengths[s] <= length`.
    public init(leftPaddedLengths lengths: [Int], length: Int) {
        var valid = [Bool](repeating: false, count: lengths.count * length)
        for (s, n) in lengths.enumerated() {
            precondition(n >= 0 && n <= length, "sequence \(s) has \(n) items, more than \(length) positions")
            for p in (length - n)..<length { valid[s * length + p] = true }
        }
        self.init(batch: lengths.count, length: length, valid: valid)
    }

    /// Every position real.
    public static func full(batch: Int, length: Int) -> SequenceMask {
        SequenceMask(batch: batch, length: length, valid: [Bool](repeating: true, count: batch * length))
    }

    /// `batch * length`: the row count of matching matrices.
    public var rowCount: Int { batch * length }

    /// Whether position `position` of sequence `sequence` is real.
    public func isValid(sequence: Int, position: Int) -> Bool {
        valid[sequence * length + position]
    }

    /// Zeroes the rows of `m` that are padding. Precondition: `m.rows == rowCount`.
    public func zeroPadding(_ m: inout Matrix) {
        precondition(m.rows == rowCount, "matrix has \(m.rows) rows, mask \(rowCount)")
        let valid = self.valid
        m.zeroRows { !valid[$0] }
    }
}
