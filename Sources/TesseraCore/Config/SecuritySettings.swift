import Foundation

/// Who may call a cluster's RPCs, over what transport, and how much: the `security` section.
///
/// A token turns authentication on: every call (but the standard health check)
/// must carry `authorization: Bearer <token>`. The token comes from, in order,
/// `token` (inline; discouraged), `token_file`, or the environment variable
/// named by `token_env` (`TESSERA_TOKEN` by default). The token itself is never
/// encoded: the config the scheduler ships to members as JSON carries only
/// where the token lives, and members read it themselves.
public struct SecuritySettings: Sendable, Codable, Hashable {
    /// The environment variable holding the token.
    public var tokenEnv = SecuritySettings.Environment.token
    /// A file whose content (surrounding whitespace removed) is the token.
    public var tokenFile: String?
    /// The token written into the config. Never encoded, never logged.
    public var token: String?
    /// Refuse to start when no token resolves (instead of serving without authentication).
    public var requireToken = false
    /// TLS for every server and client; nil: plaintext.
    public var tls: TLSSettings?
    public var limits = RPCLimitSettings()

    public init() {}

    private enum CodingKeys: String, CodingKey {
        case tokenEnv, tokenFile, requireToken, tls, limits
    }
}

/// Certificates for TLS, as PEM file paths (absolute once read from a config file).
public struct TLSSettings: Sendable, Codable, Hashable {
    /// This member's certificate chain: served by its servers and, with `mutual`, presented by its clients.
    public var cert: String?
    /// The private key of `cert`.
    public var key: String?
    /// The CA that peers' certificates must chain to; nil: the system's roots (clients only).
    public var ca: String?
    /// Mutual TLS: servers refuse clients without a certificate signed by `ca`.
    public var mutual = false
    /// The name checked in server certificates instead of the dialled host (e.g. when dialling by IP).
    public var serverName: String?

    public init(cert: String? = nil, key: String? = nil, ca: String? = nil, mutual: Bool = false, serverName: String? = nil) {
        self.cert = cert
        self.key = key
        self.ca = ca
        self.mutual = mutual
        self.serverName = serverName
    }
}

/// Per-server limits on what one call may ask for.
public struct RPCLimitSettings: Sendable, Codable, Hashable {
    /// Largest request accepted, in bytes; larger ones get RESOURCE_EXHAUSTED.
    public var maxMessageBytes = 64 << 20
    /// Most keys in one Pull, Push, Assign or UpdateCounters request; more get INVALID_ARGUMENT.
    public var maxKeysPerRequest = 1 << 20
    /// Calls per second each server admits (a token bucket); 0: unlimited.
    public var requestsPerSecond = 0.0
    /// Calls admitted at once after a quiet spell; 0: one second's worth.
    public var burst = 0

    public init() {}

    /// The bucket size in effect.
    public var effectiveBurst: Int {
        burst > 0 ? burst : max(1, Int(requestsPerSecond.rounded(.up)))
    }
}

extension SecuritySettings {
    /// The environment variables members read their security from (`tessera server`,
    /// `tessera worker`, `tessera query`); `tessera launch` sets them for its children.
    public enum Environment {
        /// The token itself.
        public static let token = "TESSERA_TOKEN"
        /// A file holding the token (preferred over `TESSERA_TOKEN` when both are set).
        public static let tokenFile = "TESSERA_TOKEN_FILE"
        public static let tlsCert = "TESSERA_TLS_CERT"
        public static let tlsKey = "TESSERA_TLS_KEY"
        public static let tlsCA = "TESSERA_TLS_CA"
        /// "1": servers require client certificates.
        public static let tlsMutual = "TESSERA_TLS_MUTUAL"
        public static let tlsServerName = "TESSERA_TLS_SERVER_NAME"
        /// The transport's message size limit, for servers that start before they know the config.
        public static let maxMessageBytes = "TESSERA_MAX_MESSAGE_BYTES"
    }

    /// The settings of a process without a config file, from `environment`.
    public static func fromEnvironment(_ environment: [String: String]) throws(ConfigError) -> SecuritySettings {
        func value(_ name: String) -> String? {
            guard let text = environment[name]?.trimmingCharacters(in: .whitespacesAndNewlines), !text.isEmpty else { return nil }
            return text
        }
        var settings = SecuritySettings()
        settings.tokenFile = value(Environment.tokenFile)
        let cert = value(Environment.tlsCert), key = value(Environment.tlsKey), ca = value(Environment.tlsCA)
        if cert != nil || key != nil || ca != nil {
            settings.tls = TLSSettings(cert: cert, key: key, ca: ca, mutual: value(Environment.tlsMutual) == "1",
                                       serverName: value(Environment.tlsServerName))
            if (cert == nil) != (key == nil) {
                throw ConfigError(file: "environment", key: cert == nil ? Environment.tlsCert : Environment.tlsKey,
                                  message: "\(Environment.tlsCert) and \(Environment.tlsKey) go together")
            }
        }
        if let text = value(Environment.maxMessageBytes) {
            guard let bytes = Int(text), (1024...(1 << 30)).contains(bytes) else {
                throw ConfigError(file: "environment", key: Environment.maxMessageBytes,
                                  message: "expected a byte count between 1024 and 1073741824, found '\(text)'")
            }
            settings.limits.maxMessageBytes = bytes
        }
        return settings
    }

