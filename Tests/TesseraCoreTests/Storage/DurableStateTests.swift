import Foundation
import Testing
import TesseraCore

@Suite struct DurableStateTests {
    typealias Support = StorageTestSupport

    struct ConsumerOffsets: Codable, Equatable {
        var committed: [String: UInt64]
        var epoch: Int
    }

    private func withState(_ body: (DurableState, String) async throws -> Void) async throws {
        try await Support.withDirectory { directory in
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let path = directory + "/offsets.json"
            try await body(DurableState(path: path), path)
        }
    }

    @Test func saveLoadAndOverwrite() async throws {
        try await withState { state, path in
            #expect(try state.load(ConsumerOffsets.self) == nil)
            let first = ConsumerOffsets(committed: ["worker-0": 17], epoch: 1)
            try state.save(first)
            #expect(try state.load(ConsumerOffsets.self) == first)
            let second = ConsumerOffsets(committed: ["worker-0": 40, "worker-1": 3], epoch: 2)
            try state.save(second)
            #expect(try state.load(ConsumerOffsets.self) == second)
            #expect(try DurableState(path: path).load() == second)
            // Only the file itself remains: no temp file after a successful save.
            let directory = (path as NSString).deletingLastPathComponent
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["offsets.json"])
        }
    }

    /// A crash mid-save leaves a partial temp file; the saved value is untouched
    /// and the next save succeeds.
    @Test func leftoverTempFileIsIgnored() async throws {
        try await withState { state, path in
            let saved = ConsumerOffsets(committed: ["a": 1], epoch: 5)
            try state.save(saved)
            let directory = (path as NSString).deletingLastPathComponent
            let temporary = directory + "/.offsets.json.tmp"
            try Support.write(Array("{\"committed\":{\"a\":99".utf8), to: temporary)

            #expect(try DurableState(path: path).load(ConsumerOffsets.self) == saved)
            let next = ConsumerOffsets(committed: ["a": 2], epoch: 6)
            try state.save(next)
            #expect(try state.load(ConsumerOffsets.self) == next)
            #expect(!FileManager.default.fileExists(atPath: temporary))
        }
    }

    @Test func damagedFileIsReportedNotGuessed() async throws {
        try await withState { state, path in
            try Support.write(Array("{\"committed\":".utf8), to: path)
            let error = #expect(throws: LogError.self) { try state.load(ConsumerOffsets.self) }
            #expect(error?.code == .corrupt)
            #expect(error?.path == path)
        }
    }

    @Test func bytesAndRemove() async throws {
        try await withState { state, _ in
            try state.saveBytes([1, 2, 3])
            #expect(try state.loadBytes() == [1, 2, 3])
            try state.saveBytes([])
            #expect(try state.loadBytes() == [])
            try state.remove()
            #expect(try state.loadBytes() == nil)
            try state.remove()
        }
    }

    @Test func missingDirectoryIsAnIOError() throws {
        let state = DurableState(path: NSTemporaryDirectory() + "tessera-no-such-dir-\(UUID().uuidString)/x.json")
        let error = #expect(throws: LogError.self) { try state.save(1) }
        #expect(error?.code == .io)
    }
}
