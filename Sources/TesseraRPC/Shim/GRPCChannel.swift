import CGRPCShim
import Foundation

/// Settings of one outgoing call.
public struct CallOptions: Sendable {
    /// Deadline measured from the start of the call; nil means none.
    public var timeout: Duration?
    /// Extra call metadata (lower-case ASCII keys).
    public var metadata: [(key: String, value: String)]

    public init(timeout: Duration? = .seconds(30), metadata: [(key: String, value: String)] = []) {
        self.timeout = timeout
        self.metadata = metadata
    }
}

/// A client connection to one gRPC server ("host:port"), owning the shim's channel.
///
/// Thread-safe: any number of calls may be in flight on one channel at once.
/// The connection is made lazily; an unreachable peer fails calls with
/// `.unavailable`.
public final class GRPCChannel: Sendable {
    public let target: String
    /// Metadata sent with every call on this channel (e.g. an auth token).
    public let defaultMetadata: [(key: String, value: String)]
    /// Whether the channel connects with TLS.
    public let usesTLS: Bool
    private let handle: ShimHandle

    /// - Parameter tls: connect with TLS (nil: plaintext).
    public init(target: String, maxMessageBytes: Int = 64 << 20,
                defaultMetadata: [(key: String, value: String)] = [], tls: ClientTLS? = nil) throws(RPCError) {
        self.target = target
        self.defaultMetadata = defaultMetadata
        self.usesTLS = tls != nil
        var out: OpaquePointer? = nil
        try withOptionalCStrings([tls?.rootCertificates, tls?.certificateChain, tls?.privateKey, tls?.serverName]) {
            (strings) throws(RPCError) in
            var options = tsr_channel_options(
                max_message_bytes: Int32(clamping: maxMessageBytes), use_tls: tls == nil ? 0 : 1,
                tls_root_certificates: strings[0], tls_certificate_chain: strings[1], tls_private_key: strings[2],
                tls_server_name: strings[3])
            try checkShim("cannot open a channel to \(target)") { error in
                tsr_channel_create(target, &options, &out, error)
            }
        }
        guard let out else { throw RPCError(.internal, "shim returned no channel for \(target)") }
        handle = ShimHandle(pointer: out)
    }

    deinit {
        tsr_channel_destroy(handle.pointer)
    }

    /// Calls `method` with serialized `request` bytes and returns the serialized response.
    ///
    /// Throws `RPCError` with the server's status when the call fails.
    public func unary(_ method: String, request: [UInt8], options: CallOptions = CallOptions()) async throws -> Data {
        let timeoutMs: Int64 = options.timeout.map { Int64(max(1, $0.milliseconds)) } ?? 0
        let metadata = defaultMetadata + options.metadata
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Data, Error>) in
            let box = Unmanaged.passRetained(UnaryCompletion(continuation: continuation, method: method, target: target,
                                                                            usesTLS: usesTLS))
            withMetadata(metadata) { entries, count in
                request.withUnsafeBufferPointer { bytes in
                    tsr_channel_unary(handle.pointer, method, bytes.baseAddress, bytes.count, timeoutMs,
                                      entries, count, unaryCallback, box.toOpaque())
                }
            }
        }
    }
}

/// Carries a continuation through the shim's `void *context`.
private final class UnaryCompletion {
    let continuation: CheckedContinuation<Data, Error>
    let method: String
    let target: String
    let usesTLS: Bool

    init(continuation: CheckedContinuation<Data, Error>, method: String, target: String, usesTLS: Bool) {
        self.continuation = continuation
        self.method = method
        self.target = target
        self.usesTLS = usesTLS
    }
}

private let unaryCallback: tsr_unary_callback = { context, code, message, response, length in
    guard let context else { return }
    let completion = Unmanaged<UnaryCompletion>.fromOpaque(context).takeRetainedValue()
    if code == TSR_OK {
        let data = response.map { Data(bytes: $0, count: length) } ?? Data()
        completion.continuation.resume(returning: data)
    } else {
        let text = message.map { String(cString: $0) } ?? ""
        let status = RPCStatusCode(shim: code)
        var detail = text.isEmpty ? "\(status)" : text
        if status == .unavailable && completion.usesTLS {
            detail += " (with TLS, also check that the server's certificate chains to the CA given and names the host dialled, and, under mutual TLS, that this client presents a certificate the server trusts)"
        }
        completion.continuation.resume(throwing: RPCError(status, "\(completion.method) on \(completion.target): \(detail)"))
    }
}

/// Lays `metadata` out as a C array of `tsr_metadata` valid for the duration of `body`.
private func withMetadata<R>(_ metadata: [(key: String, value: String)],
                             _ body: (UnsafePointer<tsr_metadata>?, Int) -> R) -> R {
    if metadata.isEmpty { return body(nil, 0) }
    let strings = metadata.map { (strdup($0.key), strdup($0.value)) }
    defer { for (k, v) in strings { free(k); free(v) } }
    let entries = strings.map { tsr_metadata(key: UnsafePointer($0.0), value: UnsafePointer($0.1)) }
    return entries.withUnsafeBufferPointer { body($0.baseAddress, $0.count) }
}

extension Duration {
    /// Whole milliseconds, rounded down.
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}

/// Lays `strings` out as C strings (NULL for nil) valid for the duration of `body`.
func withOptionalCStrings<R, E: Error>(_ strings: [String?], _ body: ([UnsafePointer<CChar>?]) throws(E) -> R) throws(E) -> R {
    let copies = strings.map { $0.map { strdup($0) } ?? nil }
    defer { for copy in copies { free(copy) } }
    return try body(copies.map { $0.map { UnsafePointer($0) } })
}
