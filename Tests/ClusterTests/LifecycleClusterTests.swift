import Foundation
import Testing

/// Admission and the row cap on real shard processes, seen through their metrics.
@Suite(.serialized) struct LifecycleClusterTests {
    /// The value of `name` (summed over its label sets, or only those containing `label`) in Prometheus text.
    static func value(_ name: String, in text: String, label: String? = nil) -> Double {
        text.split(separator: "\n").filter { line in
            !line.hasPrefix("#") && (line.hasPrefix(name + " ") || line.hasPrefix(name + "{")) && (label.map { line.contains($0) } ?? true)
        }.compactMap { Double($0.split(separator: " ").last ?? "") }.reduce(0, +)
    }

    @Test func admissionAndTheRowCapHoldOnEveryShard() async throws {
        let dir = try Harness.temporaryDirectory()
        let path = dir.appendingPathComponent("cluster.yaml").path
        try """
            name: lifecycle
            scheduler: {host: 127.0.0.1, port: 0, heartbeat_interval: 0.2, heartbeat_timeout: 5}
            shards: 2
            workers: 2
            data:
              synthetic: {users: 600, items: 300, interactions_per_user: 25, seed: 3}
            model: {kind: bpr_mf, l2: 0.0001}
            tables:
              - {name: user, dim: 16, optimizer: {kind: adagrad, learning_rate: 0.1}, admit_after: 2}
              - {name: item, dim: 16, optimizer: {kind: adagrad, learning_rate: 0.1}, max_rows: 128}
            training: {epochs: 3, batch_size: 512, patience: 0, progress_interval: 1}
            checkpoint: {every_epochs: 1}
            """.write(toFile: path, atomically: true, encoding: .utf8)
        let launch = try Spawned(["launch", path, "--run-dir", "run"], in: dir)
        #expect(await launch.wait(timeout: .seconds(240)) == 0, "\(launch.stdout)\n\(launch.stderr)")
        var admitted = 0.0, evicted = 0.0
        for shard in 0..<2 {
            let text = try String(contentsOf: dir.appendingPathComponent("run/metrics/server-\(shard).prom"), encoding: .utf8)
            let items = Self.value("tessera_shard_rows", in: text, label: "table=\"item\"")
            #expect(items > 0 && items <= 128, "shard \(shard) holds \(items) item rows; the cap is 128")
            admitted += Self.value("tessera_shard_admissions_total", in: text)
            evicted += Self.value("tessera_shard_evictions_total", in: text)
        }
        // Every user is pulled many times, so each is admitted once; 300 items over 2 shards of 128 rows must evict.
        #expect(admitted >= 500 && admitted <= 600, "admitted \(admitted) users")
        #expect(evicted > 0, "no evictions at the cap")
    }
}
