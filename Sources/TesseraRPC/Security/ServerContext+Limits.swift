extension ServerContext {
    /// Refuses a request with more than the server's `max_keys_per_request` keys.
    ///
    /// - Parameter field: the request field that holds the keys, named in the error.
    public func checkKeyCount(_ count: Int, field: String = "keys") throws(RPCError) {
        let limit = call.maxKeysPerRequest
        guard count <= limit else {
            throw RPCError(.invalidArgument,
                           "\(field): \(count) keys in one request, over this server's limit of \(limit) (security.limits.max_keys_per_request); split the request")
        }
    }
}
