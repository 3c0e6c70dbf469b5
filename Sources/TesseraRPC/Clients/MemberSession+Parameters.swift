import TesseraCore

extension MemberSession {
    /// A client of every shard in `routing` that presents this member's security
    /// and keeps requests within the cluster's `security.limits.max_keys_per_request`.
    public func parameterClient(routing: ShardRouting) throws -> ShardedParameterClient {
        var security = self.security
        security.maxKeysPerRequest = min(security.maxKeysPerRequest, membership.config.security.limits.maxKeysPerRequest)
        let client = try ShardedParameterClient(routing: routing, security: security)
        let config = membership.config
        if config.replication.enabled {
            // A dead leader's follower takes over under a new map: calls wait for it instead of failing.
            client.enableFailover(.init(patience: .seconds(2 * config.scheduler.heartbeatTimeout + 10)) { version, wait in
                try await self.shardMap(newerThan: version, wait: wait)
            })
        }
        return client
    }
}
