/// Prometheus metrics over HTTP, served by every process (`metrics:` in the config).
///
/// The scheduler serves on `host:port`; members started by `tessera launch` serve
/// on `host` with an OS-picked port (several share one machine), and each
/// process tells the scheduler its address when it registers, so
/// `tessera status` lists them.
public struct MetricsSettings: Sendable, Codable, Hashable {
    /// Serve `/metrics` at all.
    public var enabled = true
    /// Interface to listen on (loopback by default: metrics are not for the world).
    public var host = "127.0.0.1"
    /// The scheduler's metrics port; 0 lets the OS pick.
    public var port = 0

    public init(enabled: Bool = true, host: String = "127.0.0.1", port: Int = 0) {
        self.enabled = enabled
        self.host = host
        self.port = port
    }
}

extension MetricsSettings {
    init(reading node: ConfigNode) throws(ConfigError) {
        self.init()
        enabled = try node.bool("enabled", default: enabled)
        host = try node.string("host", default: host)
        port = try node.int("port", default: port, in: 0...65_535)
        try node.rejectUnknownKeys()
    }
}
