import FlyingFox
import Foundation

/// Fetches a process's `/metrics` over HTTP (what Prometheus does), for the
/// launcher's end-of-run snapshots, `tessera status` and tests.
public enum MetricsScraper {
    /// The body of `GET http://address/metrics`; throws when it cannot be fetched within `timeout`.
    public static func scrape(_ address: String, path: String = "/metrics", timeout: Duration = .seconds(5)) async throws -> String {
        guard let colon = address.lastIndex(of: ":"), let port = UInt16(address[address.index(after: colon)...]) else {
            throw ObservabilityError("'\(address)' is not host:port")
        }
        var host = String(address[..<colon])
        if host == "localhost" || host.isEmpty || host == "0.0.0.0" { host = "127.0.0.1" }
        let socketAddress = try sockaddr_in.inet(ip4: host, port: port)
        return try await withThrowingTaskGroup(of: String.self) { group in
            group.addTask {
                var client = HTTPClient()
                var headers = HTTPHeaders()
                headers[.host] = address
                headers[.connection] = "close"
                let request = HTTPRequest(method: .GET, version: .http11, path: path, query: [], headers: headers, body: HTTPBodySequence(data: Data()))
                let response = try await client.sendHTTPRequest(request, to: socketAddress)
                let body = try await response.bodyData
                guard response.statusCode == .ok else {
                    throw ObservabilityError("GET http://\(address)\(path) answered \(response.statusCode.code)")
                }
                return String(decoding: body, as: UTF8.self)
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw ObservabilityError("GET http://\(address)\(path) took longer than \(timeout)")
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }
}
