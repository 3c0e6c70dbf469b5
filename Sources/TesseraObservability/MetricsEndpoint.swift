import FlyingFox
import Foundation
import Prometheus
import Synchronization
import TesseraCore
import struct Logging.Logger

/// Serves one process's Prometheus registry as text at `GET /metrics` (HTTP/1.1).
///
/// Built on FlyingFox (a small HTTP server on Swift concurrency and plain
/// sockets). `refresh` runs before each scrape, to set gauges that are read off
/// the process's state (rows held, the feedback log's end) rather than counted
/// as they happen. Stop it with `stop()`; the process's exit also ends it.
public final class MetricsEndpoint: Sendable {
    /// "host:port" it listens on (the port the OS picked when asked for 0).
    public let address: String
    private let server: HTTPServer
    private let task: Task<Void, Never>

    private init(address: String, server: HTTPServer, task: Task<Void, Never>) {
        self.address = address
        self.server = server
        self.task = task
    }

    /// Listens on `host:port` (IPv4; port 0 lets the OS pick) and returns once listening.
    public static func start(host: String, port: Int, registry: PrometheusCollectorRegistry,
                             refresh: @escaping @Sendable () async -> Void = {}) async throws -> MetricsEndpoint {
        guard (0...65_535).contains(port) else {
            throw ObservabilityError("metrics port \(port) is out of range (0-65535)")
        }
        let socketAddress: sockaddr_in
        do {
            socketAddress = try .inet(ip4: host == "localhost" ? "127.0.0.1" : host, port: UInt16(port))
        } catch {
            throw ObservabilityError("metrics.host: '\(host)' is not an IPv4 address", cause: error)
        }
        let server = HTTPServer(address: socketAddress, timeout: 10, logger: .disabled)
        await server.appendRoute("GET /metrics") { _ in
            await refresh()
            var headers = HTTPHeaders()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return HTTPResponse(statusCode: .ok, headers: headers, body: Data(registry.emitToBuffer()))
        }
        await server.appendRoute("GET /") { _ in
            HTTPResponse(statusCode: .ok, body: Data("Tessera metrics: GET /metrics\n".utf8))
        }
        let failure = Failure()
        let task = Task {
            do { try await server.run() } catch { failure.set(error) }
        }
        do {
            try await server.waitUntilListening(timeout: 5)
        } catch {
            task.cancel()
            throw ObservabilityError("cannot serve metrics on \(host):\(port)", cause: failure.get() ?? error)
        }
        guard case .ip4(let ip, let boundPort)? = await server.listeningAddress else {
            task.cancel()
            throw ObservabilityError("the metrics server on \(host):\(port) reports no IPv4 address")
        }
        return MetricsEndpoint(address: "\(ip):\(boundPort)", server: server, task: task)
    }

    /// Closes the listening socket and waits (up to a second) for open scrapes.
    public func stop() async {
        await server.stop(timeout: 1)
        task.cancel()
    }
}

/// The error a failed run of the server left, if any.
private final class Failure: Sendable {
    private let error = Mutex<(any Error)?>(nil)
    func set(_ value: any Error) { error.withLock { $0 = value } }
    func get() -> (any Error)? { error.withLock { $0 } }
}

extension MetricsEndpoint {
    /// Starts an endpoint per `settings` and logs its address; nil when metrics are disabled.
    public static func start(settings: MetricsSettings, registry: PrometheusCollectorRegistry, logger: Logger,
                             refresh: @escaping @Sendable () async -> Void = {}) async throws -> MetricsEndpoint? {
        guard settings.enabled else { return nil }
        let endpoint = try await start(host: settings.host, port: settings.port, registry: registry, refresh: refresh)
        logger.info("serving metrics", metadata: ["metrics_address": "\(endpoint.address)", "path": "/metrics"])
        return endpoint
    }
}
