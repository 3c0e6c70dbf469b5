import Foundation
import Testing
import TesseraCore

/// Damaged, cut, missing or unreadable checkpoint files are refused with a message naming the file.
@Suite struct CheckpointCorruptionTests {
    typealias Support = CheckpointTestSupport

    /// A chain of shard 1 (full + one incremental) under a fresh root; returns the shard directory.
    private static func chain(in root: String) throws -> String {
        let directory = CheckpointFormat.shardDirectory(root: root, shardID: 1)
        let tables = try Support.makeTables()
        try Support.train(tables, keys: Array(UInt64(0)..<3_000), round: 0)
        let writer = try CheckpointWriter(directory: directory, shardID: 1)
        _ = try writer.checkpoint(tables: tables, kind: .full, shardCount: 2, ring: nil)
        try Support.train(tables, keys: Array(UInt64(0)..<1_000), round: 1)
        _ = try writer.checkpoint(tables: tables, kind: .incremental, shardCount: 2, ring: nil)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).sorted() == ["000001.full", "000002.inc", "manifest.json"])
        // Intact, it restores.
        _ = try RestoredShard.load(directory: directory)
        return directory
    }

    private static func refusal(_ directory: String) -> CheckpointError? {
        Support.failure { _ = try RestoredShard.load(directory: directory) }
    }

    @Test(arguments: ["000001.full", "000002.inc"])
    func aFlippedByteInRowsIsACorruptBlock(file: String) async throws {
        try await Support.withDirectory { root in
            let directory = try Self.chain(in: root)
            let path = directory + "/" + file
            var bytes = try Support.bytes(of: path)
            bytes[bytes.count / 2] ^= 0x10
            try Support.write(bytes, to: path)
            let error = try #require(Self.refusal(directory))
            #expect(error.code == .corrupt)
            #expect(error.message.hasPrefix("checkpoint shard-1/\(file): checksum mismatch at block "), "\(error.message)")
            #expect(error.path == path)
        }
    }

    @Test func aFlippedByteInABlockHeaderIsNamed() async throws {
        try await Support.withDirectory { root in
            let directory = try Self.chain(in: root)
            let path = directory + "/000002.inc"
            var bytes = try Support.bytes(of: path)
            bytes[9] ^= 0x01  // block 0's type, right after the 8-byte magic
            try Support.write(bytes, to: path)
            let error = try #require(Self.refusal(directory))
            #expect(error.message == "checkpoint shard-1/000002.inc: checksum mismatch in the header of block 0 (byte 8)")
        }
    }

    @Test func aTruncatedFileIsRefused() async throws {
        try await Support.withDirectory { root in
            let directory = try Self.chain(in: root)
            let path = directory + "/000002.inc"
            let bytes = try Support.bytes(of: path)
            try Support.write(Array(bytes.prefix(bytes.count - 100)), to: path)
            let error = try #require(Self.refusal(directory))
            #expect(error.code == .corrupt)
            #expect(error.message == "checkpoint shard-1/000002.inc: truncated: \(bytes.count - 100) bytes, the manifest records \(bytes.count)")
        }
    }

    @Test func aCutFileIsFoundByItsBlocksEvenIfTheManifestAgrees() async throws {
        try await Support.withDirectory { root in
            let directory = try Self.chain(in: root)
            let path = directory + "/000001.full"
            let bytes = try Support.bytes(of: path)
            let cut = bytes.count - 30
            try Support.write(Array(bytes.prefix(cut)), to: path)
            // Rewrite the manifest to the cut size, as if it were written after a bad copy.
            let manifestPath = directory + "/manifest.json"
            var manifest = try JSONDecoder().decode(CheckpointManifest.self, from: Data(contentsOf: URL(fileURLWithPath: manifestPath)))
            manifest.chain[0].bytes = Int64(cut)
            try manifest.save(directory: directory)
            let error = try #require(Self.refusal(directory))
            #expect(error.message.hasPrefix("checkpoint shard-1/000001.full: "), "\(error.message)")
            #expect(error.message.contains("block") && (error.message.contains("truncated") || error.message.contains("more than")),
                    "\(error.message)")
        }
    }

    @Test func aDeletedFileIsMissing() async throws {
        try await Support.withDirectory { root in
            let directory = try Self.chain(in: root)
            try FileManager.default.removeItem(atPath: directory + "/000002.inc")
            let error = try #require(Self.refusal(directory))
            #expect(error.code == .missing)
            #expect(error.message == "checkpoint shard-1/000002.inc: file is missing (the manifest lists it as part of the chain)")
        }
    }

    @Test func aGarbageOrMissingManifestIsRefused() async throws {
        try await Support.withDirectory { root in
            let directory = try Self.chain(in: root)
            let manifest = directory + "/manifest.json"
            try Support.write(Array("{\"format\": \"tessera-shard-checkpoint\", \"chain\": [1, 2".utf8), to: manifest)
            let garbage = try #require(Self.refusal(directory))
            #expect(garbage.code == .corrupt)
            #expect(garbage.message.hasPrefix("checkpoint shard-1/manifest.json: does not parse as a checkpoint manifest"), "\(garbage.message)")

            try FileManager.default.removeItem(atPath: manifest)
            let missing = try #require(Self.refusal(directory))
            #expect(missing.code == .missing)
            #expect(missing.message.hasPrefix("checkpoint shard-1/manifest.json: no manifest"), "\(missing.message)")
        }
    }

    @Test func aManifestThatDisagreesWithAFileIsRefused() async throws {
        try await Support.withDirectory { root in
            let directory = try Self.chain(in: root)
            var manifest = try CheckpointManifest.load(directory: directory)
            var wrongChecksum = manifest
            wrongChecksum.chain[1].crc32c ^= 1
            try wrongChecksum.save(directory: directory)
            let checksum = try #require(Self.refusal(directory))
            #expect(checksum.message.hasPrefix("checkpoint shard-1/000002.inc: file checksum mismatch"), "\(checksum.message)")

            manifest.shardID = 0
            try manifest.save(directory: directory)
            let shard = try #require(Self.refusal(directory))
            #expect(shard.message.hasPrefix("checkpoint shard-1/000001.full: the file is full checkpoint 1 of shard 1, but the manifest lists it as full checkpoint 1 of shard 0"),
                    "\(shard.message)")
        }
    }

    @Test func aChainWithoutAFullCheckpointIsRefused() async throws {
        try await Support.withDirectory { root in
            let directory = try Self.chain(in: root)
            var manifest = try CheckpointManifest.load(directory: directory)
            manifest.chain.removeFirst()
            try manifest.save(directory: directory)
            let error = try #require(Self.refusal(directory))
            #expect(error.message == "checkpoint shard-1/manifest.json: the chain starts with 000002.inc, not a full checkpoint")
        }
    }
}
