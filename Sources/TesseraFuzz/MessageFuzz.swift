import Foundation
import SwiftProtobuf
import TesseraCore
import TesseraRPC

/// Decodes random bytes as the wire protocol's messages, in binary (what the
/// RPC router does with every request and response) and in JSON, and feeds the
/// messages that Tessera turns into its own types through those conversions.
///
/// The first byte picks the message type (and JSON with its top bit); the rest is the payload.
enum MessageFuzz {
    /// Every message type in `Sources/TesseraRPC/Generated`.
    static let types: [any SwiftProtobuf.Message.Type] = [
        Tessera_V1_RecommendRequest.self, Tessera_V1_ScoredItem.self, Tessera_V1_RecommendResponse.self,
        Tessera_V1_ScoreRequest.self, Tessera_V1_ScoreResponse.self, Tessera_V1_FeedbackRequest.self,
        Tessera_V1_FeedbackResponse.self, Tessera_V1_PullRequest.self, Tessera_V1_PullResponse.self,
        Tessera_V1_PushRequest.self, Tessera_V1_PushResponse.self, Tessera_V1_ScoreItemsRequest.self,
        Tessera_V1_ScoredKey.self, Tessera_V1_ScoreItemsResponse.self, Tessera_V1_CounterDelta.self,
        Tessera_V1_UpdateCountersRequest.self, Tessera_V1_UpdateCountersResponse.self, Tessera_V1_AssignRequest.self,
        Tessera_V1_AssignResponse.self, Tessera_V1_ShardStatsRequest.self, Tessera_V1_TableStats.self,
        Tessera_V1_ShardStatsResponse.self, Tessera_V1_RegisterRequest.self, Tessera_V1_RegisterResponse.self,
        Tessera_V1_HeartbeatRequest.self, Tessera_V1_HeartbeatResponse.self, Tessera_V1_ShardMapRequest.self,
        Tessera_V1_ShardMap.self, Tessera_V1_ShardEndpoint.self, Tessera_V1_BarrierRequest.self,
        Tessera_V1_BarrierResponse.self, Tessera_V1_TaskRequest.self, Tessera_V1_Task.self,
        Tessera_V1_ProgressReport.self, Tessera_V1_ProgressAck.self, Tessera_V1_FailureReport.self,
        Tessera_V1_FailureAck.self, Tessera_V1_Evaluation.self, Tessera_V1_JobStatusRequest.self,
        Tessera_V1_JobStatus.self, Tessera_V1_ShutdownRequest.self, Tessera_V1_ShutdownResponse.self,
        Tessera_V1_LoggedFeedback.self, Tessera_V1_ReadFeedbackRequest.self, Tessera_V1_ReadFeedbackResponse.self,
        Tessera_V1_ConsumerState.self, Tessera_V1_GetConsumerRequest.self,
        Grpc_Reflection_V1_ServerReflectionRequest.self, Grpc_Reflection_V1_ExtensionRequest.self,
        Grpc_Reflection_V1_ServerReflectionResponse.self, Grpc_Reflection_V1_FileDescriptorResponse.self,
        Grpc_Reflection_V1_ExtensionNumberResponse.self, Grpc_Reflection_V1_ListServiceResponse.self,
        Grpc_Reflection_V1_ServiceResponse.self, Grpc_Reflection_V1_ErrorResponse.self,
    ]

    static func run(_ input: [UInt8]) {
        let selector = Selector(input)
        let type = types[Int(selector.choice & 0x7F) % types.count]
        let payload = Array(selector.rest)
        let message: any SwiftProtobuf.Message
        do {
            if selector.bit(7) {
                message = try type.init(jsonUTF8Bytes: payload, extensions: nil, options: JSONDecodingOptions())
            } else {
                message = try type.init(serializedBytes: payload, extensions: nil, partial: false, options: BinaryDecodingOptions())
            }
        } catch {
            return
        }
        // A decoded message re-encodes (the router sends responses back out).
        _ = try? message.serializedBytes() as [UInt8]
        _ = try? message.jsonString()
        consume(message)
    }

    /// What Tessera's own code builds from decoded messages.
    static func consume(_ message: any SwiftProtobuf.Message) {
        switch message {
        case let map as Tessera_V1_ShardMap:
            // Workers and shards route with the map the scheduler sends. A map within the
            // limits but with millions of ring points is legitimate, only slow under ASan:
            // skipped, so that the 10 s hang limit means a hang. Beyond the limits it must throw.
            let limits = ShardRouting.mapLimits
            let shards = Set(map.shards.map(\.shardID)).count
            let withinLimits = map.virtualNodes <= limits.virtualNodes && shards <= limits.shards
            guard !withinLimits || shards * Int(max(1, map.virtualNodes)) <= 1 << 18 else { return }
            guard let routing = try? ShardRouting(map) else { return }
            precondition(withinLimits, "a shard map beyond the limits was accepted")
            _ = routing.ring.shard(for: 42)
            _ = routing.message
        case let register as Tessera_V1_RegisterResponse:
            // Members read the cluster config the scheduler sends as JSON.
            _ = try? JSONDecoder().decode(ClusterConfig.self, from: register.clusterConfigJson)
        case let pull as Tessera_V1_PullResponse:
            decodeRows(pull.values, encoding: pull.encoding, dim: pull.dim)
        case let push as Tessera_V1_PushRequest:
            decodeRows(push.gradients, encoding: push.encoding, dim: push.dim, keys: push.keys.count)
        case let assign as Tessera_V1_AssignRequest:
            decodeRows(assign.values, encoding: assign.encoding, dim: assign.dim, keys: assign.keys.count)
        default:
            break
        }
    }

    /// Decodes a rows payload the way a shard or worker does: `keys × dim` values,
    /// refused unless the payload holds exactly that many.
    static func decodeRows(_ payload: Data, encoding: Tessera_V1_RowEncoding, dim: UInt32, keys: Int? = nil) {
        guard let width = RowPayload.bytesPerValue(encoding), dim > 0 else { return }
        let rows = keys ?? payload.count / (width * Int(dim))
        let (count, overflow) = rows.multipliedReportingOverflow(by: Int(dim))
        // Tessera allocates the output only when the payload is that size; do the same.
        guard !overflow, count * width == payload.count else { return }
        var output = [Float](repeating: 0, count: count)
        output.withUnsafeMutableBufferPointer { buffer in
            try? RowPayload.decode(payload, as: encoding, into: buffer, field: "values")
        }
    }
}
