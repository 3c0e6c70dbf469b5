import Foundation
import TesseraCore
import TesseraRPC

/// Throwaway certificates from `scripts/make-test-certs.sh`, in a fresh temporary folder.
struct TestCertificates {
    let directory: URL

    /// Makes them with openssl; throws with its output when that fails.
    ///
    /// Waits on a thread of its own: blocking a thread of the cooperative pool would
    /// stall other tests' loopback servers on a two-core machine.
    static func make() async throws -> TestCertificates {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Result { try makeBlocking() })
            }
        }
    }

    private static func makeBlocking() throws -> TestCertificates {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-certs-\(UUID().uuidString.prefix(8))")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [root.appendingPathComponent("scripts/make-test-certs.sh").path, directory.path]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            throw RPCError(.internal, "make-test-certs.sh failed (is openssl installed?): \(text)")
        }
        return TestCertificates(directory: directory)
    }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    func pem(_ name: String) throws -> String { try String(contentsOfFile: path(name), encoding: .utf8) }

    func remove() { try? FileManager.default.removeItem(at: directory) }
}

/// A server on loopback, shut down after `body` whether it throws or not.
func withSecuredServer<R>(_ security: ServerSecurity, router: RPCRouter = ShimRoundTripTests.makeRouter(),
                          _ body: (GRPCServer) async throws -> R) async throws -> R {
    let server = try GRPCServer(host: "127.0.0.1", port: 0, router: router, options: ServerOptions(security: security))
    do {
        let result = try await body(server)
        await server.shutdown(grace: .milliseconds(200))
        return result
    } catch {
        await server.shutdown(grace: .milliseconds(200))
        throw error
    }
}

/// The status code a call ended with (`.ok` when it succeeded).
func statusOf(_ call: () async throws -> Void) async -> (code: RPCStatusCode, message: String) {
    do {
        try await call()
        return (.ok, "")
    } catch let error as RPCError {
        return (error.code, error.message)
    } catch {
        return (.unknown, "\(error)")
    }
}
