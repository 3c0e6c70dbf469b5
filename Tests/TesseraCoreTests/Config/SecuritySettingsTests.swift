import Foundation
import Testing
import TesseraCore

/// The `security` section: parsing, validation, token resolution, and what never leaves the process.
@Suite struct SecuritySettingsTests {
    func parse(_ yaml: String, file: String = "/etc/tessera/cluster.yaml") throws -> ClusterConfig {
        try ClusterConfig.parse(yaml: yaml, file: file)
    }

    func error(_ yaml: String) -> ConfigError? {
        do {
            _ = try parse(yaml)
            return nil
        } catch let error as ConfigError {
            return error
        } catch {
            Issue.record("unexpected error \(error)")
            return nil
        }
    }

    @Test func defaultsAreOpenWithGenerousLimits() throws {
        let security = try parse("").security
        #expect(security.tokenEnv == "TESSERA_TOKEN")
        #expect(security.tokenFile == nil && security.token == nil && security.tls == nil)
        #expect(security.limits.maxMessageBytes == 64 << 20)
        #expect(security.limits.requestsPerSecond == 0)
        #expect(try security.resolveToken(environment: [:]) == nil)
        #expect(try security.resolveToken(environment: ["TESSERA_TOKEN": " abc \n"]) == "abc")
    }

    @Test func everyKeyParsesAndPathsFollowTheConfigFile() throws {
        let security = try parse("""
            security:
              token_env: MY_TOKEN
              token_file: secrets/token
              require_token: true
              tls: {cert: certs/member.pem, key: /abs/member.key, ca: certs/ca.pem, mutual: true, server_name: tessera.local}
              limits: {max_message_bytes: 1048576, max_keys_per_request: 4096, requests_per_second: 500, burst: 50}
            """).security
        #expect(security.tokenEnv == "MY_TOKEN")
        #expect(security.tokenFile == "/etc/tessera/secrets/token")
        #expect(security.requireToken)
        #expect(security.tls == TLSSettings(cert: "/etc/tessera/certs/member.pem", key: "/abs/member.key",
                                            ca: "/etc/tessera/certs/ca.pem", mutual: true, serverName: "tessera.local"))
        #expect(security.limits.maxMessageBytes == 1 << 20)
        #expect(security.limits.maxKeysPerRequest == 4096)
        #expect(security.limits.requestsPerSecond == 500)
        #expect(security.limits.effectiveBurst == 50)
    }

    @Test func aPathGivenWithSetIsTakenFromTheCurrentDirectory() throws {
        let config = try ClusterConfig.parse(yaml: "security: {tls: {cert: a.pem, key: a.key}}", file: "/etc/tessera/cluster.yaml",
                                             overrides: [ConfigOverride(path: "security.tls.key", value: "b.key")])
        let cwd = FileManager.default.currentDirectoryPath
        #expect(config.security.tls?.cert == "/etc/tessera/a.pem")
        #expect(config.security.tls?.key == URL(fileURLWithPath: "\(cwd)/b.key").standardizedFileURL.path)
    }

    @Test func mistakesAreNamed() {
        #expect(error("security: {tls: {cert: a.pem}}")?.message.contains("`key`") == true)
        #expect(error("security: {tls: {cert: a.pem, key: a.key, mutual: true}}")?.message.contains("`ca`") == true)
        #expect(error("security: {limits: {max_message_bytes: 10}}")?.key == "security.limits.max_message_bytes")
        #expect(error("security: {limits: {requests_per_second: -1}}")?.key == "security.limits.requests_per_second")
        #expect(error("security: {tokn_env: X}")?.message.contains("token_env") == true)
        #expect(error("security: {token: ''}") != nil)
    }

    @Test func tokenPrecedenceIsInlineThenFileThenEnvironment() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-token-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("token").path
        try "from-file\n".write(toFile: file, atomically: true, encoding: .utf8)
        var settings = SecuritySettings()
        let environment = ["TESSERA_TOKEN": "from-env"]
        #expect(try settings.resolveToken(environment: environment) == "from-env")
        settings.tokenFile = file
        #expect(try settings.resolveToken(environment: environment) == "from-file")
        settings.token = "inline"
        #expect(try settings.resolveToken(environment: environment) == "inline")

        var missing = SecuritySettings()
        missing.tokenFile = directory.appendingPathComponent("absent").path
        #expect(throws: ConfigError.self) { try missing.resolveToken(environment: environment) }
        var required = SecuritySettings()
        required.requireToken = true
        #expect(throws: ConfigError.self) { try required.resolveToken(environment: [:]) }
    }

    @Test func theTokenIsNeverEncodedOrPrinted() throws {
        let config = try parse("security: {token: hunter2-inline-secret}")
        #expect(config.security.token == "hunter2-inline-secret")
        let json = String(decoding: try JSONEncoder().encode(config), as: UTF8.self)
        #expect(!json.contains("hunter2"))
        #expect(json.contains("tokenEnv"))
        let decoded = try JSONDecoder().decode(ClusterConfig.self, from: Data(json.utf8))
        #expect(decoded.security.token == nil)
        #expect(!"\(config.security)".contains("hunter2"))
        #expect("\(config.security)".contains("<redacted>"))
    }

    @Test func membersResolveTheSameSettingsFromTheEnvironment() throws {
        var settings = SecuritySettings()
        settings.tokenFile = "/run/secrets/token"
        settings.tls = TLSSettings(cert: "/c.pem", key: "/c.key", ca: "/ca.pem", mutual: true, serverName: "n")
        settings.limits.maxMessageBytes = 1 << 20
        let environment = settings.memberEnvironment(resolvedToken: "the-token")
        // A token read from a file travels as the file's path, not as its value.
        #expect(environment["TESSERA_TOKEN_FILE"] == "/run/secrets/token")
        #expect(environment["TESSERA_TOKEN"] == nil)
        let member = try SecuritySettings.fromEnvironment(environment)
        #expect(member.tokenFile == settings.tokenFile)
        #expect(member.tls == settings.tls)
        #expect(member.limits.maxMessageBytes == 1 << 20)

        var fromEnv = SecuritySettings()
        fromEnv.tokenEnv = "CUSTOM"
        #expect(fromEnv.memberEnvironment(resolvedToken: "t")["TESSERA_TOKEN"] == "t")
        #expect(throws: ConfigError.self) { try SecuritySettings.fromEnvironment(["TESSERA_TLS_CERT": "/c.pem"]) }
        #expect(throws: ConfigError.self) { try SecuritySettings.fromEnvironment(["TESSERA_MAX_MESSAGE_BYTES": "lots"]) }
    }
}
