import TesseraCore

extension MemberSession {
    /// A client of every shard in `routing` that presents this member's security
    /// and keeps requests within the cluster's `security.limits.max_keys_per_request`.
    public func parameterClient(routing: ShardRouting) throws -> ShardedParameterClient {
        var security = self.security
        security.maxKeysPerRequest = min(security.maxKeysPerRequest, membership.config.security.limits.maxKeysPerRequest)
        return try ShardedParameterClient(routing: routing, security: security)
    }
}
