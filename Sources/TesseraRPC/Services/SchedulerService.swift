/// The server side of `tessera.v1.Scheduler`.
public protocol SchedulerService: Sendable {
    func register(_ request: Tessera_V1_RegisterRequest, context: ServerContext) async throws -> Tessera_V1_RegisterResponse
    func heartbeat(_ request: Tessera_V1_HeartbeatRequest, context: ServerContext) async throws -> Tessera_V1_HeartbeatResponse
    func getShardMap(_ request: Tessera_V1_ShardMapRequest, context: ServerContext) async throws -> Tessera_V1_ShardMap
    func barrier(_ request: Tessera_V1_BarrierRequest, context: ServerContext) async throws -> Tessera_V1_BarrierResponse
    func getTask(_ request: Tessera_V1_TaskRequest, context: ServerContext) async throws -> Tessera_V1_Task
    func reportProgress(_ request: Tessera_V1_ProgressReport, context: ServerContext) async throws -> Tessera_V1_ProgressAck
    func reportFailure(_ request: Tessera_V1_FailureReport, context: ServerContext) async throws -> Tessera_V1_FailureAck
    func getJobStatus(_ request: Tessera_V1_JobStatusRequest, context: ServerContext) async throws -> Tessera_V1_JobStatus
    func shutdown(_ request: Tessera_V1_ShutdownRequest, context: ServerContext) async throws -> Tessera_V1_ShutdownResponse
    func readFeedback(_ request: Tessera_V1_ReadFeedbackRequest, context: ServerContext) async throws -> Tessera_V1_ReadFeedbackResponse
    func getConsumer(_ request: Tessera_V1_GetConsumerRequest, context: ServerContext) async throws -> Tessera_V1_ConsumerState
    func commitConsumer(_ request: Tessera_V1_ConsumerState, context: ServerContext) async throws -> Tessera_V1_ConsumerState
    func checkpoint(_ request: Tessera_V1_CheckpointJobRequest, context: ServerContext) async throws -> Tessera_V1_CheckpointJobResponse
    func reshard(_ request: Tessera_V1_ReshardRequest, context: ServerContext) async throws -> Tessera_V1_ReshardResponse
}

extension RPCRouter {
    /// Routes the Scheduler methods to `service`.
    public mutating func register(_ service: some SchedulerService) {
        unary(Methods.Scheduler.register) { try await service.register($0, context: $1) }
        unary(Methods.Scheduler.heartbeat) { try await service.heartbeat($0, context: $1) }
        unary(Methods.Scheduler.getShardMap) { try await service.getShardMap($0, context: $1) }
        unary(Methods.Scheduler.barrier) { try await service.barrier($0, context: $1) }
        unary(Methods.Scheduler.getTask) { try await service.getTask($0, context: $1) }
        unary(Methods.Scheduler.reportProgress) { try await service.reportProgress($0, context: $1) }
        unary(Methods.Scheduler.reportFailure) { try await service.reportFailure($0, context: $1) }
        unary(Methods.Scheduler.getJobStatus) { try await service.getJobStatus($0, context: $1) }
        unary(Methods.Scheduler.shutdown) { try await service.shutdown($0, context: $1) }
        unary(Methods.Scheduler.readFeedback) { try await service.readFeedback($0, context: $1) }
        unary(Methods.Scheduler.getConsumer) { try await service.getConsumer($0, context: $1) }
        unary(Methods.Scheduler.commitConsumer) { try await service.commitConsumer($0, context: $1) }
        unary(Methods.Scheduler.checkpoint) { try await service.checkpoint($0, context: $1) }
        unary(Methods.Scheduler.reshard) { try await service.reshard($0, context: $1) }
    }
}

/// A typed client of `tessera.v1.Scheduler`.
public struct SchedulerClient: Sendable {
    public let channel: GRPCChannel

    public init(channel: GRPCChannel) {
        self.channel = channel
    }

    public func register(_ request: Tessera_V1_RegisterRequest, options: CallOptions = CallOptions()) async throws -> Tessera_V1_RegisterResponse {
        try await channel.call(Methods.Scheduler.register, request, options: options)
    }

    public func heartbeat(_ request: Tessera_V1_HeartbeatRequest, options: CallOptions = CallOptions()) async throws -> Tessera_V1_HeartbeatResponse {
        try await channel.call(Methods.Scheduler.heartbeat, request, options: options)
    }

    public func getShardMap(_ request: Tessera_V1_ShardMapRequest, options: CallOptions = CallOptions()) async throws -> Tessera_V1_ShardMap {
        try await channel.call(Methods.Scheduler.getShardMap, request, options: options)
    }

    public func barrier(_ request: Tessera_V1_BarrierRequest, options: CallOptions = CallOptions()) async throws -> Tessera_V1_BarrierResponse {
        try await channel.call(Methods.Scheduler.barrier, request, options: options)
    }

    public func getTask(_ request: Tessera_V1_TaskRequest, options: CallOptions = CallOptions()) async throws -> Tessera_V1_Task {
        try await channel.call(Methods.Scheduler.getTask, request, options: options)
    }

    public func reportProgress(_ request: Tessera_V1_ProgressReport, options: CallOptions = CallOptions()) async throws -> Tessera_V1_ProgressAck {
        try await channel.call(Methods.Scheduler.reportProgress, request, options: options)
    }

    public func reportFailure(_ request: Tessera_V1_FailureReport, options: CallOptions = CallOptions()) async throws -> Tessera_V1_FailureAck {
        try await channel.call(Methods.Scheduler.reportFailure, request, options: options)
    }

    public func getJobStatus(options: CallOptions = CallOptions()) async throws -> Tessera_V1_JobStatus {
        try await channel.call(Methods.Scheduler.getJobStatus, Tessera_V1_JobStatusRequest(), options: options)
    }

    public func readFeedback(_ request: Tessera_V1_ReadFeedbackRequest, options: CallOptions = CallOptions()) async throws -> Tessera_V1_ReadFeedbackResponse {
        try await channel.call(Methods.Scheduler.readFeedback, request, options: options)
    }

    public func checkpoint(_ request: Tessera_V1_CheckpointJobRequest, options: CallOptions = CallOptions()) async throws -> Tessera_V1_CheckpointJobResponse {
        try await channel.call(Methods.Scheduler.checkpoint, request, options: options)
    }

    /// Reshards the running cluster to `target_shards` (see `ReshardRequest`); answers once every member serves the new map.
    public func reshard(_ request: Tessera_V1_ReshardRequest, options: CallOptions = CallOptions()) async throws -> Tessera_V1_ReshardResponse {
        try await channel.call(Methods.Scheduler.reshard, request, options: options)
    }

    public func getConsumer(_ request: Tessera_V1_GetConsumerRequest, options: CallOptions = CallOptions()) async throws -> Tessera_V1_ConsumerState {
        try await channel.call(Methods.Scheduler.getConsumer, request, options: options)
    }

    public func commitConsumer(_ request: Tessera_V1_ConsumerState, options: CallOptions = CallOptions()) async throws -> Tessera_V1_ConsumerState {
        try await channel.call(Methods.Scheduler.commitConsumer, request, options: options)
    }

    public func shutdown(reason: String, options: CallOptions = CallOptions()) async throws {
        var request = Tessera_V1_ShutdownRequest()
        request.reason = reason
        _ = try await channel.call(Methods.Scheduler.shutdown, request, as: Tessera_V1_ShutdownResponse.self, options: options)
    }
}