    /// The token these settings name, or nil when none is configured.
    ///
    /// Throws when a named file cannot be read or is empty, or when `requireToken` is set and no token resolves.
    public func resolveToken(environment: [String: String]) throws(ConfigError) -> String? {
        if let token {
            guard !token.isEmpty else { throw ConfigError(file: "config", key: "security.token", message: "is empty") }
            return token
        }
        if let tokenFile {
            let text: String
            do {
                text = try String(contentsOfFile: tokenFile, encoding: .utf8)
            } catch {
                throw ConfigError(file: "config", key: "security.token_file",
                                  message: "cannot read the token file \(tokenFile): \(error.localizedDescription)")
            }
            let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !trimmed.isEmpty else {
                throw ConfigError(file: "config", key: "security.token_file", message: "the token file \(tokenFile) is empty")
            }
            return trimmed
        }
        if let value = environment[tokenEnv]?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty {
            return value
        }
        if requireToken {
            throw ConfigError(file: "config", key: "security.require_token",
                              message: "no token: set the environment variable \(tokenEnv), or security.token_file")
        }
        return nil
    }

    /// What a launcher adds to its children's environment so that members, which
    /// read `fromEnvironment`, resolve the same security. A token read from a file
    /// travels as the file's path, not as its value.
    public func memberEnvironment(resolvedToken: String?) -> [String: String] {
        var environment: [String: String] = [:]
        if let tokenFile {
            environment[Environment.tokenFile] = tokenFile
        } else if let resolvedToken {
            environment[Environment.token] = resolvedToken
        }
        if let tls {
            environment[Environment.tlsCert] = tls.cert
            environment[Environment.tlsKey] = tls.key
            environment[Environment.tlsCA] = tls.ca
            environment[Environment.tlsMutual] = tls.mutual ? "1" : "0"
            environment[Environment.tlsServerName] = tls.serverName
        }
        environment[Environment.maxMessageBytes] = "\(limits.maxMessageBytes)"
        return environment
    }
}

extension SecuritySettings: CustomStringConvertible {
    /// The settings without the token.
    public var description: String {
        "SecuritySettings(token_env: \(tokenEnv), token_file: \(tokenFile ?? "none"), token: \(token == nil ? "none" : "<redacted>"), "
            + "tls: \(tls.map { "\($0)" } ?? "off"), limits: \(limits))"
    }
}

extension SecuritySettings {
    /// Reads the `security` section; relative paths are taken from the config file's folder.
    public init(reading node: ConfigNode) throws(ConfigError) {
        self.init()
        let base = Self.baseDirectory(of: node)
        tokenEnv = try node.string("token_env", default: tokenEnv)
        if tokenEnv.isEmpty || tokenEnv.contains("=") {
            throw (try node.child("token_env") ?? node).error("must name an environment variable")
        }
        tokenFile = try Self.path(node, "token_file", base: base)
        token = try node.child("token")?.string()
        if let token, token.isEmpty { throw (try node.child("token") ?? node).error("is empty; leave it out, or use token_env") }
        requireToken = try node.bool("require_token", default: requireToken)
        if let tlsNode = try node.child("tls") { tls = try TLSSettings(reading: tlsNode, base: base) }
        if let limitsNode = try node.child("limits") { limits = try RPCLimitSettings(reading: limitsNode) }
        try node.rejectUnknownKeys()
    }

    private static func baseDirectory(of node: ConfigNode) -> String {
        let cwd = FileManager.default.currentDirectoryPath
        let folder = (node.file as NSString).deletingLastPathComponent
        if folder.isEmpty { return cwd }
        return folder.hasPrefix("/") ? folder : "\(cwd)/\(folder)"
    }

    /// The path at `key`, made absolute against `base`.
    static func path(_ node: ConfigNode, _ key: String, base: String) throws(ConfigError) -> String? {
        guard let child = try node.child(key) else { return nil }
        // A path given with --set is relative to the current directory, like --data.
        let overridden = child.overridden.contains(child.path)
        return absolute(try child.string(), base: overridden ? FileManager.default.currentDirectoryPath : base)
    }

    static func absolute(_ path: String, base: String) -> String {
        path.hasPrefix("/") ? path : URL(fileURLWithPath: "\(base)/\(path)").standardizedFileURL.path
    }
}

extension TLSSettings {
    init(reading node: ConfigNode, base: String) throws(ConfigError) {
        self.init()
        cert = try SecuritySettings.path(node, "cert", base: base)
        key = try SecuritySettings.path(node, "key", base: base)
        ca = try SecuritySettings.path(node, "ca", base: base)
        mutual = try node.bool("mutual", default: mutual)
        serverName = try node.child("server_name")?.string()
        try node.rejectUnknownKeys()
        if cert == nil || key == nil {
            throw node.error("cluster members serve TLS: name both `cert` and `key` (PEM files)")
        }
        if mutual && ca == nil {
            throw (try node.child("mutual") ?? node).error("mutual TLS checks client certificates against `ca`: name the CA file")
        }
    }
}

extension RPCLimitSettings {
    init(reading node: ConfigNode) throws(ConfigError) {
        self.init()
        maxMessageBytes = try node.int("max_message_bytes", default: maxMessageBytes, in: 1024...(1 << 30))
        maxKeysPerRequest = try node.int("max_keys_per_request", default: maxKeysPerRequest, in: 1...(1 << 28))
        requestsPerSecond = try node.double("requests_per_second", default: requestsPerSecond, in: 0...1e9)
        burst = try node.int("burst", default: burst, in: 0...1_000_000_000)
        try node.rejectUnknownKeys()
    }
}
