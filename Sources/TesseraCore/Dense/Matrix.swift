/// A dense, row-major matrix of `Float`: the value every dense layer takes and returns.
///
/// Element `(r, c)` is `values[r * cols + c]`. A value type with copy-on-write storage,
/// so passing a matrix to a layer or keeping it in a cache copies nothing until someone
/// writes to it. Batched layers treat rows as examples (or, for sequence layers,
/// `batch * seqLen` rows of positions, sequence-major). `Sendable`.
///
/// Invariant: `values.count == rows * cols`, with `rows >= 0` and `cols >= 0`.
public struct Matrix: Sendable, Hashable {
    /// Number of rows.
    public let rows: Int
    /// Number of columns (the row length and leading dimension).
    public let cols: Int
    /// The `rows * cols` entries, row-major. Outside the module, write through the subscript
    /// or `withUnsafeMutableBufferPointer`, which keep the count (no property observer here:
    /// one would make every element write copy the whole array).
    public internal(set) var values: [Float]

    /// A `rows x cols` matrix with every entry `value`.
    public init(rows: Int, cols: Int, repeating value: Float = 0) {
        precondition(rows >= 0 && cols >= 0, "negative matrix shape \(rows)x\(cols)")
        self.rows = rows
        self.cols = cols
        self.values = [Float](repeating: value, count: rows * cols)
    }

    /// A `rows x cols` matrix over existing row-major `values`.
    /// Precondition: `values.count == rows * cols`.
    public init(rows: Int, cols: Int, values: [Float]) {
        precondition(rows >= 0 && cols >= 0, "negative matrix shape \(rows)x\(cols)")
        precondition(values.count == rows * cols, "\(values.count) values for a \(rows)x\(cols) matrix")
        self.rows = rows
        self.cols = cols
        self.values = values
    }

    /// A `rows x cols` matrix whose entries `body` writes, skipping the zero fill (for BLAS
    /// outputs with `beta = 0`). Precondition, not checked: `body` writes every entry.
    init(rows: Int, cols: Int, writingEveryEntry body: (UnsafeMutableBufferPointer<Float>) -> Void) {
        precondition(rows >= 0 && cols >= 0, "negative matrix shape \(rows)x\(cols)")
        self.rows = rows
        self.cols = cols
        self.values = [Float](unsafeUninitializedCapacity: rows * cols) { buffer, initialized in
            body(buffer)
            initialized = rows * cols
        }
    }

    /// A `rows x cols` matrix of independent N(0, std²) entries drawn from `rng`.
    public static func randomNormal(rows: Int, cols: Int, std: Float = 1, using rng: inout SplitMix64) -> Matrix {
        var m = Matrix(rows: rows, cols: cols)
        for i in 0..<m.values.count { m.values[i] = std * rng.nextGaussian() }
        return m
    }

    /// `rows * cols`.
    @inlinable public var count: Int { rows * cols }

    /// The entry at `(row, col)`. Bounds are checked. For hot loops use the unsafe buffers.
    public subscript(row: Int, col: Int) -> Float {
        get {
            precondition(row >= 0 && row < rows && col >= 0 && col < cols, "index (\(row), \(col)) outside \(rows)x\(cols)")
            return values[row * cols + col]
        }
        set {
            precondition(row >= 0 && row < rows && col >= 0 && col < cols, "index (\(row), \(col)) outside \(rows)x\(cols)")
            values[row * cols + col] = newValue
        }
    }

    /// Row `r` as a slice of `values` (indices `r * cols ..< (r + 1) * cols`).
    public func row(_ r: Int) -> ArraySlice<Float> {
        precondition(r >= 0 && r < rows, "row \(r) outside \(rows) rows")
        return values[(r * cols)..<((r + 1) * cols)]
    }

    /// A copy of rows `range` as a new matrix.
    public func rows(_ range: Range<Int>) -> Matrix {
        precondition(range.lowerBound >= 0 && range.upperBound <= rows, "rows \(range) outside \(rows) rows")
        return Matrix(rows: range.count, cols: cols, values: Array(values[(range.lowerBound * cols)..<(range.upperBound * cols)]))
    }

    /// The transpose (`cols x rows`).
    public func transposed() -> Matrix {
        var t = Matrix(rows: cols, cols: rows)
        values.withUnsafeBufferPointer { src in
            t.values.withUnsafeMutableBufferPointer { dst in
                for r in 0..<rows {
                    for c in 0..<cols { dst[c * rows + r] = src[r * cols + c] }
                }
            }
        }
        return t
    }

    /// Calls `body` with the entries as a contiguous buffer.
    @inlinable
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try values.withUnsafeBufferPointer(body)
    }

    /// Calls `body` with the entries as a contiguous mutable buffer (copying first if shared).
    public mutating func withUnsafeMutableBufferPointer<R>(_ body: (inout UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        try values.withUnsafeMutableBufferPointer(body)
    }

    /// True when both shapes match and every entry differs by at most
    /// `tolerance * max(1, |a|, |b|)`.
    public func isApproximatelyEqual(to other: Matrix, tolerance: Float = 1e-5) -> Bool {
        guard rows == other.rows, cols == other.cols else { return false }
        for (a, b) in zip(values, other.values) where abs(a - b) > tolerance * max(1, abs(a), abs(b)) {
            return false
        }
        return true
    }
}
