import ArgumentParser
import Foundation
import TesseraCore
import TesseraRPC

struct CheckpointCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint",
        abstract: "Checkpoint every shard of a running job now (at the next epoch boundary while training).")

    @Option(help: "The scheduler's host:port.")
    var scheduler: String

    @Option(help: "Seconds to wait for the next epoch boundary.")
    var timeout = 600.0

    func run() async throws {
        let client = SchedulerClient(channel: try GRPCChannel(target: scheduler))
        var request = Tessera_V1_CheckpointJobRequest()
        request.timeoutSeconds = timeout
        let answer: Tessera_V1_CheckpointJobResponse
        do {
            answer = try await client.checkpoint(request, options: CallOptions(timeout: .seconds(timeout + 30)))
        } catch let error as RPCError {
            throw UserError(description: "Checkpoint failed: \(error)")
        }
        print(String(format: "checkpoint of epoch %d: %d rows, %.1f MB in %.2f s (%@) in %@", answer.epoch, answer.rows,
                     Double(answer.bytes) / 1e6, answer.seconds, answer.incremental ? "incremental" : "full", answer.directory))
    }
}

struct Reshard: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Move a job checkpoint's rows to the owners a new shard count gives them (offline).",
        discussion: """
            Reads every shard's chain in --from, writes one full checkpoint per new shard to --to \
            (which must not hold a checkpoint), reads them back, and checks that a checksum over \
            every (table, key, row, optimizer state) is unchanged. `tessera launch --resume` does \
            this itself when the config's shards differ from the checkpoint's.
            """)

    @Option(help: "The checkpoint root to read (with job.json).")
    var from: String

    @Option(help: "Where to write the resharded checkpoint.")
    var to: String

    @Option(help: "The new number of shards.")
    var shards: Int

    @Option(help: "Virtual nodes per shard on the new ring (the config's ring.virtual_nodes).")
    var virtualNodes = RingSettings().virtualNodes

    @Option(help: "Seed of the new ring (the config's ring.seed).")
    var ringSeed = RingSettings().seed

    func run() async throws {
        guard (1...1024).contains(shards) else { throw ValidationError("--shards: between 1 and 1024") }
        let record = try JobCheckpoint.load(root: absolute(from))
        let ring = ConsistentHashRing(shardIDs: (0..<UInt32(shards)).map { $0 }, virtualNodes: virtualNodes, seed: ringSeed)
        let clock = ContinuousClock()
        let start = clock.now
        let report = try CheckpointResharding.reshard(from: absolute(from), to: absolute(to), ring: ring)
        let seconds = (clock.now - start).seconds
        guard report.checksumAfter == report.checksumBefore else {
            throw UserError(description: "resharding changed the rows: checksum \(report.checksumBefore) before, \(report.checksumAfter.map { "\($0)" } ?? "none") after")
        }
        var resharded = record
        resharded.shards = shards
        resharded.virtualNodes = virtualNodes
        resharded.ringSeed = ringSeed
        try resharded.save(root: absolute(to))
        print("resharded \(report.rows) rows from \(record.shards) to \(shards) shards in \(String(format: "%.2f", seconds)) s")
        print(String(format: "moved %.4f of the rows (ideal %.4f%@)", report.movedFraction, report.idealMovedFraction,
                     report.expectedMovedFraction.map { String(format: ", the rings predict %.4f", $0) } ?? ""))
        print("rows per new shard: \(report.rowsPerNewShard.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", "))")
        print("checksum over every (table, key, row, optimizer state): \(report.checksumBefore) before and after")
    }
}
