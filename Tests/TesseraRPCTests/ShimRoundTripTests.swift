import Foundation
import Synchronization
import Testing
import TesseraRPC

/// Counts handlers that reached the gate of one test.
final class Gate: Sendable {
    let arrived = Atomic<Int>(0)
}

/// Round trips through the C shim over loopback: typed calls, statuses, deadlines, concurrency.
@Suite struct ShimRoundTripTests {
    /// A service that answers Stats with a counter and fails or sleeps on request.
    static func makeRouter(gate: Gate = Gate(), gateSize: Int = 0) -> RPCRouter {
        var router = RPCRouter()
        router.unary(Methods.ParameterServer.stats) { (_: Tessera_V1_ShardStatsRequest, context) in
            var response = Tessera_V1_ShardStatsResponse()
            response.shardID = 7
            response.shardMapVersion = UInt64(context.call.metadata("x-tessera-test") ?? "0") ?? 0
            return response
        }
        router.unary(Methods.ParameterServer.pull) { (request: Tessera_V1_PullRequest, context) in
            if request.table == "missing" {
                throw RPCError(.invalidArgument, "unknown table 'missing'")
            }
            if request.table == "slow" {
                // Until the client gives up; a cancelled call ends the handler.
                let deadline = ContinuousClock.now + .seconds(20)
                while !context.call.isCancelled && ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(10))
                }
                throw RPCError(.cancelled, "gave up")
            }
            if request.table == "gate" {
                // Answers only once `gateSize` calls are inside handlers at the same time.
                gate.arrived.add(1, ordering: .relaxed)
                let deadline = ContinuousClock.now + .seconds(20)
                while gate.arrived.load(ordering: .relaxed) < gateSize {
                    guard ContinuousClock.now < deadline else { throw RPCError(.deadlineExceeded, "only \(gate.arrived.load(ordering: .relaxed)) calls arrived") }
                    try await Task.sleep(for: .milliseconds(5))
                }
            }
            if request.table == "boom" {
                struct Boom: Error {}
                throw Boom()
            }
            var response = Tessera_V1_PullResponse()
            response.dim = UInt32(request.keys.count)
            response.values = Data(repeating: 0xAB, count: request.keys.count * 4)
            return response
        }
        return router
    }

    static func withServer<R>(options: ServerOptions = ServerOptions(), router: RPCRouter = makeRouter(),
                              _ body: (GRPCServer, GRPCChannel) async throws -> R) async throws -> R {
        let server = try GRPCServer(host: "127.0.0.1", port: 0, router: router, options: options)
        let channel = try GRPCChannel(target: server.address)
        do {
            let result = try await body(server, channel)
            await server.shutdown(grace: .milliseconds(200))
            return result
        } catch {
            await server.shutdown(grace: .milliseconds(200))
            throw error
        }
    }

    @Test func boundPortIsReal() async throws {
        try await Self.withServer { server, _ in
            #expect(server.port > 0)
            #expect(server.address == "127.0.0.1:\(server.port)")
        }
    }

    @Test func typedCallRoundTripsWithMetadata() async throws {
        try await Self.withServer { _, channel in
            let client = ParameterServerClient(channel: channel)
            let stats = try await client.stats(options: CallOptions(metadata: [("x-tessera-test", "41")]))
            #expect(stats.shardID == 7)
            #expect(stats.shardMapVersion == 41)
        }
    }

    @Test func payloadBytesArriveIntact() async throws {
        try await Self.withServer { _, channel in
            var request = Tessera_V1_PullRequest()
            request.table = "t"
            request.keys = Array(0..<100_000)
            let response = try await ParameterServerClient(channel: channel).pull(request)
            #expect(response.dim == 100_000)
            #expect(response.values.count == 400_000)
            #expect(response.values.allSatisfy { $0 == 0xAB })
        }
    }

    @Test func handlerErrorsBecomeStatuses() async throws {
        try await Self.withServer { _, channel in
            let client = ParameterServerClient(channel: channel)
            var request = Tessera_V1_PullRequest()
            request.table = "missing"
            let invalid = await #expect(throws: RPCError.self) { try await client.pull(request) }
            #expect(invalid?.code == .invalidArgument)
            #expect(invalid?.message.contains("unknown table 'missing'") == true)

            request.table = "boom"
            let internalError = await #expect(throws: RPCError.self) { try await client.pull(request) }
            #expect(internalError?.code == .internal)
        }
    }

    @Test func unknownMethodIsUnimplemented() async throws {
        try await Self.withServer { _, channel in
            let error = await #expect(throws: RPCError.self) {
                _ = try await channel.unary("/tessera.v1.Nope/Nothing", request: [])
            }
            #expect(error?.code == .unimplemented)
        }
    }

    @Test func malformedRequestIsInvalidArgument() async throws {
        try await Self.withServer { _, channel in
            // Field 1 (string) with a length running past the end of the message.
            let error = await #expect(throws: RPCError.self) {
                _ = try await channel.unary(Methods.ParameterServer.pull, request: [0x0A, 0x7F, 0x01])
            }
            #expect(error?.code == .invalidArgument)
        }
    }

    @Test func deadlineIsHonoured() async throws {
        try await Self.withServer { _, channel in
            var request = Tessera_V1_PullRequest()
            request.table = "slow"
            let started = ContinuousClock.now
            let error = await #expect(throws: RPCError.self) {
                try await ParameterServerClient(channel: channel).pull(request, options: CallOptions(timeout: .milliseconds(50)))
            }
            #expect(error?.code == .deadlineExceeded)
            // The handler would run 20 s; the client gave up at its deadline (generous bound for loaded machines).
            #expect(ContinuousClock.now - started < .seconds(10))
        }
    }

    @Test func unreachablePeerIsUnavailable() async throws {
        // Bind and release a port so that nothing listens on it.
        let server = try GRPCServer(host: "127.0.0.1", port: 0, router: RPCRouter())
        let address = server.address
        await server.shutdown(grace: .zero)
        let channel = try GRPCChannel(target: address)
        let error = await #expect(throws: RPCError.self) {
            try await ParameterServerClient(channel: channel).stats(options: CallOptions(timeout: .seconds(2)))
        }
        #expect(error?.code == .unavailable || error?.code == .deadlineExceeded)
    }

    @Test func manyCallsInFlightOnOneChannel() async throws {
        // Every "gate" handler waits until all of them are inside at once, so
        // the calls succeed only if one channel carries them concurrently.
        let inFlight = 16
        let gate = Gate()
        try await Self.withServer(router: Self.makeRouter(gate: gate, gateSize: inFlight)) { _, channel in
            let client = ParameterServerClient(channel: channel)
            let dims = try await withThrowingTaskGroup(of: UInt32.self) { group in
                for i in 0..<inFlight {
                    group.addTask {
                        var request = Tessera_V1_PullRequest()
                        request.table = "gate"
                        request.keys = Array(0..<UInt64(i))
                        return try await client.pull(request, options: CallOptions(timeout: .seconds(30))).dim
                    }
                }
                var dims: [UInt32] = []
                for try await dim in group { dims.append(dim) }
                return dims.sorted()
            }
            #expect(dims == (0..<UInt32(inFlight)).map { $0 })
            #expect(gate.arrived.load(ordering: .relaxed) == inFlight)
        }
    }

    @Test func echoAnswersInsideTheShim() async throws {
        try await Self.withServer(options: ServerOptions(echo: true)) { _, channel in
            let payload = (0..<65_536).map { UInt8(truncatingIfNeeded: $0 &* 31) }
            let echoed = try await channel.unary(Methods.echo, request: payload)
            #expect(Array(echoed) == payload)
        }
    }

    @Test func echoIsOffByDefault() async throws {
        try await Self.withServer { _, channel in
            let error = await #expect(throws: RPCError.self) { _ = try await channel.unary(Methods.echo, request: [1, 2, 3]) }
            #expect(error?.code == .unimplemented)
        }
    }

    @Test func bindingABusyPortFailsWithAMessage() async throws {
        try await Self.withServer { server, _ in
            let error = #expect(throws: RPCError.self) {
                _ = try GRPCServer(host: "127.0.0.1", port: server.port, router: RPCRouter())
            }
            #expect(error?.message.contains("127.0.0.1:\(server.port)") == true)
        }
    }
}

extension ShimRoundTripTests {
    /// Standard gRPC tooling can ask whether a Tessera server is up (grpc.health.v1.Health).
    @Test func healthCheckAnswersServing() async throws {
        try await Self.withServer { _, channel in
            // HealthCheckRequest{service: ""} is the empty message; SERVING is status = 1 (field 1, varint).
            let response = try await channel.unary("/grpc.health.v1.Health/Check", request: [])
            #expect(Array(response) == [0x08, 0x01])
        }
    }
}
