import Foundation
import Testing
import TesseraCore
import TesseraRPC
import TesseraServer

/// Tokens, TLS and limits on real loopback servers.
@Suite struct SecurityTests {
    static let token = "s3cret-token-for-tests"

    static func stats(_ channel: GRPCChannel) async -> (code: RPCStatusCode, message: String) {
        await statusOf { _ = try await ParameterServerClient(channel: channel).stats() }
    }

    @Test func callsWithoutTheRightTokenAreUnauthenticated() async throws {
        try await withSecuredServer(ServerSecurity(token: Self.token)) { server in
            let none = await Self.stats(try GRPCChannel(target: server.address))
            #expect(none.code == .unauthenticated)
            #expect(none.message.contains("requires a token"))
            #expect(none.message.contains("authorization: Bearer"))

            let wrong = await Self.stats(try GRPCChannel(target: server.address, security: ClientSecurity(token: "guess")))
            #expect(wrong.code == .unauthenticated)
            #expect(wrong.message.contains("not valid"))
            #expect(!wrong.message.contains(Self.token))

            let prefix = await Self.stats(try GRPCChannel(target: server.address, security: ClientSecurity(token: String(Self.token.dropLast()))))
            #expect(prefix.code == .unauthenticated)

            let right = await Self.stats(try GRPCChannel(target: server.address, security: ClientSecurity(token: Self.token)))
            #expect(right.code == .ok)

            // An unknown method is refused for the token before it is looked up.
            let unknown = await statusOf { _ = try await GRPCChannel(target: server.address).unary("/no.Such/Method", request: []) }
            #expect(unknown.code == .unauthenticated)
        }
    }

    @Test func healthStaysOpenAndReflectionNeedsTheToken() async throws {
        try await withSecuredServer(ServerSecurity(token: Self.token)) { server in
            let anonymous = try GRPCChannel(target: server.address)
            // grpc.health.v1.Health/Check with an empty request: SERVING (status 1) without a token.
            let health = try await anonymous.unary("/grpc.health.v1.Health/Check", request: [])
            #expect(Array(health) == [0x08, 0x01])
            let reflection = await statusOf {
                _ = try await anonymous.unary("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", request: [])
            }
            #expect(reflection.code == .unauthenticated)
            let withToken = try GRPCChannel(target: server.address, security: ClientSecurity(token: Self.token))
            let allowed = await statusOf {
                _ = try await withToken.unary("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", request: [])
            }
            #expect(allowed.code != .unauthenticated)
        }
    }

