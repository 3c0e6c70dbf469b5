/// gRPC server reflection (`grpc.reflection.v1` and the older `v1alpha`), so
/// that grpcurl, grpcio-reflection, Postman and the like can list and describe
/// a Tessera server without its proto files.
///
/// `GRPCServer` registers it on every server (`ServerOptions.reflection`).
public enum ServerReflection {
    /// The reflection services, under both names clients use.
    public static let serviceNames = ["grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"]
    /// The standard health service that the shim serves (`ServerOptions.healthCheck`).
    public static let healthServiceName = "grpc.health.v1.Health"

    public static let v1Method = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
    public static let v1AlphaMethod = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
}

extension RPCRouter {
    /// Registers server reflection (both names) answering with `responder`.
    public mutating func register(_ responder: ReflectionResponder) {
        for method in [ServerReflection.v1Method, ServerReflection.v1AlphaMethod] {
            stream(method, Grpc_Reflection_V1_ServerReflectionRequest.self) { request, _ in
                responder.answer(request)
            }
        }
    }

    /// Registers server reflection describing this router's services, the
    /// health service when `healthCheck` is on, and reflection itself.
    /// Does nothing if reflection is registered already.
    public mutating func registerReflection(healthCheck: Bool) {
        guard !contains(ServerReflection.v1Method), !contains(ServerReflection.v1AlphaMethod) else { return }
        var services = self.services
        if healthCheck { services.append(ServerReflection.healthServiceName) }
        services += ServerReflection.serviceNames
        register(ReflectionResponder(services: services))
    }
}
