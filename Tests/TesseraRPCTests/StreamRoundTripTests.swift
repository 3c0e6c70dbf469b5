import Foundation
import SwiftProtobuf
import Synchronization
import Testing
import TesseraRPC

/// Counts the messages each stream call has seen, keeping the calls alive so
/// that no identifier is reused within a test.
final class StreamCounter: Sendable {
    private let counts = Mutex<[ObjectIdentifier: (call: ServerCall, count: Int)]>([:])

    func next(for call: ServerCall) -> Int {
        counts.withLock { counts in
            let count = (counts[ObjectIdentifier(call)]?.count ?? 0) + 1
            counts[ObjectIdentifier(call)] = (call, count)
            return count
        }
    }
}

/// Bidirectional streams through the C shim: one response per request message.
@Suite struct StreamRoundTripTests {
    static let talk = "/tessera.test.v1.Chat/Talk"
    static let drop = "/tessera.test.v1.Chat/Drop"

    /// Talk answers "value#n" (n: the message's position in its stream), fails on
    /// "fail", answers "slow" after 1.5 s and counts "mark" in `marks`; Drop answers
    /// "value" but drops the message "drop" unanswered.
    static func makeRouter(marks: Gate = Gate()) -> RPCRouter {
        var router = RPCRouter()
        let counter = StreamCounter()
        router.stream(talk, Google_Protobuf_StringValue.self) { request, context in
            #expect(context.call.isStream)
            if request.value == "fail" { throw RPCError(.failedPrecondition, "asked to fail") }
            if request.value == "slow" { try await Task.sleep(for: .milliseconds(1500)) }
            if request.value == "mark" { marks.arrived.add(1, ordering: .relaxed) }
            return Google_Protobuf_StringValue("\(request.value)#\(counter.next(for: context.call))")
        }
        router.streamMessages(drop) { message in
            guard let request = try? message.withRequest({ try Google_Protobuf_StringValue(serializedBytes: Data($0)) }),
                  request.value != "drop" else { return }
            message.respond(try! Google_Protobuf_StringValue(request.value).serializedBytes())
        }
        router.unary(Methods.ParameterServer.stats) { (_: Tessera_V1_ShardStatsRequest, _) in
            var response = Tessera_V1_ShardStatsResponse()
            response.shardID = 3
            return response
        }
        return router
    }

    static func withServer<R>(router: RPCRouter = makeRouter(),
                              _ body: (GRPCServer, GRPCChannel) async throws -> R) async throws -> R {
        let server = try GRPCServer(host: "127.0.0.1", port: 0, router: router)
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

    @Test func routerKnowsItsStreamMethods() {
        let router = Self.makeRouter()
        #expect(router.streamMethods == [Self.drop, Self.talk])
        #expect(router.methods == [Self.drop, Self.talk, Methods.ParameterServer.stats])
        #expect(router.services == ["tessera.test.v1.Chat", "tessera.v1.ParameterServer"])
    }

    /// A unary call is a stream of one message at the wire level.
    @Test func oneMessageStreamAnswers() async throws {
        try await Self.withServer { _, channel in
            let response = try await channel.call(Self.talk, Google_Protobuf_StringValue("hello"),
                                                  as: Google_Protobuf_StringValue.self)
            #expect(response.value == "hello#1")
            // Unary methods beside streams are unchanged.
            let stats = try await ParameterServerClient(channel: channel).stats()
            #expect(stats.shardID == 3)
        }
    }

    @Test func manyOneMessageStreamsAtOnce() async throws {
        try await Self.withServer { _, channel in
            let values = try await withThrowingTaskGroup(of: String.self) { group in
                for i in 0..<32 {
                    group.addTask {
                        try await channel.call(Self.talk, Google_Protobuf_StringValue("m\(i)"),
                                               as: Google_Protobuf_StringValue.self).value
                    }
                }
                var values: [String] = []
                for try await value in group { values.append(value) }
                return values.sorted()
            }
            #expect(values == (0..<32).map { "m\($0)#1" }.sorted())
        }
    }

    @Test func handlerErrorEndsTheStreamWithItsStatus() async throws {
        try await Self.withServer { _, channel in
            let error = await #expect(throws: RPCError.self) {
                _ = try await channel.call(Self.talk, Google_Protobuf_StringValue("fail"), as: Google_Protobuf_StringValue.self)
            }
            #expect(error?.code == .failedPrecondition)
            #expect(error?.message.contains("asked to fail") == true)
        }
    }

