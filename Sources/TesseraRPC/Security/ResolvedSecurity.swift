import Foundation
import TesseraCore

/// `SecuritySettings` read into what a process uses: the token and the PEM
/// contents, for its server (if any) and its clients.
///
/// Resolve once at start-up; never log it (it holds the token).
public struct ResolvedSecurity: Sendable {
    public var client: ClientSecurity
    public var server: ServerSecurity

    public init(client: ClientSecurity = .insecure, server: ServerSecurity = .open) {
        self.client = client
        self.server = server
    }

    /// No token, no TLS, default limits.
    public static let insecure = ResolvedSecurity()

    /// Reads the token and certificates `settings` name.
    ///
    /// Throws `ConfigError` naming the setting when a file cannot be read, or no
    /// token resolves although `requireToken` is set.
    public init(settings: SecuritySettings, environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigError) {
        let token = try settings.resolveToken(environment: environment)
        var clientTLS: ClientTLS?
        var serverTLS: ServerTLS?
        if let tls = settings.tls {
            let ca = try tls.ca.map { path throws(ConfigError) in try Self.pem(path, key: "security.tls.ca") }
            let cert = try tls.cert.map { path throws(ConfigError) in try Self.pem(path, key: "security.tls.cert") }
            let key = try tls.key.map { path throws(ConfigError) in try Self.pem(path, key: "security.tls.key") }
            // Members present their own certificate to peers only under mutual TLS.
            clientTLS = ClientTLS(rootCertificates: ca, certificateChain: tls.mutual ? cert : nil,
                                  privateKey: tls.mutual ? key : nil, serverName: tls.serverName)
            if let cert, let key {
                serverTLS = ServerTLS(certificateChain: cert, privateKey: key, clientCA: tls.mutual ? ca : nil,
                                      requireClientCertificate: tls.mutual)
            }
        }
        client = ClientSecurity(token: token, tls: clientTLS, maxMessageBytes: max(64 << 20, settings.limits.maxMessageBytes),
                                maxKeysPerRequest: settings.limits.maxKeysPerRequest)
        server = ServerSecurity(token: token, tls: serverTLS, limits: settings.limits)
    }

    /// The security of a process without a config file (`tessera server`, `worker`, `query`),
    /// from the `TESSERA_*` variables of `environment` (see `SecuritySettings.Environment`).
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigError) -> ResolvedSecurity {
        try ResolvedSecurity(settings: try SecuritySettings.fromEnvironment(environment), environment: environment)
    }

    private static func pem(_ path: String, key: String) throws(ConfigError) -> String {
        do {
            let text = try String(contentsOfFile: path, encoding: .utf8)
            guard text.contains("-----BEGIN") else {
                throw ConfigError(file: "config", key: key, message: "\(path) is not a PEM file")
            }
            return text
        } catch let error as ConfigError {
            throw error
        } catch {
            throw ConfigError(file: "config", key: key, message: "cannot read \(path): \(error.localizedDescription)")
        }
    }
}
