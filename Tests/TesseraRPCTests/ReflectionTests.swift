import Foundation
import SwiftProtobuf
import Testing
import TesseraRPC

/// Server reflection's answers, without a socket: symbols, files, errors.
@Suite struct ReflectionResponderTests {
    typealias Request = Grpc_Reflection_V1_ServerReflectionRequest

    static let responder = ReflectionResponder(services: ["tessera.v1.Inference", "grpc.health.v1.Health", "tessera.v1.Inference"])

    /// The names of the files in a file_descriptor_response, in order.
    static func fileNames(_ response: Grpc_Reflection_V1_ServerReflectionResponse) throws -> [String] {
        guard case .fileDescriptorResponse(let files)? = response.messageResponse else {
            Issue.record("not a file_descriptor_response: \(response)")
            return []
        }
        return try files.fileDescriptorProto.map { try Google_Protobuf_FileDescriptorProto(serializedBytes: $0).name }
    }

    static func symbol(_ name: String) -> Request {
        var request = Request()
        request.fileContainingSymbol = name
        return request
    }

    @Test func listsTheServicesItWasGivenSortedAndUnique() {
        var request = Request()
        request.host = "example:1"
        request.listServices = "*"
        let response = Self.responder.answer(request)
        #expect(response.validHost == "example:1")
        #expect(response.originalRequest == request)
        #expect(response.listServicesResponse.service.map(\.name) == ["grpc.health.v1.Health", "tessera.v1.Inference"])
    }

    @Test(arguments: ["tessera.v1.Inference", "tessera.v1.Inference.Recommend", "tessera.v1.RecommendRequest",
                      ".tessera.v1.RecommendRequest", "tessera.v1.FeedbackType", "tessera.v1.RecommendRequest.user_id"])
    func symbolsOfInferenceProto(_ symbol: String) throws {
        let response = Self.responder.answer(Self.symbol(symbol))
        #expect(try Self.fileNames(response) == ["tessera/v1/inference.proto"])
        // The descriptor is complete: the service and its method are in it.
        guard case .fileDescriptorResponse(let files)? = response.messageResponse else { return }
        let file = try Google_Protobuf_FileDescriptorProto(serializedBytes: files.fileDescriptorProto[0])
        #expect(file.package == "tessera.v1")
        let inference = file.service.first { $0.name == "Inference" }
        #expect(inference?.method.contains { $0.name == "Recommend" && $0.inputType == ".tessera.v1.RecommendRequest" } == true)
        #expect(file.hasSourceCodeInfo, "comments travel with the descriptors")
    }

    @Test func nestedTypesAndDependencies() throws {
        // scheduler.proto imports inference.proto: the file comes first, then its imports.
        #expect(try Self.fileNames(Self.responder.answer(Self.symbol("tessera.v1.Task.Kind"))) ==
                ["tessera/v1/scheduler.proto", "tessera/v1/inference.proto"])
        var byName = Request()
        byName.fileByFilename = "tessera/v1/scheduler.proto"
        #expect(try Self.fileNames(Self.responder.answer(byName)) == ["tessera/v1/scheduler.proto", "tessera/v1/inference.proto"])
        #expect(try Self.fileNames(Self.responder.answer(Self.symbol("tessera.v1.ParameterServer.Pull"))) ==
                ["tessera/v1/parameter_server.proto"])
    }

    @Test func healthAndReflectionDescribeThemselves() throws {
        #expect(try Self.fileNames(Self.responder.answer(Self.symbol("grpc.health.v1.Health.Check"))) == ["grpc/health/v1/health.proto"])
        #expect(try Self.fileNames(Self.responder.answer(Self.symbol("grpc.reflection.v1.ServerReflection"))) ==
                ["grpc/reflection/v1/reflection.proto"])
    }

    @Test(arguments: ["tessera.v1.Nope", "tessera.v1.Inference.Nope", "Inference", ""])
    func unknownSymbolIsNotFound(_ symbol: String) {
        let response = Self.responder.answer(Self.symbol(symbol))
        #expect(response.errorResponse.errorCode == RPCStatusCode.notFound.rawValue)
        #expect(response.errorResponse.errorMessage.contains("'\(symbol)'"))
    }

    @Test func unknownFileIsNotFound() {
        var request = Request()
        request.fileByFilename = "tessera/v1/nope.proto"
        let response = Self.responder.answer(request)
        #expect(response.errorResponse.errorCode == RPCStatusCode.notFound.rawValue)
        #expect(response.errorResponse.errorMessage.contains("tessera/v1/inference.proto"), "names the files it has")
    }

    @Test func extensionsAreNone() {
        var numbers = Request()
        numbers.allExtensionNumbersOfType = "tessera.v1.RecommendRequest"
        let known = Self.responder.answer(numbers)
        #expect(known.allExtensionNumbersResponse.baseTypeName == "tessera.v1.RecommendRequest")
        #expect(known.allExtensionNumbersResponse.extensionNumber.isEmpty)

        numbers.allExtensionNumbersOfType = "tessera.v1.Nope"
        #expect(Self.responder.answer(numbers).errorResponse.errorCode == RPCStatusCode.notFound.rawValue)

        var containing = Request()
        containing.fileContainingExtension.containingType = "tessera.v1.RecommendRequest"
        containing.fileContainingExtension.extensionNumber = 100
        #expect(Self.responder.answer(containing).errorResponse.errorCode == RPCStatusCode.notFound.rawValue)
    }

    @Test func anEmptyRequestIsUnimplemented() {
        #expect(Self.responder.answer(Request()).errorResponse.errorCode == RPCStatusCode.unimplemented.rawValue)
    }

    @Test func catalogHoldsEveryProto() {
        #expect(DescriptorCatalog.tessera.fileNames == [
            "grpc/health/v1/health.proto", "grpc/reflection/v1/reflection.proto",
            "tessera/v1/inference.proto", "tessera/v1/parameter_server.proto", "tessera/v1/scheduler.proto",
        ])
    }
}

