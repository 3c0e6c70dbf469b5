import TesseraCore

/// True when `a` and `b` have the same length and differ by at most `tolerance` elementwise.
func isClose(_ a: [Float], _ b: [Float], tolerance: Float = 1e-5) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= tolerance }
}

/// Runs `spec` on one row starting at `value` (state from `initializeState`),
/// returning the value and state after each gradient.
func runOptimizer(
    _ spec: OptimizerSpec, value: [Float], gradients: [[Float]]
) -> [(value: [Float], state: [Float])] {
    let optimizer = Optimizer(spec, dim: value.count)
    var w = value
    var state = [Float](repeating: .nan, count: optimizer.stateWidth)
    w.withUnsafeMutableBufferPointer { wp in
        state.withUnsafeMutableBufferPointer { sp in
            if let s = sp.baseAddress { optimizer.initializeState(s, value: wp.baseAddress!) }
        }
    }
    var trace: [(value: [Float], state: [Float])] = []
    for g in gradients {
        w.withUnsafeMutableBufferPointer { wp in
            state.withUnsafeMutableBufferPointer { sp in
                g.withUnsafeBufferPointer { gp in
                    // SGD has no state: any valid pointer will do, it is not read.
                    let s = sp.baseAddress ?? wp.baseAddress!
                    optimizer.step(value: wp.baseAddress!, state: s, gradient: gp.baseAddress!)
                }
            }
        }
        trace.append((w, state))
    }
    return trace
}

/// A small table spec for tests.
func testSpec(
    dim: Int = 4, optimizer: OptimizerSpec = .adagrad(learningRate: 0.1),
    initializer: InitializerSpec = .normal(std: 0.1), seed: UInt64 = 7
) -> TableSpec {
    TableSpec(name: "t", dim: dim, optimizer: optimizer, initializer: initializer, seed: seed)
}
