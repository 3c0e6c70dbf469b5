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

    @OptionGroup var security: SecurityOptions

    func run() async throws {
        let client = SchedulerClient(channel: try GRPCChannel(target: scheduler, security: try security.resolve().client))
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
        abstract: "Change a job's shard count: live (--scheduler) or on a checkpoint (--from/--to).",
        discussion: """
            Live: `tessera reshard --scheduler HOST:PORT --shards M` reshards a training job without \
            stopping it. New shards join (the launcher starts them), the rows whose owner changes are \
            copied while training goes on (old owners forward every acknowledged change to a moving \
            row before answering), and at the next epoch boundary every member switches to the new \
            shard map. It prints the rows moved against the ideal, the copy throughput, the pause, \
            and a checksum over every (table, key, row, optimizer state) before and after the switch.

            Offline: reads every shard's chain in --from, writes one full checkpoint per new shard to --to \
            (which must not hold a checkpoint), reads them back, and checks that a checksum over \
            every (table, key, row, optimizer state) is unchanged. `tessera launch --resume` does \
            this itself when the config's shards differ from the checkpoint's.
            """)

    @Option(help: "Live: the running job's scheduler host:port.")
    var scheduler: String?

    @Option(help: "Live: seconds to wait for new shards and the next epoch boundary.")
    var timeout = 600.0

    @OptionGroup var security: SecurityOptions

    @Option(help: "Offline: the checkpoint root to read (with job.json).")
    var from: String?

    @Option(help: "Offline: where to write the resharded checkpoint.")
    var to: String?

    @Option(help: "The new number of shards.")
    var shards: Int

    @Option(help: "Virtual nodes per shard on the new ring (the config's ring.virtual_nodes).")
    var virtualNodes = RingSettings().virtualNodes

    @Option(help: "Seed of the new ring (the config's ring.seed).")
    var ringSeed = RingSettings().seed

    func validate() throws {
        guard (1...1024).contains(shards) else { throw ValidationError("--shards: between 1 and 1024") }
        switch (scheduler, from, to) {
        case (.some, nil, nil), (nil, .some, .some): break
        default: throw ValidationError("give --scheduler HOST:PORT (live), or --from DIR and --to DIR (a checkpoint), not both")
        }
    }

    func run() async throws {
        if let scheduler { return try await live(scheduler: scheduler) }
        guard let from, let to else { return }
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

    private func live(scheduler: String) async throws {
        let client = SchedulerClient(channel: try GRPCChannel(target: scheduler, security: try security.resolve().client))
        var request = Tessera_V1_ReshardRequest()
        request.targetShards = UInt32(shards)
        request.timeoutSeconds = timeout
        let answer: Tessera_V1_ReshardResponse
        do {
            answer = try await client.reshard(request, options: CallOptions(timeout: .seconds(timeout + 60)))
        } catch let error as RPCError {
            throw UserError(description: "Live reshard failed: \(error)")
        }
        let fraction = answer.totalRows > 0 ? Double(answer.movedRows) / Double(answer.totalRows) : 0
        print("resharded live from \(answer.fromShards) to \(answer.toShards) shards; shard map version \(answer.shardMapVersion)")
        print(String(format: "moved %.4f of the rows (ideal %.4f): %llu of %llu rows copied in %.2f s (%.0f rows/s)", fraction,
                     answer.idealFraction, answer.movedRows, answer.totalRows, answer.copySeconds, answer.rowsPerSecond))
        print(String(format: "paused training %.1f ms at the switch", answer.pauseSeconds * 1000))
        let same = answer.checksumBefore == answer.checksumAfter && answer.rowsBefore == answer.rowsAfter
        print("checksum over every (table, key, row, optimizer state): \(answer.rowsBefore) rows \(String(answer.checksumBefore, radix: 16)) before, \(answer.rowsAfter) rows \(String(answer.checksumAfter, radix: 16)) after: \(same ? "equal" : "DIFFERENT")")
        guard same else { throw UserError(description: "the rows changed across the switch: some update or optimizer state was lost") }
    }
}