/// Reflection served by real servers on loopback.
@Suite struct ReflectionServerTests {
    typealias Request = Grpc_Reflection_V1_ServerReflectionRequest
    typealias Response = Grpc_Reflection_V1_ServerReflectionResponse

    /// A router with one method of each service named (handlers are never called).
    static func router(_ methods: [String]) -> RPCRouter {
        var router = RPCRouter()
        for method in methods {
            router.unary(method) { (_: Tessera_V1_ShardStatsRequest, _) in Tessera_V1_ShardStatsResponse() }
        }
        return router
    }

    static let allServices = [Methods.Inference.recommend, Methods.Scheduler.register, Methods.ParameterServer.pull]

    static func withServer<R>(_ router: RPCRouter, options: ServerOptions = ServerOptions(),
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

    /// One request on a stream of its own (our Swift client makes unary calls).
    static func ask(_ channel: GRPCChannel, _ request: Request, method: String = ServerReflection.v1Method) async throws -> Response {
        try await channel.call(method, request, as: Response.self)
    }

    static func listServices(_ channel: GRPCChannel, method: String = ServerReflection.v1Method) async throws -> [String] {
        var request = Request()
        request.listServices = ""
        return try await ask(channel, request, method: method).listServicesResponse.service.map(\.name)
    }

    @Test(arguments: [ServerReflection.v1Method, ServerReflection.v1AlphaMethod])
    func listsTheServicesThisServerServes(_ method: String) async throws {
        try await Self.withServer(Self.router(Self.allServices)) { _, channel in
            let services = try await Self.listServices(channel, method: method)
            #expect(services == [
                "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection",
                "tessera.v1.Inference", "tessera.v1.ParameterServer", "tessera.v1.Scheduler",
            ])
        }
    }

    @Test func aShardListsOnlyWhatItServes() async throws {
        let options = ServerOptions(healthCheck: false)
        try await Self.withServer(Self.router([Methods.ParameterServer.pull, Methods.ParameterServer.push]), options: options) { _, channel in
            let services = try await Self.listServices(channel)
            #expect(services == [
                "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection", "tessera.v1.ParameterServer",
            ])
        }
    }

    @Test(arguments: [ServerReflection.v1Method, ServerReflection.v1AlphaMethod])
    func describesSymbolsAndRefusesUnknownOnes(_ method: String) async throws {
        try await Self.withServer(Self.router(Self.allServices)) { _, channel in
            for symbol in ["tessera.v1.Inference", "tessera.v1.Inference.Recommend", "tessera.v1.RecommendRequest"] {
                var request = Request()
                request.fileContainingSymbol = symbol
                let response = try await Self.ask(channel, request, method: method)
                let files = try response.fileDescriptorResponse.fileDescriptorProto.map {
                    try Google_Protobuf_FileDescriptorProto(serializedBytes: $0)
                }
                #expect(files.map(\.name) == ["tessera/v1/inference.proto"], "\(symbol)")
                #expect(files.first?.service.contains { $0.name == "Inference" } == true)
            }
            var unknown = Request()
            unknown.fileContainingSymbol = "tessera.v1.Nope"
            let response = try await Self.ask(channel, unknown, method: method)
            #expect(response.errorResponse.errorCode == RPCStatusCode.notFound.rawValue)
            #expect(response.originalRequest == unknown)
        }
    }

    @Test func reflectionCanBeSwitchedOff() async throws {
        try await Self.withServer(Self.router(Self.allServices), options: ServerOptions(reflection: false)) { _, channel in
            let error = await #expect(throws: RPCError.self) { _ = try await Self.listServices(channel) }
            #expect(error?.code == .unimplemented)
        }
    }

    /// The real client tooling path: grpcio-reflection's descriptor database, and
    /// several requests on one v1 stream the way grpcurl sends them.
    @Test func pythonReflectionClientFindsTheAPI() async throws {
        guard let python = PythonScript.interpreter,
              await PythonScript.canImport(["grpc", "grpc_reflection.v1alpha.proto_reflection_descriptor_database"], python: python) else {
            Issue.record("no Python with grpcio-reflection (scripts/python-venv.sh installs it into .venv); the Python reflection client was not exercised")
            return
        }
        try await Self.withServer(Self.router(Self.allServices)) { server, _ in
            let result = try await PythonScript.run(Self.reflectionClient, arguments: [server.address], python: python)
            #expect(result.status == 0, "python failed:\n\(result.stdout)\n\(result.stderr)")
            #expect(result.lines == [
                "services grpc.health.v1.Health grpc.reflection.v1.ServerReflection grpc.reflection.v1alpha.ServerReflection"
                    + " tessera.v1.Inference tessera.v1.ParameterServer tessera.v1.Scheduler",
                "method tessera.v1.Inference.Recommend tessera.v1.RecommendRequest tessera.v1.RecommendResponse",
                "file tessera/v1/inference.proto",
                "nested tessera.v1.Task.Kind tessera/v1/scheduler.proto",
                "missing KeyError",
                "v1 list_services_response 6",
                "v1 file_descriptor_response tessera/v1/inference.proto",
                "v1 error_response 5",
                "v1 closed OK",
            ], "\(result.stdout)\n\(result.stderr)")
        }
    }

    static let reflectionClient = #"""
        import queue, sys
        import grpc
        from google.protobuf import descriptor_pb2, descriptor_pool
        from grpc_reflection.v1alpha import reflection_pb2
        from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

        channel = grpc.insecure_channel(sys.argv[1])
        database = ProtoReflectionDescriptorDatabase(channel)
        print("services", *sorted(database.get_services()))
        pool = descriptor_pool.DescriptorPool(database)
        service = pool.FindServiceByName("tessera.v1.Inference")
        method = service.FindMethodByName("Recommend")
        print("method", method.full_name, method.input_type.full_name, method.output_type.full_name)
        print("file", service.file.name)
        kind = pool.FindEnumTypeByName("tessera.v1.Task.Kind")
        print("nested", kind.full_name, kind.file.name)
        try:
            pool.FindMessageTypeByName("tessera.v1.Nope")
            print("missing found")
        except KeyError:
            print("missing KeyError")

        # One v1 stream, each request sent after the previous answer (the v1alpha
        # messages are the v1 messages on the wire).
        requests = queue.Queue()
        def generate():
            while True:
                item = requests.get()
                if item is None:
                    return
                yield item
        responses = channel.stream_stream("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
            request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
            response_deserializer=reflection_pb2.ServerReflectionResponse.FromString)(generate(), timeout=30)
        def ask(**fields):
            requests.put(reflection_pb2.ServerReflectionRequest(**fields))
            response = next(responses)
            return response, response.WhichOneof("message_response")
        response, kind = ask(list_services="")
        print("v1", kind, len(response.list_services_response.service))
        response, kind = ask(file_containing_symbol="tessera.v1.Inference.Recommend")
        names = [descriptor_pb2.FileDescriptorProto.FromString(b).name for b in response.file_descriptor_response.file_descriptor_proto]
        print("v1", kind, *names)
        response, kind = ask(file_containing_symbol="tessera.v1.Nope")
        print("v1", kind, response.error_response.error_code)
        requests.put(None)
        rest = list(responses)
        print("v1 closed", responses.code().name if not rest else "extra responses")
        """#
}
