import Foundation
import SwiftProtobuf

/// Full gRPC method names of Tessera's services (`Protos/tessera/v1`).
public enum Methods {
    public enum ParameterServer {
        public static let pull = "/tessera.v1.ParameterServer/Pull"
        public static let push = "/tessera.v1.ParameterServer/Push"
        public static let stats = "/tessera.v1.ParameterServer/Stats"
        public static let scoreItems = "/tessera.v1.ParameterServer/ScoreItems"
        public static let updateCounters = "/tessera.v1.ParameterServer/UpdateCounters"
        public static let assign = "/tessera.v1.ParameterServer/Assign"
        public static let checkpoint = "/tessera.v1.ParameterServer/Checkpoint"
        public static let restore = "/tessera.v1.ParameterServer/Restore"
        public static let replicate = "/tessera.v1.ParameterServer/Replicate"
        public static let promote = "/tessera.v1.ParameterServer/Promote"
        public static let migrate = "/tessera.v1.ParameterServer/Migrate"
    }

    public enum Scheduler {
        public static let register = "/tessera.v1.Scheduler/Register"
        public static let heartbeat = "/tessera.v1.Scheduler/Heartbeat"
        public static let getShardMap = "/tessera.v1.Scheduler/GetShardMap"
        public static let barrier = "/tessera.v1.Scheduler/Barrier"
        public static let getTask = "/tessera.v1.Scheduler/GetTask"
        public static let reportProgress = "/tessera.v1.Scheduler/ReportProgress"
        public static let reportFailure = "/tessera.v1.Scheduler/ReportFailure"
        public static let getJobStatus = "/tessera.v1.Scheduler/GetJobStatus"
        public static let shutdown = "/tessera.v1.Scheduler/Shutdown"
        public static let readFeedback = "/tessera.v1.Scheduler/ReadFeedback"
        public static let getConsumer = "/tessera.v1.Scheduler/GetConsumer"
        public static let commitConsumer = "/tessera.v1.Scheduler/CommitConsumer"
        public static let checkpoint = "/tessera.v1.Scheduler/Checkpoint"
        public static let reshard = "/tessera.v1.Scheduler/Reshard"
    }

    public enum Inference {
        public static let recommend = "/tessera.v1.Inference/Recommend"
        public static let score = "/tessera.v1.Inference/Score"
        public static let feedback = "/tessera.v1.Inference/Feedback"
    }

    /// Answered inside the shim when a server enables echo (benchmarks).
    public static let echo = "/tessera.bench.v1.Echo/Echo"
}

extension GRPCChannel {
    /// Calls a unary protobuf method.
    public func call<Request: SwiftProtobuf.Message, Response: SwiftProtobuf.Message>(
        _ method: String, _ request: Request, as: Response.Type = Response.self,
        options: CallOptions = CallOptions()
    ) async throws -> Response {
        let bytes: [UInt8]
        do {
            bytes = try request.serializedBytes()
        } catch {
            throw RPCError(.internal, "cannot serialize \(Request.protoMessageName): \(error)")
        }
        let response = try await unary(method, request: bytes, options: options)
        do {
            return try Response(serializedBytes: response)
        } catch {
            throw RPCError(.internal, "malformed \(Response.protoMessageName) from \(target): \(error)")
        }
    }
}
