import CGRPCShim

/// The one funnel from shim status codes to Swift errors.
///
/// `body` receives the shim's `char **error` out-parameter; a non-OK code
/// becomes an `RPCError` carrying the shim's message, which is freed here.
@discardableResult
func checkShim(_ what: String, _ body: (UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> tsr_code) throws(RPCError) -> tsr_code {
    var message: UnsafeMutablePointer<CChar>? = nil
    let code = body(&message)
    defer { tsr_string_free(message) }
    guard code == TSR_OK else {
        let text = message.map { String(cString: $0) } ?? "no detail"
        throw RPCError(RPCStatusCode(shim: code), "\(what): \(text)")
    }
    return code
}

extension RPCStatusCode {
    init(shim code: tsr_code) {
        self = RPCStatusCode(rawValue: Int32(bitPattern: code.rawValue)) ?? .unknown
    }

    var shim: tsr_code {
        tsr_code(rawValue: UInt32(bitPattern: rawValue))
    }
}

/// An opaque C handle that may be sent between threads: the shim's handles
/// are thread-safe for the operations Tessera performs on them.
struct ShimHandle: @unchecked Sendable {
    let pointer: OpaquePointer
}
