/// Everything that defines one embedding table: its name, row dimension,
/// optimizer, row initializer and seed. Identical on every shard.
///
/// Coded with defaults for what a config may omit: `optimizer` (Adagrad, rate
/// 0.05), `initializer` (normal, std 0.01) and `seed` (a hash of `name`, so
/// tables differ without the user choosing seeds).
public struct TableSpec: Sendable, Hashable {
    /// Unique within a model; requests name the table they address.
    public var name: String
    /// Floats per row (the embedding dimension), `1...maxDim`.
    public var dim: Int
    public var optimizer: OptimizerSpec
    public var initializer: InitializerSpec
    /// Seeds row initialization together with each key.
    public var seed: UInt64
    /// Admission, expiry and a row cap (nil: every pulled key gets a row, kept forever).
    public var lifecycle: TableLifecycle?

    /// The largest row dimension accepted by `validate()`.
    public static let maxDim = 1 << 16

    /// `seed` defaults to `Hashing.hash(name)`.
    public init(
        name: String,
        dim: Int,
        optimizer: OptimizerSpec = .adagrad(learningRate: 0.05),
        initializer: InitializerSpec = .normal(std: 0.01),
        seed: UInt64? = nil,
        lifecycle: TableLifecycle? = nil
    ) {
        self.name = name
        self.dim = dim
        self.optimizer = optimizer
        self.initializer = initializer
        self.seed = seed ?? Hashing.hash(name)
        self.lifecycle = lifecycle
    }

    /// Floats of optimizer state per row.
    public var stateWidth: Int { optimizer.stateWidth(dim: dim) }

    /// Throws when the name is empty, `dim` is outside `1...maxDim`, or a part is out of range.
    public func validate() throws(TableError) {
        guard !name.isEmpty else { throw TableError(.invalidSpec, "table name must not be empty") }
        guard dim >= 1 && dim <= Self.maxDim else {
            throw TableError(.invalidSpec, "table '\(name)': dim must be in 1...\(Self.maxDim), got \(dim)")
        }
        do {
            try optimizer.validate()
            try initializer.validate()
        } catch {
            throw TableError(.invalidSpec, "table '\(name)': \(error.message)", cause: error)
        }
        if let lifecycle {
            guard lifecycle.admitAfter >= 0, lifecycle.maxRows >= 0, lifecycle.ttlSeconds >= 0, lifecycle.ttlSeconds.isFinite else {
                throw TableError(.invalidSpec, "table '\(name)': admit_after, ttl_seconds and max_rows must be >= 0")
            }
        }
    }
}

/// What a table keeps: rows are admitted only after their key was pulled `admitAfter`
/// times, expire `ttlSeconds` after their last pull or push, and a shard holds at most
/// `maxRows` of them (evicting the least recently used). Zero turns each off.
///
/// Before admission a pull answers the key's initial row (deterministic from key and
/// seed, as if it existed) without storing it, and a push to it is dropped. Eviction is
/// deletion: a later pull starts the key over. The cap is kept per lock stripe
/// (`maxRows / stripes` each), evicting an approximately least recently used row (the
/// oldest of a sample of 16) whenever a new row would exceed it; expiry runs as a sweep
/// (`EmbeddingTable.evictExpired()`), on the shard every second.
public struct TableLifecycle: Sendable, Hashable, Codable {
    public var admitAfter = 0
    public var ttlSeconds = 0.0
    public var maxRows = 0

    public init(admitAfter: Int = 0, ttlSeconds: Double = 0, maxRows: Int = 0) {
        self.admitAfter = admitAfter
        self.ttlSeconds = ttlSeconds
        self.maxRows = maxRows
    }

    /// Whether rows need their last access time.
    var tracksAccess: Bool { ttlSeconds > 0 || maxRows > 0 }
}

extension TableSpec: Codable {
    private enum CodingKeys: String, CodingKey {
        case name, dim, optimizer, initializer, seed, lifecycle
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            name: try c.decode(String.self, forKey: .name),
            dim: try c.decode(Int.self, forKey: .dim),
            optimizer: try c.decodeIfPresent(OptimizerSpec.self, forKey: .optimizer) ?? .adagrad(learningRate: 0.05),
            initializer: try c.decodeIfPresent(InitializerSpec.self, forKey: .initializer) ?? .normal(std: 0.01),
            seed: try c.decodeIfPresent(UInt64.self, forKey: .seed),
            lifecycle: try c.decodeIfPresent(TableLifecycle.self, forKey: .lifecycle))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(dim, forKey: .dim)
        try c.encode(optimizer, forKey: .optimizer)
        try c.encode(initializer, forKey: .initializer)
        try c.encode(seed, forKey: .seed)
        try c.encodeIfPresent(lifecycle, forKey: .lifecycle)
    }
}
