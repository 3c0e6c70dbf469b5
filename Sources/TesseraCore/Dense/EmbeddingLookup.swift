/// Gathers rows of an external embedding table into a matrix and scatters gradients back.
///
/// The table is whatever the worker pulled from the parameter server: `rowCount x dim`
/// row-major values for the batch's unique keys. `indices[i]` names the table row for
/// output row `i` (a position in a batch or sequence); a negative index is padding and
/// gathers a zero row and receives no gradient. Repeated indices (an item seen several
/// times in a batch) gather the same row and have their gradients summed, so the pushed
/// gradient per key is the aggregate the server expects.
public enum EmbeddingLookup {
    /// `out[i] = table[indices[i]]` (zeros for `indices[i] < 0`); `indices.count x dim`.
    /// Preconditions: `dim >= 1`; `table.count` is a multiple of `dim`; every index is below
    /// `table.count / dim`.
    public static func gather<Index: BinaryInteger>(_ table: [Float], dim: Int, indices: [Index]) -> Matrix {
        precondition(dim >= 1 && table.count % dim == 0, "table of \(table.count) values is not whole rows of \(dim)")
        let rowCount = table.count / dim
        var out = Matrix(rows: indices.count, cols: dim)
        table.withUnsafeBufferPointer { t in
            out.withUnsafeMutableBufferPointer { o in
                for (i, index) in indices.enumerated() where index >= 0 {
                    let row = Int(index)
                    precondition(row < rowCount, "index \(row) outside \(rowCount) table rows")
                    (o.baseAddress! + i * dim).update(from: t.baseAddress! + row * dim, count: dim)
                }
            }
        }
        return out
    }

    /// `tableGradient[indices[i]] += gradient[i]` for every `i` with `indices[i] >= 0`.
    /// Preconditions: `gradient.rows == indices.count`; `tableGradient` is whole rows of
    /// `gradient.cols` and every index is below its row count.
    public static func scatterAdd<Index: BinaryInteger>(_ gradient: Matrix, indices: [Index], into tableGradient: inout [Float]) {
        let dim = gradient.cols
        precondition(gradient.rows == indices.count, "\(gradient.rows) gradient rows for \(indices.count) indices")
        precondition(dim >= 1 && tableGradient.count % dim == 0, "table gradient of \(tableGradient.count) values is not whole rows of \(dim)")
        let rowCount = tableGradient.count / dim
        gradient.withUnsafeBufferPointer { g in
            tableGradient.withUnsafeMutableBufferPointer { t in
                for (i, index) in indices.enumerated() where index >= 0 {
                    let row = Int(index)
                    precondition(row < rowCount, "index \(row) outside \(rowCount) table rows")
                    BLAS.axpy(dim, 1, g.baseAddress! + i * dim, t.baseAddress! + row * dim)
                }
            }
        }
    }
}
