/// The flat parameter vector as fixed-size blocks: how dense weights live on the
/// parameter server.
///
/// Block `b` holds flat entries `[b · blockSize, (b + 1) · blockSize)`; the last block is
/// zero-padded. The server stores block `b` as the row with key `firstKey + b` of a "dense"
/// table whose dimension is `blockSize`, so dense weights are pulled, pushed (as gradients)
/// and optimized exactly like embedding rows. Padding entries always receive zero gradient.
extension ParameterLayout {
    /// Number of blocks: `ceil(count / blockSize)`. Precondition: `blockSize >= 1`.
    public func blocks(of blockSize: Int) -> Int {
        precondition(blockSize >= 1, "block size must be at least 1, got \(blockSize)")
        return (count + blockSize - 1) / blockSize
    }

    /// Keys `firstKey + b` for the blocks in `range` (default: all), ascending and unique.
    public func blockKeys(blockSize: Int, blocks range: Range<Int>? = nil, firstKey: UInt64 = 0) -> [UInt64] {
        let range = range ?? 0..<blocks(of: blockSize)
        return range.map { firstKey + UInt64($0) }
    }

    /// The blocks overlapping flat range `range` (e.g. one tensor's `range`, or
    /// `range(ofTensorsWithPrefix:)`), so a worker can pull only what a step uses.
    public func blockRange(covering range: Range<Int>, blockSize: Int) -> Range<Int> {
        precondition(blockSize >= 1, "block size must be at least 1, got \(blockSize)")
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "range \(range) outside \(count) parameters")
        guard !range.isEmpty else { return 0..<0 }
        return (range.lowerBound / blockSize)..<((range.upperBound + blockSize - 1) / blockSize)
    }

    /// Blocks `range` (default: all) of `flat` as `range.count · blockSize` row-major values,
    /// entries beyond `count` zero: the rows to push (gradients) or to seed a table with.
    /// Precondition: `flat.count == count`.
    public func packBlocks(_ flat: [Float], blockSize: Int, blocks range: Range<Int>? = nil) -> [Float] {
        precondition(flat.count == count, "flat vector has \(flat.count) entries, layout has \(count)")
        let range = range ?? 0..<blocks(of: blockSize)
        precondition(range.lowerBound >= 0 && range.upperBound <= blocks(of: blockSize), "blocks \(range) outside \(blocks(of: blockSize))")
        var rows = [Float](repeating: 0, count: range.count * blockSize)
        let start = range.lowerBound * blockSize
        let end = min(range.upperBound * blockSize, count)
        if start < end {
            rows.withUnsafeMutableBufferPointer { dst in
                flat.withUnsafeBufferPointer { src in
                    dst.baseAddress!.update(from: src.baseAddress! + start, count: end - start)
                }
            }
        }
        return rows
    }

    /// Writes pulled block rows (`range.count · blockSize` values for blocks `range`, default
    /// all) into their place in `flat`, dropping padding. Precondition: `flat.count == count`.
    public func unpackBlocks(_ rows: [Float], blockSize: Int, blocks range: Range<Int>? = nil, into flat: inout [Float]) {
        precondition(flat.count == count, "flat vector has \(flat.count) entries, layout has \(count)")
        let range = range ?? 0..<blocks(of: blockSize)
        precondition(range.lowerBound >= 0 && range.upperBound <= blocks(of: blockSize), "blocks \(range) outside \(blocks(of: blockSize))")
        precondition(rows.count == range.count * blockSize, "\(rows.count) values for \(range.count) blocks of \(blockSize)")
        let start = range.lowerBound * blockSize
        let end = min(range.upperBound * blockSize, count)
        guard start < end else { return }
        rows.withUnsafeBufferPointer { src in
            flat.withUnsafeMutableBufferPointer { dst in
                (dst.baseAddress! + start).update(from: src.baseAddress!, count: end - start)
            }
        }
    }

    /// All blocks' rows back to a new flat vector of `count` entries.
    /// Precondition: `rows.count == blocks(of: blockSize) · blockSize`.
    public func unpackBlocks(_ rows: [Float], blockSize: Int) -> [Float] {
        var flat = zeros()
        unpackBlocks(rows, blockSize: blockSize, into: &flat)
        return flat
    }
}
