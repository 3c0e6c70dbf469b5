import TesseraCore

/// TLS of a client channel, with PEM contents (not paths).
public struct ClientTLS: Sendable, Hashable {
    /// Roots the server's certificate must chain to; nil: the system's roots.
    public var rootCertificates: String?
    /// The client's certificate chain and key, for mutual TLS; both or neither.
    public var certificateChain: String?
    public var privateKey: String?
    /// The name to check in the server's certificate instead of the target's host.
    public var serverName: String?

    public init(rootCertificates: String? = nil, certificateChain: String? = nil, privateKey: String? = nil,
                serverName: String? = nil) {
        self.rootCertificates = rootCertificates
        self.certificateChain = certificateChain
        self.privateKey = privateKey
        self.serverName = serverName
    }
}

/// TLS of a server, with PEM contents (not paths).
public struct ServerTLS: Sendable, Hashable {
    public var certificateChain: String
    public var privateKey: String
    /// Roots client certificates must chain to; nil asks clients for no certificate.
    public var clientCA: String?
    /// Refuse clients without a valid certificate (mutual TLS); needs `clientCA`.
    public var requireClientCertificate: Bool

    public init(certificateChain: String, privateKey: String, clientCA: String? = nil, requireClientCertificate: Bool = false) {
        self.certificateChain = certificateChain
        self.privateKey = privateKey
        self.clientCA = clientCA
        self.requireClientCertificate = requireClientCertificate
    }
}

/// What a server admits: the token callers must present, limits, and TLS.
public struct ServerSecurity: Sendable {
    /// The token every call must carry as `authorization: Bearer <token>`; nil: no authentication.
    /// The standard health check (`grpc.health.v1.Health`) stays open for probes.
    public var token: String?
    public var tls: ServerTLS?
    public var limits: RPCLimitSettings

    public init(token: String? = nil, tls: ServerTLS? = nil, limits: RPCLimitSettings = RPCLimitSettings()) {
        self.token = token
        self.tls = tls
        self.limits = limits
    }

    /// No token, no TLS, default limits.
    public static let open = ServerSecurity()
}

/// What a client presents: its token on every call, and TLS.
public struct ClientSecurity: Sendable {
    public var token: String?
    public var tls: ClientTLS?
    /// Largest message the channel sends or accepts.
    public var maxMessageBytes: Int
    /// The servers' `max_keys_per_request`: sharded clients split larger batches.
    public var maxKeysPerRequest: Int

    public init(token: String? = nil, tls: ClientTLS? = nil, maxMessageBytes: Int = 64 << 20, maxKeysPerRequest: Int = .max) {
        self.token = token
        self.tls = tls
        self.maxMessageBytes = maxMessageBytes
        self.maxKeysPerRequest = maxKeysPerRequest
    }

    /// No token, plaintext.
    public static let insecure = ClientSecurity()

    /// The metadata sent with every call.
    public var metadata: [(key: String, value: String)] {
        token.map { [(key: "authorization", value: "Bearer \($0)")] } ?? []
    }
}

extension GRPCChannel {
    /// A channel to `target` that presents `security` on every call.
    public convenience init(target: String, security: ClientSecurity) throws(RPCError) {
        try self.init(target: target, maxMessageBytes: security.maxMessageBytes, defaultMetadata: security.metadata,
                      tls: security.tls)
    }
}
