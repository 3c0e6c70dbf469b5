import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `tessera reshard --scheduler HOST:PORT --shards M` on a training cluster
/// started by `tessera launch`: new shards join (or leaving ones stop), rows move
/// while training goes on, every member switches at an epoch boundary, and the
/// run finishes with every row, update and optimizer state intact.
@Suite(.serialized) struct LiveReshardClusterTests {
    /// The stated bound on the pause at the switch (commit on every shard, publish the map).
    static let pauseBoundMilliseconds = 1000.0

    /// The number after `word` on the first line of `text` that contains `marker`.
    static func number(after word: String, in text: String, marker: String) -> Double? {
        guard let line = text.split(separator: "\n").first(where: { $0.contains(marker) }) else { return nil }
        let words = line.split(separator: " ")
        guard let index = words.firstIndex(where: { $0 == word }), index + 1 < words.count else { return nil }
        return Double(words[index + 1].trimmingCharacters(in: CharacterSet(charactersIn: "(),")))
    }

    @Test(arguments: [(2, 4), (4, 2)])
    func reshardDuringTraining(from: Int, to: Int) async throws {
        let dir = try Harness.temporaryDirectory()
        let config = try Harness.writeConfig(in: dir, epochs: 30)
        let launch = try Spawned(["launch", config, "--run-dir", "run", "--set", "shards=\(from)"], in: dir)
        defer { launch.killTree() }
        #expect(await launch.waitForOutput("epoch 2/30", timeout: .seconds(180)), "\(launch.stdout)\n\(launch.stderr)")
        let address = try String(contentsOf: dir.appendingPathComponent("run/scheduler.address"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let reshard = try Spawned(["reshard", "--scheduler", address, "--shards", "\(to)", "--timeout", "120"], in: dir)
        #expect(await reshard.wait(timeout: .seconds(180)) == 0, "\(reshard.stdout)\n\(reshard.stderr)\n\(launch.stdout)")
        let out = reshard.stdout
        print(out)
        #expect(out.contains("resharded live from \(from) to \(to) shards"), "\(out)")
        // Every (table, key, row, optimizer state) at the new owners right after the switch is what the old owners held right before it.
        #expect(out.contains("after: equal"), "\(out)")
        let moved = Self.number(after: "moved", in: out, marker: "of the rows")
        let ideal = Double(abs(to - from)) / Double(max(to, from))
        #expect(moved.map { abs($0 - ideal) < 0.1 } == true, "moved \(String(describing: moved)), ideal \(ideal): \(out)")
        let pause = Self.number(after: "training", in: out, marker: "paused training")
        #expect(pause.map { $0 < Self.pauseBoundMilliseconds } == true, "pause \(String(describing: pause)) ms: \(out)")

        // The run goes on to the end on the new map.
        #expect(await launch.wait(timeout: .seconds(300)) == 0, "\(launch.stdout)\n\(launch.stderr)")
        let log = launch.stdout
        #expect(log.contains("reshard: switched from \(from) to \(to) shards at the end of epoch"), "\(log)")
        #expect(log.contains("epoch 30/30"), "\(log)")
        if to > from {
            #expect(log.contains("reshard: starting shards \(from)...\(to - 1)"), "\(log)")
            for shard in from..<to {
                let server = try String(contentsOf: dir.appendingPathComponent("run/server-\(shard).log"), encoding: .utf8)
                #expect(server.contains("serving"), "server \(shard): \(server)")
            }
        } else {
            for shard in to..<from { #expect(log.contains("server \(shard) (pid"), "\(log)") }
            #expect(log.contains("left the cluster after a live reshard"), "\(log)")
        }
        let summary = try String(contentsOf: dir.appendingPathComponent("run/scheduler.log"), encoding: .utf8)
        #expect(!summary.contains("job failed"), "\(summary)")
        #expect(Harness.children(of: launch.pid).isEmpty, "processes outlived the launcher")
    }

    @Test func aReshardToTheCurrentCountIsRefused() async throws {
        let dir = try Harness.temporaryDirectory()
        let config = try Harness.writeConfig(in: dir, epochs: 30)
        let launch = try Spawned(["launch", config, "--run-dir", "run"], in: dir)
        defer { launch.killTree() }
        #expect(await launch.waitForOutput("epoch 1/30", timeout: .seconds(180)), "\(launch.stdout)\n\(launch.stderr)")
        let address = try String(contentsOf: dir.appendingPathComponent("run/scheduler.address"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let same = try Spawned(["reshard", "--scheduler", address, "--shards", "2"], in: dir)
        #expect(await same.wait(timeout: .seconds(30)) != 0)
        #expect(same.stderr.contains("already has 2 shards"), "\(same.stderr)")
        launch.signal(SIGINT)
        _ = await launch.wait(timeout: .seconds(30))
    }
}
