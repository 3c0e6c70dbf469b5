import Foundation
import TesseraCore
import TesseraRPC

extension Launcher {
    /// What the children get on top of `childEnvironment`, so that every member
    /// resolves the config's security: the token (or the path of its file), the
    /// TLS files and the transport's message limit (see `SecuritySettings.Environment`).
    func securityEnvironment() throws -> [String: String] {
        let settings = plan.config.security
        let token = try settings.resolveToken(environment: ProcessInfo.processInfo.environment)
        return settings.memberEnvironment(resolvedToken: token)
    }

    /// The token and TLS of the launcher's own calls to the scheduler.
    func clientSecurity() throws -> ClientSecurity {
        try ResolvedSecurity(settings: plan.config.security).client
    }
}