    @Test func tlsServesClientsThatTrustItsCA() async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        let tls = ServerTLS(certificateChain: try certificates.pem("member.pem"), privateKey: try certificates.pem("member.key"))
        try await withSecuredServer(ServerSecurity(token: Self.token, tls: tls)) { server in
            let trusting = ClientSecurity(token: Self.token, tls: ClientTLS(rootCertificates: try certificates.pem("ca.pem")))
            #expect(await Self.stats(try GRPCChannel(target: server.address, security: trusting)).code == .ok)

            let otherCA = ClientSecurity(token: Self.token, tls: ClientTLS(rootCertificates: try certificates.pem("other-ca.pem")))
            let refused = await Self.stats(try GRPCChannel(target: server.address, security: otherCA))
            #expect(refused.code == .unavailable)

            let plaintext = await Self.stats(try GRPCChannel(target: server.address, security: ClientSecurity(token: Self.token)))
            #expect(plaintext.code == .unavailable)
        }
    }

    @Test func mutualTLSRefusesClientsWithoutACertificate() async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        let ca = try certificates.pem("ca.pem")
        let tls = ServerTLS(certificateChain: try certificates.pem("member.pem"), privateKey: try certificates.pem("member.key"),
                            clientCA: ca, requireClientCertificate: true)
        try await withSecuredServer(ServerSecurity(token: Self.token, tls: tls)) { server in
            let member = ClientTLS(rootCertificates: ca, certificateChain: try certificates.pem("member.pem"),
                                   privateKey: try certificates.pem("member.key"))
            #expect(await Self.stats(try GRPCChannel(target: server.address, security: ClientSecurity(token: Self.token, tls: member))).code == .ok)

            let anonymous = ClientSecurity(token: Self.token, tls: ClientTLS(rootCertificates: ca))
            #expect(await Self.stats(try GRPCChannel(target: server.address, security: anonymous)).code == .unavailable)

            let stranger = ClientTLS(rootCertificates: ca, certificateChain: try certificates.pem("other.pem"),
                                     privateKey: try certificates.pem("other.key"))
            #expect(await Self.stats(try GRPCChannel(target: server.address, security: ClientSecurity(token: Self.token, tls: stranger))).code == .unavailable)
        }
    }

    @Test func configuredTLSResolvesFromFiles() async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        var settings = SecuritySettings()
        settings.tokenFile = certificates.path("token")
        try "  \(Self.token)\n".write(toFile: settings.tokenFile!, atomically: true, encoding: .utf8)
        settings.tls = TLSSettings(cert: certificates.path("member.pem"), key: certificates.path("member.key"),
                                   ca: certificates.path("ca.pem"), mutual: true)
        let resolved = try ResolvedSecurity(settings: settings, environment: [:])
        #expect(resolved.client.token == Self.token)
        try await withSecuredServer(resolved.server) { server in
            #expect(await Self.stats(try GRPCChannel(target: server.address, security: resolved.client)).code == .ok)
            // The same files through the members' environment variables.
            let member = try ResolvedSecurity.fromEnvironment(settings.memberEnvironment(resolvedToken: Self.token))
            #expect(await Self.stats(try GRPCChannel(target: server.address, security: member.client)).code == .ok)
        }
    }

    @Test func rateLimitAnswersResourceExhausted() async throws {
        var limits = RPCLimitSettings()
        // One token per 1000 s: however slowly a loaded machine runs the 5 calls, none refills.
        limits.requestsPerSecond = 0.001
        limits.burst = 3
        try await withSecuredServer(ServerSecurity(limits: limits)) { server in
            let channel = try GRPCChannel(target: server.address)
            var codes: [RPCStatusCode] = []
            var last = ""
            for _ in 0..<5 {
                let result = await Self.stats(channel)
                codes.append(result.code)
                last = result.message
            }
            #expect(codes.prefix(3).allSatisfy { $0 == .ok })
            #expect(codes.last == .resourceExhausted)
            #expect(last.contains("rate limit"))
            #expect(last.contains("requests_per_second"))
        }
    }

    @Test func oversizedRequestsGetAClearError() async throws {
        var limits = RPCLimitSettings()
        limits.maxMessageBytes = 4096
        try await withSecuredServer(ServerSecurity(limits: limits)) { server in
            let client = ParameterServerClient(channel: try GRPCChannel(target: server.address))
            var small = Tessera_V1_PullRequest()
            small.table = "t"
            small.keys = Array(0..<100)
            #expect(await statusOf { _ = try await client.pull(small) }.code == .ok)
            var large = small
            large.keys = Array(1_000_000..<1_002_000)  // ~8 KB of varints
            let refused = await statusOf { _ = try await client.pull(large) }
            #expect(refused.code == .resourceExhausted)
            #expect(refused.message.contains("max_message_bytes"))
            #expect(refused.message.contains("4096"))
        }
    }

    @Test func tooManyKeysPerRequestAreRefusedAndTheShardedClientSplits() async throws {
        let table = TableSpec(name: "user", dim: 4, optimizer: .sgd(learningRate: 0.5), initializer: .normal(std: 0.1), seed: 1)
        let service = try ShardService(shardID: 0, tables: [table])
        var router = RPCRouter()
        router.register(service)
        var limits = RPCLimitSettings()
        limits.maxKeysPerRequest = 10
        try await withSecuredServer(ServerSecurity(token: Self.token, limits: limits), router: router) { server in
            let routing = ShardRouting(version: 1, addresses: [0: server.address], virtualNodes: 8, seed: 1)
            service.update(routing: routing)
            let security = ClientSecurity(token: Self.token)
            let client = ParameterServerClient(channel: try GRPCChannel(target: server.address, security: security))
            var request = Tessera_V1_PullRequest()
            request.table = "user"
            request.shardMapVersion = 1
            request.keys = Array(0..<11)
            let refused = await statusOf { _ = try await client.pull(request) }
            #expect(refused.code == .invalidArgument)
            #expect(refused.message.contains("max_keys_per_request"))
            #expect(refused.message.contains("11 keys"))

            var limited = security
            limited.maxKeysPerRequest = limits.maxKeysPerRequest
            let sharded = try ShardedParameterClient(routing: routing, security: limited)
            #expect(sharded.maxKeysPerRequest == 10)
            let rows = try await sharded.pull(table: "user", keys: Array(0..<35), dim: 4)
            #expect(rows.count == 35 * 4)
        }
    }

    @Test func limitsCanChangeWhileServing() async throws {
        try await withSecuredServer(ServerSecurity()) { server in
            let channel = try GRPCChannel(target: server.address)
            #expect(await Self.stats(channel).code == .ok)
            var limits = RPCLimitSettings()
            limits.requestsPerSecond = 0.001
            limits.burst = 1
            server.update(limits: limits)
            #expect(server.limits.burst == 1)
            #expect(await Self.stats(channel).code == .ok)
            #expect(await Self.stats(channel).code == .resourceExhausted)
        }
    }
}