    @Test func malformedStreamMessageIsInvalidArgument() async throws {
        try await Self.withServer { _, channel in
            let error = await #expect(throws: RPCError.self) {
                _ = try await channel.unary(Self.talk, request: [0x0A, 0x7F, 0x01])
            }
            #expect(error?.code == .invalidArgument)
        }
    }

    /// A message the handler drops unanswered fails the call instead of leaving the client waiting.
    @Test func droppedMessageFailsTheCall() async throws {
        try await Self.withServer { _, channel in
            let kept = try await channel.call(Self.drop, Google_Protobuf_StringValue("keep"), as: Google_Protobuf_StringValue.self)
            #expect(kept.value == "keep")
            let started = ContinuousClock.now
            let error = await #expect(throws: RPCError.self) {
                _ = try await channel.call(Self.drop, Google_Protobuf_StringValue("drop"), as: Google_Protobuf_StringValue.self,
                                           options: CallOptions(timeout: .seconds(20)))
            }
            #expect(error?.code == .internal)
            #expect(error?.message.contains("without answering") == true)
            #expect(ContinuousClock.now - started < .seconds(10))
        }
    }

    /// Several messages per stream, each sent after the previous answer, from Python grpcio.
    @Test func multiMessageStreamsFromPython() async throws {
        guard let python = PythonScript.interpreter,
              await PythonScript.canImport(["grpc", "google.protobuf.wrappers_pb2"], python: python) else {
            Issue.record("no Python with grpcio (scripts/python-venv.sh creates .venv); multi-message streams were not exercised")
            return
        }
        try await Self.withServer { server, _ in
            let result = try await PythonScript.run(Self.chatClient, arguments: [server.address], python: python)
            #expect(result.status == 0, "python failed:\n\(result.stdout)\n\(result.stderr)")
            #expect(result.lines == [
                "a alpha#1 beta#2 gamma#3",
                "bc one#1 uno#1 two#2 dos#2",
                "closed 0 OK", "closed 0 OK", "closed 0 OK",
                "empty 0 OK",
                "fail x#1 FAILED_PRECONDITION asked to fail",
                "drop keep INTERNAL True",
                "deadline DEADLINE_EXCEEDED",
            ], "\(result.stdout)\n\(result.stderr)")
        }
    }

    /// Shutting down while a client holds a stream open between messages ends the
    /// stream instead of waiting for it forever.
    @Test func shutdownEndsAnOpenStream() async throws {
        guard let python = PythonScript.interpreter,
              await PythonScript.canImport(["grpc", "google.protobuf.wrappers_pb2"], python: python) else {
            Issue.record("no Python with grpcio (scripts/python-venv.sh creates .venv); the open stream was not exercised")
            return
        }
        let marks = Gate()
        let server = try GRPCServer(host: "127.0.0.1", port: 0, router: Self.makeRouter(marks: marks))
        async let client = PythonScript.run(Self.waitingClient, arguments: [server.address], python: python)
        let deadline = ContinuousClock.now + .seconds(30)
        while marks.arrived.load(ordering: .relaxed) == 0 && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        // Let the answer reach the client, which then waits for the next response.
        try await Task.sleep(for: .milliseconds(200))
        let started = ContinuousClock.now
        await server.shutdown(grace: .milliseconds(100))
        #expect(ContinuousClock.now - started < .seconds(10))
        let result = try await client
        #expect(result.status == 0, "python failed:\n\(result.stdout)\n\(result.stderr)")
        #expect(result.lines.first == "mark#1", "\(result.stdout)\n\(result.stderr)")
        #expect(result.lines.count == 2 && result.lines[1].hasPrefix("ended "), "\(result.stdout)\n\(result.stderr)")
    }

    static let chatClient = #"""
        import queue, sys
        import grpc
        from google.protobuf import wrappers_pb2

        channel = grpc.insecure_channel(sys.argv[1])

        def open_stream(method):
            requests = queue.Queue()
            def generate():
                while True:
                    item = requests.get()
                    if item is None:
                        return
                    yield wrappers_pb2.StringValue(value=item)
            call = channel.stream_stream(method,
                request_serializer=wrappers_pb2.StringValue.SerializeToString,
                response_deserializer=wrappers_pb2.StringValue.FromString)(generate(), timeout=30)
            return requests, call

        def ask(stream, word):
            requests, call = stream
            requests.put(word)
            return next(call).value

        def close(stream):
            requests, call = stream
            requests.put(None)
            rest = [response.value for response in call]
            return len(rest), call.code().name

        def failure(stream, word):
            try:
                ask(stream, word)
                return "answered"
            except grpc.RpcError as error:
                return error.code().name, error.details()

        talk = "/tessera.test.v1.Chat/Talk"
        a = open_stream(talk)
        print("a", ask(a, "alpha"), ask(a, "beta"), ask(a, "gamma"))
        b, c = open_stream(talk), open_stream(talk)
        print("bc", ask(b, "one"), ask(c, "uno"), ask(b, "two"), ask(c, "dos"))
        for stream in (a, b, c):
            print("closed", *close(stream))
        print("empty", *close(open_stream(talk)))
        f = open_stream(talk)
        first = ask(f, "x")
        code, details = failure(f, "fail")
        print("fail", first, code, details)
        d = open_stream("/tessera.test.v1.Chat/Drop")
        kept = ask(d, "keep")
        code, details = failure(d, "drop")
        print("drop", kept, code, "without answering" in details)
        # The client gives up while the handler holds its message; the late answer is dropped.
        requests = queue.Queue()
        requests.put(wrappers_pb2.StringValue(value="slow"))
        slow = channel.stream_stream(talk,
            request_serializer=wrappers_pb2.StringValue.SerializeToString,
            response_deserializer=wrappers_pb2.StringValue.FromString)(iter(requests.get, None), timeout=0.5)
        try:
            next(slow)
            print("deadline answered")
        except grpc.RpcError as error:
            print("deadline", error.code().name)
        requests.put(None)
        """#

    static let waitingClient = #"""
        import queue, sys
        import grpc
        from google.protobuf import wrappers_pb2

        channel = grpc.insecure_channel(sys.argv[1])
        requests = queue.Queue()
        requests.put(wrappers_pb2.StringValue(value="mark"))
        call = channel.stream_stream("/tessera.test.v1.Chat/Talk",
            request_serializer=wrappers_pb2.StringValue.SerializeToString,
            response_deserializer=wrappers_pb2.StringValue.FromString)(iter(requests.get, None), timeout=30)
        print(next(call).value, flush=True)
        try:
            rest = list(call)
            print("ended", call.code().name, len(rest))
        except grpc.RpcError as error:
            print("ended", error.code().name)
        requests.put(None)
        """#
}
