import Foundation

/// Answers gRPC server reflection requests: pure logic, no I/O.
///
/// One request gets one response, the way `ServerReflectionInfo` streams them.
/// Questions that cannot be answered become an `error_response` with a gRPC
/// status code (NOT_FOUND for unknown files and symbols), not a failed call.
public struct ReflectionResponder: Sendable {
    /// The fully-qualified services listed by `list_services`, sorted.
    public let services: [String]
    /// The files that `file_by_filename` and `file_containing_symbol` describe.
    public let catalog: DescriptorCatalog

    public init(services: [String], catalog: DescriptorCatalog = .tessera) {
        self.services = Array(Set(services)).sorted()
        self.catalog = catalog
    }

    /// The answer to one reflection request.
    public func answer(_ request: Grpc_Reflection_V1_ServerReflectionRequest) -> Grpc_Reflection_V1_ServerReflectionResponse {
        var response = Grpc_Reflection_V1_ServerReflectionResponse()
        response.validHost = request.host
        response.originalRequest = request
        response.messageResponse = body(for: request.messageRequest)
        return response
    }

    private func body(
        for question: Grpc_Reflection_V1_ServerReflectionRequest.OneOf_MessageRequest?
    ) -> Grpc_Reflection_V1_ServerReflectionResponse.OneOf_MessageResponse {
        switch question {
        case .listServices:
            var list = Grpc_Reflection_V1_ListServiceResponse()
            list.service = services.map { name in
                var service = Grpc_Reflection_V1_ServiceResponse()
                service.name = name
                return service
            }
            return .listServicesResponse(list)

        case .fileByFilename(let name):
            guard let files = catalog.serializedFileWithDependencies(name) else {
                return error(.notFound, "no file '\(name)' here; files: \(catalog.fileNames.joined(separator: ", "))")
            }
            return fileDescriptors(files)

        case .fileContainingSymbol(let symbol):
            guard let file = catalog.file(definingSymbol: symbol),
                  let files = catalog.serializedFileWithDependencies(file) else {
                return error(.notFound, "no symbol '\(symbol)' here (expected a package-qualified name such as 'tessera.v1.Inference')")
            }
            return fileDescriptors(files)

        case .fileContainingExtension(let extensionRequest):
            let type = extensionRequest.containingType
            guard catalog.isMessageType(type) else { return error(.notFound, "no message type '\(type)' here") }
            return error(.notFound, "'\(type)' has no extension \(extensionRequest.extensionNumber): these protos define no extensions")

        case .allExtensionNumbersOfType(let type):
            guard catalog.isMessageType(type) else { return error(.notFound, "no message type '\(type)' here") }
            // proto3 messages declare no extension ranges: a known type has none.
            var numbers = Grpc_Reflection_V1_ExtensionNumberResponse()
            numbers.baseTypeName = type.hasPrefix(".") ? String(type.dropFirst()) : type
            return .allExtensionNumbersResponse(numbers)

        case nil:
            return error(.unimplemented, "the request asks no question this server knows (set one of the message_request fields)")
        }
    }

    private func fileDescriptors(_ files: [Data]) -> Grpc_Reflection_V1_ServerReflectionResponse.OneOf_MessageResponse {
        var response = Grpc_Reflection_V1_FileDescriptorResponse()
        response.fileDescriptorProto = files
        return .fileDescriptorResponse(response)
    }

    private func error(_ code: RPCStatusCode, _ message: String) -> Grpc_Reflection_V1_ServerReflectionResponse.OneOf_MessageResponse {
        var error = Grpc_Reflection_V1_ErrorResponse()
        error.errorCode = code.rawValue
        error.errorMessage = message
        return .errorResponse(error)
    }
}
