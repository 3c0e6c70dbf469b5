import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A whole cluster with a token and mutual TLS, launched as a user would.
@Suite(.serialized) struct SecureClusterTests {
    /// Throwaway certificates (scripts/make-test-certs.sh) in `directory/certs`, made on a
    /// thread of their own so no thread of the cooperative pool blocks on openssl.
    static func makeCertificates(in directory: URL) async throws -> URL {
        let certs = directory.appendingPathComponent("certs")
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: "/bin/bash")
                process.arguments = [Harness.root.appendingPathComponent("scripts/make-test-certs.sh").path, certs.path]
                do {
                    try process.run()
                    process.waitUntilExit()
                    continuation.resume(returning: process.terminationStatus)
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
        #expect(status == 0, "make-test-certs.sh failed (is openssl installed?)")
        return certs
    }

    @Test func securedClusterTrainsAndAnswersOnlyWithTheToken() async throws {
        let dir = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let certs = try await Self.makeCertificates(in: dir)
        let token = "tok-\(UUID().uuidString)"
        try "\(token)\n".write(to: dir.appendingPathComponent("token"), atomically: true, encoding: .utf8)
        let config = try Harness.writeConfig(in: dir, epochs: 2, extra: """
            security:
              require_token: true
              tls: {cert: certs/member.pem, key: certs/member.key, ca: certs/ca.pem, mutual: true}
              limits: {max_keys_per_request: 4096, requests_per_second: 100000}
            """)
        // The token from the environment (TESSERA_TOKEN), as the README recommends.
        let launch = try Spawned(["launch", config, "--serve", "--run-dir", "run"], in: dir, environment: ["TESSERA_TOKEN": token])
        defer { if launch.process.isRunning { launch.killTree() } }
        #expect(await launch.waitForOutput("serving at", timeout: .seconds(240)), "\(launch.stdout)\n\(launch.stderr)")
        // The launcher's own Recommend query went through the token and TLS.
        #expect(launch.stdout.contains("query: Recommend("), "\(launch.stdout)\n\(launch.stderr)")
        #expect(launch.stdout.contains("epoch 2/2"), "\(launch.stdout)")
        let address = try String(contentsOf: dir.appendingPathComponent("run/scheduler.address"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let tls = ["--tls-ca", certs.appendingPathComponent("ca.pem").path, "--tls-cert", certs.appendingPathComponent("member.pem").path,
                   "--tls-key", certs.appendingPathComponent("member.key").path, "--tls-mutual"]
        let ask = ["query", "--scheduler", address, "--user", "7", "-k", "5"]

        let query = try Spawned(ask + tls + ["--token-file", "token"], in: dir, environment: ["TESSERA_TOKEN": ""])
        #expect(await query.wait(timeout: .seconds(30)) == 0, "\(query.stderr)")
        #expect(query.stdout.split(separator: "\n").filter { $0.trimmingCharacters(in: .whitespaces).first?.isNumber == true }.count == 5,
                "\(query.stdout)")

        let fromEnvironment = try Spawned(ask + tls, in: dir, environment: ["TESSERA_TOKEN": token])
        #expect(await fromEnvironment.wait(timeout: .seconds(30)) == 0, "\(fromEnvironment.stderr)")

        let noToken = try Spawned(ask + tls, in: dir, environment: ["TESSERA_TOKEN": ""])
        #expect(await noToken.wait(timeout: .seconds(30)) != 0)
        #expect(noToken.stderr.contains("UNAUTHENTICATED") && noToken.stderr.contains("requires a token"), "\(noToken.stderr)")

        let wrongToken = try Spawned(ask + tls, in: dir, environment: ["TESSERA_TOKEN": "not-\(token)"])
        #expect(await wrongToken.wait(timeout: .seconds(30)) != 0)
        #expect(wrongToken.stderr.contains("UNAUTHENTICATED"), "\(wrongToken.stderr)")

        let noCertificate = try Spawned(ask + ["--tls-ca", certs.appendingPathComponent("ca.pem").path], in: dir,
                                        environment: ["TESSERA_TOKEN": token])
        #expect(await noCertificate.wait(timeout: .seconds(30)) != 0, "mutual TLS let a client without a certificate in")

        let plaintext = try Spawned(ask + ["--timeout", "3"], in: dir, environment: ["TESSERA_TOKEN": token])
        #expect(await plaintext.wait(timeout: .seconds(30)) != 0, "a TLS scheduler answered plaintext")

        // The operator commands carry the token and certificates too.
        let status = try Spawned(["status", "--scheduler", address] + tls, in: dir, environment: ["TESSERA_TOKEN": token])
        #expect(await status.wait(timeout: .seconds(30)) == 0, "\(status.stderr)")
        #expect(status.stdout.contains("state serving"), "\(status.stdout)")
        let checkpoint = try Spawned(["checkpoint", "--scheduler", address] + tls, in: dir, environment: ["TESSERA_TOKEN": token])
        #expect(await checkpoint.wait(timeout: .seconds(60)) == 0, "\(checkpoint.stderr)")
        #expect(checkpoint.stdout.contains("checkpoint of epoch"), "\(checkpoint.stdout)")
        let statusWithoutToken = try Spawned(["status", "--scheduler", address] + tls, in: dir, environment: ["TESSERA_TOKEN": ""])
        #expect(await statusWithoutToken.wait(timeout: .seconds(30)) != 0)
        #expect(statusWithoutToken.stderr.contains("UNAUTHENTICATED"), "\(statusWithoutToken.stderr)")

        if let python = PythonClient.interpreter {
            _ = try PythonClient.run(script: "examples/python/recommend.py", python: python,
                                     arguments: ["--scheduler", address, "--user", "7", "-k", "5", "--token-file", dir.appendingPathComponent("token").path,
                                                 "--tls-ca", certs.appendingPathComponent("ca.pem").path,
                                                 "--tls-cert", certs.appendingPathComponent("member.pem").path,
                                                 "--tls-key", certs.appendingPathComponent("member.key").path])
        }

        launch.signal(SIGINT)
        #expect(await launch.wait(timeout: .seconds(30)) == 130)
        #expect(Harness.children(of: launch.pid).isEmpty, "processes outlived the launcher")

        // Nothing the cluster wrote holds the token: logs, the state directory, the launcher's output.
        let run = dir.appendingPathComponent("run")
        var leaks: [String] = []
        if let files = FileManager.default.enumerator(atPath: run.path) {
            for case let file as String in files {
                let path = run.appendingPathComponent(file).path
                if let data = FileManager.default.contents(atPath: path), String(decoding: data, as: UTF8.self).contains(token) {
                    leaks.append(file)
                }
            }
        }
        #expect(leaks.isEmpty, "the token appears in \(leaks)")
        #expect(!launch.stdout.contains(token) && !launch.stderr.contains(token))
    }
}
