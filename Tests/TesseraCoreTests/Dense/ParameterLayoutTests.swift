import Testing
import TesseraCore

@Suite("Dense: ParameterLayout")
struct ParameterLayoutTests {
    @Test func tensorsAreLaidOutBackToBack() {
        var layout = ParameterLayout()
        let w = layout.register("a.weight", shape: [3, 4], initializer: .xavierUniform)
        let b = layout.register("a.bias", shape: [3], initializer: .zeros)
        let g = layout.register("b.gain", shape: [5], initializer: .ones)
        #expect(w.offset == 0 && w.count == 12)
        #expect(b.offset == 12 && b.range == 12..<15)
        #expect(g.offset == 15)
        #expect(layout.count == 20)
        #expect(layout["a.bias"] == b)
        #expect(layout["missing"] == nil)
        #expect(layout.range(ofTensorsWithPrefix: "a.") == 0..<15)
        #expect(layout.range(ofTensorsWithPrefix: "zzz") == nil)
    }

    @Test func initializationIsDeterministicAndPerTensor() {
        var layout = ParameterLayout()
        layout.register("w", shape: [8, 6], initializer: .xavierUniform)
        layout.register("n", shape: [1000], initializer: .normal(std: 0.5))
        layout.register("z", shape: [4], initializer: .zeros)
        layout.register("o", shape: [4], initializer: .ones)
        layout.register("c", shape: [2], initializer: .constant(0.25))
        layout.register("u", shape: [100], initializer: .uniform(limit: 0.1))
        let p = layout.initialize(seed: 42)
        #expect(p == layout.initialize(seed: 42))
        #expect(p != layout.initialize(seed: 43))

        let limit = Float((6.0 / 14.0).squareRoot())
        let w = Array(p[layout["w"]!.range])
        #expect(w.allSatisfy { abs($0) <= limit })
        #expect(w.contains { abs($0) > limit / 2 })
        let n = p[layout["n"]!.range].map(Double.init)
        let mean = n.reduce(0, +) / 1000
        let std = (n.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 1000).squareRoot()
        #expect(abs(mean) < 0.05 && abs(std - 0.5) < 0.05)
        #expect(p[layout["z"]!.range].allSatisfy { $0 == 0 })
        #expect(p[layout["o"]!.range].allSatisfy { $0 == 1 })
        #expect(p[layout["c"]!.range].allSatisfy { $0 == 0.25 })
        #expect(p[layout["u"]!.range].allSatisfy { abs($0) <= 0.1 })

        // A tensor's values depend on its name, not on what was registered before it.
        var other = ParameterLayout()
        other.register("extra", shape: [7], initializer: .normal(std: 1))
        other.register("w", shape: [8, 6], initializer: .xavierUniform)
        #expect(Array(other.initialize(seed: 42)[other["w"]!.range]) == w)
        #expect(other.matrix("w", in: other.initialize(seed: 42)) == Matrix(rows: 8, cols: 6, values: w))
    }

    @Test func blocksRoundTripWithZeroPadding() {
        var layout = ParameterLayout()
        layout.register("a", shape: [7], initializer: .normal(std: 1))
        layout.register("b", shape: [2, 3], initializer: .normal(std: 1))
        let flat = layout.initialize(seed: 1)
        #expect(layout.count == 13)
        #expect(layout.blocks(of: 4) == 4)
        #expect(layout.blocks(of: 13) == 1)
        #expect(layout.blocks(of: 1) == 13)
        #expect(layout.blockKeys(blockSize: 4, firstKey: 100) == [100, 101, 102, 103])

        let rows = layout.packBlocks(flat, blockSize: 4)
        #expect(rows.count == 16)
        #expect(Array(rows[0..<13]) == flat)
        #expect(Array(rows[13...]) == [0, 0, 0])
        #expect(layout.unpackBlocks(rows, blockSize: 4) == flat)

        // Tensor "b" is flat 7..<13: blocks 1..<4. Pull just those into a zero vector.
        let blocks = layout.blockRange(covering: layout["b"]!.range, blockSize: 4)
        #expect(blocks == 1..<4)
        #expect(layout.blockKeys(blockSize: 4, blocks: blocks) == [1, 2, 3])
        let part = layout.packBlocks(flat, blockSize: 4, blocks: blocks)
        #expect(part.count == 12 && Array(part[0..<9]) == Array(flat[4..<13]))
        var target = layout.zeros()
        layout.unpackBlocks(part, blockSize: 4, blocks: blocks, into: &target)
        #expect(Array(target[0..<4]) == [0, 0, 0, 0])
        #expect(Array(target[4..<13]) == Array(flat[4..<13]))
    }
}
