import Foundation

/// The job-level record of a complete checkpoint: every shard wrote its chain up to the end
/// of `epoch`, under `root/shard-<id>/`. Written atomically (`DurableState`) after all shards
/// answered, so a crash mid-checkpoint leaves the previous record, whose chains the shards'
/// own manifests still describe.
///
/// `tessera launch --resume ROOT` reads it: the shards restore their chains (or the
/// launcher reshards them first when `shards` changed) and training continues at `epoch + 1`.
public struct JobCheckpoint: Codable, Sendable, Hashable {
    public static let fileName = "job.json"

    /// The job's name and the run that wrote the checkpoint.
    public var job: String
    public var runID: String
    /// Offline epochs completed.
    public var epoch: Int
    /// Shards whose chains hold the rows.
    public var shards: Int
    public var virtualNodes: Int
    public var ringSeed: UInt64
    /// Per shard id (as text, so the JSON is an object): the checkpoint sequence written.
    public var shardSequences: [String: UInt64]
    public var rows: Int
    public var bytes: Int64
    /// Seconds from the request to the last shard's answer.
    public var seconds: Double
    /// When it was written (seconds since 1970).
    public var writtenAt: Double

    public init(job: String, runID: String, epoch: Int, shards: Int, virtualNodes: Int, ringSeed: UInt64,
                shardSequences: [String: UInt64], rows: Int, bytes: Int64, seconds: Double, writtenAt: Double) {
        self.job = job
        self.runID = runID
        self.epoch = epoch
        self.shards = shards
        self.virtualNodes = virtualNodes
        self.ringSeed = ringSeed
        self.shardSequences = shardSequences
        self.rows = rows
        self.bytes = bytes
        self.seconds = seconds
        self.writtenAt = writtenAt
    }

    public static func path(root: String) -> String {
        "\(root)/\(fileName)"
    }

    /// The record under `root`.
    /// - Throws: `CheckpointError` naming the file when it is missing or unreadable.
    public static func load(root: String) throws(CheckpointError) -> JobCheckpoint {
        let path = path(root: root)
        guard FileManager.default.fileExists(atPath: path) else {
            throw CheckpointError(.missing, "no job checkpoint at \(path) (is \(root) a checkpoint directory written by `checkpoint:` or `tessera checkpoint`?)", path: path)
        }
        do {
            guard let record = try DurableState(path: path).load(JobCheckpoint.self) else {
                throw CheckpointError(.missing, "\(path) is empty", path: path)
            }
            return record
        } catch let error as CheckpointError {
            throw error
        } catch {
            throw CheckpointError(.corrupt, "\(path) does not parse: \(error)", path: path)
        }
    }

    /// Writes the record under `root` atomically (temporary file, fsync, rename).
    public func save(root: String) throws {
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try DurableState(path: Self.path(root: root)).save(self)
    }
}
