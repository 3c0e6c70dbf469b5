import Foundation
import Testing
import TesseraCore

@Suite struct InitializerSpecTests {
    func row(_ spec: InitializerSpec, dim: Int = 16, key: UInt64, seed: UInt64 = 1) -> [Float] {
        var out = [Float](repeating: .nan, count: dim)
        out.withUnsafeMutableBufferPointer { spec.initializeRow($0.baseAddress!, dim: dim, key: key, tableSeed: seed) }
        return out
    }

    @Test(arguments: [InitializerSpec.normal(std: 0.1), .uniform(limit: 0.5)])
    func deterministicPerKeyAndSeed(spec: InitializerSpec) {
        #expect(row(spec, key: 42) == row(spec, key: 42))  // exact: same computation
        #expect(row(spec, key: 42) != row(spec, key: 43))
        #expect(row(spec, key: 42, seed: 1) != row(spec, key: 42, seed: 2))
        // Odd dimensions fill every entry (normal draws come in pairs).
        #expect(row(spec, dim: 5, key: 9).allSatisfy { !$0.isNaN })
        #expect(Set(row(spec, dim: 5, key: 9)).count == 5)
    }

    @Test func normalHasTheRequestedSpread() {
        var sum = 0.0, sumSquares = 0.0, n = 0.0
        for key in UInt64(0)..<2000 {
            for x in row(.normal(std: 0.1), dim: 32, key: key) {
                sum += Double(x); sumSquares += Double(x) * Double(x); n += 1
            }
        }
        let mean = sum / n, std = (sumSquares / n - mean * mean).squareRoot()
        // 64k samples: the standard error of the std is 0.1 / sqrt(2n) ≈ 0.0003.
        #expect(abs(mean) < 0.002)
        #expect(abs(std - 0.1) < 0.002)
    }

    @Test func uniformStaysWithinLimitAndCoversIt() {
        var low: Float = 1, high: Float = -1
        for key in UInt64(0)..<500 {
            for x in row(.uniform(limit: 0.5), dim: 32, key: key) {
                #expect(x >= -0.5 && x < 0.5)
                low = min(low, x); high = max(high, x)
            }
        }
        #expect(low < -0.49 && high > 0.49)
    }

    @Test func zerosAndConstantAreExact() {
        #expect(row(.zeros, key: 3) == [Float](repeating: 0, count: 16))
        #expect(row(.constant(value: 0.25), key: 3) == [Float](repeating: 0.25, count: 16))
    }

    @Test func codingAcceptsPlainZerosAndRoundTrips() throws {
        let decoder = JSONDecoder()
        #expect(try decoder.decode(InitializerSpec.self, from: Data(#""zeros""#.utf8)) == .zeros)
        #expect(try decoder.decode(InitializerSpec.self, from: Data(#"{"normal": {"std": 0.5}}"#.utf8)) == .normal(std: 0.5))
        #expect(throws: DecodingError.self) { try decoder.decode(InitializerSpec.self, from: Data(#""normal""#.utf8)) }
        #expect(throws: DecodingError.self) {
            try decoder.decode(InitializerSpec.self, from: Data(#"{"normal": {"sd": 0.5}}"#.utf8))
        }
        for spec: InitializerSpec in [.normal(std: 0.01), .uniform(limit: 2), .zeros, .constant(value: -1)] {
            #expect(try decoder.decode(InitializerSpec.self, from: JSONEncoder().encode(spec)) == spec)
        }
    }

    @Test func tableSpecDecodingUsesDefaults() throws {
        let spec = try JSONDecoder().decode(TableSpec.self, from: Data(#"{"name": "items", "dim": 8}"#.utf8))
        #expect(spec == TableSpec(name: "items", dim: 8))
        #expect(spec.seed == Hashing.hash("items"))
        #expect(spec.optimizer == .adagrad(learningRate: 0.05))
        let full = TableSpec(name: "u", dim: 3, optimizer: .ftrl(alpha: 1), initializer: .zeros, seed: 5)
        #expect(try JSONDecoder().decode(TableSpec.self, from: JSONEncoder().encode(full)) == full)
        #expect(throws: TableError.self) { try TableSpec(name: "x", dim: 0).validate() }
        #expect(throws: TableError.self) { try TableSpec(name: "", dim: 4).validate() }
        #expect(throws: TableError.self) { try TableSpec(name: "x", dim: 4, initializer: .normal(std: -1)).validate() }
    }
}
