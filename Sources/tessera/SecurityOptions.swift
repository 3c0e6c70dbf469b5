import ArgumentParser
import Foundation
import TesseraCore
import TesseraRPC

/// Token and TLS of a process started without a config file (`server`, `worker`,
/// `query`): from these options, else from the `TESSERA_*` environment variables
/// (`TESSERA_TOKEN`, `TESSERA_TOKEN_FILE`, `TESSERA_TLS_CA`, …), which `tessera launch` sets for its children.
struct SecurityOptions: ParsableArguments {
    @Option(help: ArgumentHelp("A file holding the cluster's token (default: $TESSERA_TOKEN_FILE, else $TESSERA_TOKEN).", valueName: "FILE"))
    var tokenFile: String?

    @Option(help: ArgumentHelp("CA certificate (PEM) that servers' certificates must chain to; turns TLS on (default: $TESSERA_TLS_CA).", valueName: "FILE"))
    var tlsCA: String?

    @Option(help: ArgumentHelp("This process's certificate (PEM), served and, with mutual TLS, presented (default: $TESSERA_TLS_CERT).", valueName: "FILE"))
    var tlsCert: String?

    @Option(help: ArgumentHelp("The private key of --tls-cert (default: $TESSERA_TLS_KEY).", valueName: "FILE"))
    var tlsKey: String?

    @Option(help: ArgumentHelp("Name to check in server certificates instead of the host dialled (default: $TESSERA_TLS_SERVER_NAME).", valueName: "NAME"))
    var tlsServerName: String?

    @Flag(help: "Mutual TLS: present --tls-cert to servers and require client certificates (default: $TESSERA_TLS_MUTUAL=1).")
    var tlsMutual = false

    /// The environment with these options written over it.
    var environment: [String: String] {
        var environment = ProcessInfo.processInfo.environment
        typealias Names = SecuritySettings.Environment
        if let tokenFile { environment[Names.tokenFile] = absolute(tokenFile) }
        if let tlsCA { environment[Names.tlsCA] = absolute(tlsCA) }
        if let tlsCert { environment[Names.tlsCert] = absolute(tlsCert) }
        if let tlsKey { environment[Names.tlsKey] = absolute(tlsKey) }
        if let tlsServerName { environment[Names.tlsServerName] = tlsServerName }
        if tlsMutual { environment[Names.tlsMutual] = "1" }
        return environment
    }

    /// The resolved token and certificates; a problem exits with a message naming the setting.
    func resolve() throws -> ResolvedSecurity {
        do {
            return try ResolvedSecurity.fromEnvironment(environment)
        } catch {
            throw UserError(description: error.description)
        }
    }
}
