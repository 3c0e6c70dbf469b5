/// Whether a forward pass trains (dropout active, seeded) or infers (dropout is the identity).
///
/// Dropout masks are a pure function of the seed, so a training step can be replayed
/// exactly (gradient checks evaluate the same masks many times). Composite layers hand
/// each sub-layer `derived(_:)` so their masks are independent.
public enum ForwardMode: Sendable, Hashable {
    /// Inference: no dropout.
    case inference
    /// Training with dropout masks drawn from `seed`.
    case training(seed: UInt64)

    /// True for `.training`.
    public var isTraining: Bool {
        if case .training = self { return true }
        return false
    }

    /// The same mode for sub-layer `salt`: training seeds are mixed with it, inference stays.
    public func derived(_ salt: UInt64) -> ForwardMode {
        switch self {
        case .inference: .inference
        case let .training(seed): .training(seed: Hashing.combine(seed, salt))
        }
    }
}
