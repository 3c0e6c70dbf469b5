import Foundation
import Testing
import TesseraCore

/// Opening after a crash: torn tails are cut, anything else is refused.
@Suite struct AppendLogRecoveryTests {
    typealias Support = StorageTestSupport

    /// Ten records of 20-byte payloads, so record k (from 1) starts at byte
    /// 20 + (k - 1) * 32 of the single segment.
    static let payloadBytes = 20
    static let recordBytes = Support.recordHeaderBytes + payloadBytes

    static func recordStart(_ offset: Int) -> Int {
        Support.segmentHeaderBytes + (offset - 1) * recordBytes
    }

    /// Writes ten records into a fresh log and returns its only segment file.
    private func tenRecords(in directory: String) async throws -> String {
        let log = try AppendLog(directory: directory)
        _ = try await log.append((1...10).map { Support.payload($0, size: Self.payloadBytes) })
        log.close()
        let segments = try Support.segments(in: directory)
        #expect(segments.count == 1)
        #expect(try Support.size(of: segments[0]) == Self.recordStart(11))
        return segments[0]
    }

    enum Tear: String, CaseIterable, CustomTestStringConvertible {
        case cutInPayload, cutInHeader, cutAfterLength, garbageAppended, zerosAppended, lastPayloadFlipped, lastLengthFlipped

        var testDescription: String { rawValue }

        /// Damages `path`; returns the records that survive and the bytes dropped.
        func apply(to path: String) throws -> (records: Int, dropped: Int) {
            let last = AppendLogRecoveryTests.recordStart(10)
            let end = AppendLogRecoveryTests.recordStart(11)
            switch self {
            case .cutInPayload:
                try Support.truncate(path, to: end - 5)
                return (9, end - 5 - last)
            case .cutInHeader:
                try Support.truncate(path, to: last + 7)
                return (9, 7)
            case .cutAfterLength:
                try Support.truncate(path, to: last + 4)
                return (9, 4)
            case .garbageAppended:
                try Support.appendBytes(Support.payload(42, size: 37), to: path)
                return (10, 37)
            case .zerosAppended:
                try Support.appendBytes([UInt8](repeating: 0, count: 4096), to: path)
                return (10, 4096)
            case .lastPayloadFlipped:
                try Support.flipByte(in: path, at: end - 1)
                return (9, end - last)
            case .lastLengthFlipped:
                try Support.flipByte(in: path, at: last)
                return (9, end - last)
            }
        }
    }

    @Test(arguments: Tear.allCases)
    func tornTailIsCutAndTheLogContinues(_ tear: Tear) async throws {
        try await Support.withDirectory { directory in
            let segment = try await tenRecords(in: directory)
            let (survivors, dropped) = try tear.apply(to: segment)

            let log = try AppendLog(directory: directory)
            #expect(log.endOffset == UInt64(survivors))
            #expect(log.recovery.droppedBytes == Int64(dropped))
            #expect(log.recovery.truncatedFile == segment)
            #expect(log.recovery.truncatedAt == Int64(Self.recordStart(survivors + 1)))
            #expect(try Support.readAll(log).map(\.payload) == (1...survivors).map { Support.payload($0, size: Self.payloadBytes) })
            #expect(try await log.append([0xAB]) == UInt64(survivors + 1))
            log.close()

            let clean = try AppendLog(directory: directory)
            defer { clean.close() }
            #expect(clean.recovery.droppedBytes == 0)
            #expect(clean.endOffset == UInt64(survivors + 1))
            #expect(try clean.read(from: UInt64(survivors + 1)).map(\.payload) == [[0xAB]])
        }
    }

    @Test(arguments: [(5, 30), (5, 0), (1, 13), (9, 3)])
    func damageBeforeValidRecordsIsRefused(offset: Int, byteInRecord: Int) async throws {
        try await Support.withDirectory { directory in
            let segment = try await tenRecords(in: directory)
            let position = Self.recordStart(offset)
            try Support.flipByte(in: segment, at: position + byteInRecord)

            let error = #expect(throws: LogError.self) { try AppendLog(directory: directory) }
            #expect(error?.code == .corrupt)
            #expect(error?.path == segment)
            #expect(error?.position == Int64(position))
            #expect(error?.offset == UInt64(offset))
            #expect(error?.description.contains(segment) == true)
            #expect(error?.description.contains("byte \(position)") == true)
            #expect(error?.description.contains("record \(offset)") == true)
            // Refusing changed nothing.
            #expect(try Support.size(of: segment) == Self.recordStart(11))
        }
    }

    /// A log of several sealed segments, and the payloads written.
    private func severalSegments(in directory: String) async throws -> [[UInt8]] {
        var settings = AppendLogSettings()
        settings.segmentBytes = 4096
        let log = try AppendLog(directory: directory, settings: settings)
        let payloads = (1...200).map { Support.payload($0, size: 90) }
        for chunk in stride(from: 0, to: payloads.count, by: 10) {
            _ = try await log.append(Array(payloads[chunk..<chunk + 10]))
        }
        log.close()
        #expect(try Support.segments(in: directory).count >= 4)
        return payloads
    }

    @Test func missingSegmentIsRefused() async throws {
        try await Support.withDirectory { directory in
            _ = try await severalSegments(in: directory)
            let segments = try Support.segments(in: directory)
            try FileManager.default.removeItem(atPath: segments[1])
            let error = #expect(throws: LogError.self) { try AppendLog(directory: directory) }
            #expect(error?.code == .corrupt)
            #expect(error?.path == segments[0])
            #expect(error?.message.contains("missing") == true)
        }
    }

    @Test func renamedSegmentIsRefused() async throws {
        try await Support.withDirectory { directory in
            _ = try await severalSegments(in: directory)
            let segments = try Support.segments(in: directory)
            let renamed = directory + "/00000000000000999999.log"
            try FileManager.default.moveItem(atPath: segments.last!, toPath: renamed)
            let error = #expect(throws: LogError.self) { try AppendLog(directory: directory) }
            #expect(error?.code == .corrupt)
            #expect(error?.description.contains("999999") == true)
        }
    }

    /// Sealed segments are checked when first read (or at open with `.all`).
    @Test func damageInASealedSegmentIsReported() async throws {
        try await Support.withDirectory { directory in
            _ = try await severalSegments(in: directory)
            let first = try Support.segments(in: directory)[0]
            let position = Support.segmentHeaderBytes + 3 * (Support.recordHeaderBytes + 90)
            try Support.flipByte(in: first, at: position + 50)

            let log = try AppendLog(directory: directory)
            let error = #expect(throws: LogError.self) { try log.read(from: 1) }
            #expect(error?.code == .corrupt)
            #expect(error?.path == first)
            #expect(error?.position == Int64(position))
            #expect(error?.offset == 4)
            log.close()

            var settings = AppendLogSettings()
            settings.verification = .all
            let atOpen = #expect(throws: LogError.self) { try AppendLog(directory: directory, settings: settings) }
            #expect(atOpen?.offset == 4)
        }
    }

    /// A crash while creating a segment leaves a partial header: it is rewritten.
    @Test func tornSegmentHeaderIsRewritten() async throws {
        try await Support.withDirectory { directory in
            let payloads = try await severalSegments(in: directory)
            let segments = try Support.segments(in: directory)
            let last = segments.last!
            let lastBase = Int(String(last.split(separator: "/").last!.prefix(20)))!
            try Support.truncate(last, to: 7)

            let log = try AppendLog(directory: directory)
            defer { log.close() }
            #expect(log.recovery.droppedBytes == 7)
            #expect(log.endOffset == UInt64(lastBase - 1))
            #expect(try Support.readAll(log).map(\.payload) == Array(payloads.prefix(lastBase - 1)))
            #expect(try await log.append([1]) == UInt64(lastBase))
        }
    }

    /// A crash after sealing a segment but before its successor became durable:
    /// the successor is created at open.
    @Test func sealedLastSegmentGetsASuccessor() async throws {
        try await Support.withDirectory { directory in
            let payloads = try await severalSegments(in: directory)
            let segments = try Support.segments(in: directory)
            try FileManager.default.removeItem(atPath: segments.last!)
            let kept = Int(String(segments.last!.split(separator: "/").last!.prefix(20)))! - 1

            let log = try AppendLog(directory: directory)
            defer { log.close() }
            #expect(log.endOffset == UInt64(kept))
            #expect(try Support.readAll(log).map(\.payload) == Array(payloads.prefix(kept)))
            #expect(try await log.append([1]) == UInt64(kept + 1))
            #expect(try Support.segments(in: directory).count == segments.count)
        }
    }

    @Test func bytesAfterASealAreRefused() async throws {
        try await Support.withDirectory { directory in
            _ = try await severalSegments(in: directory)
            let segments = try Support.segments(in: directory)
            try FileManager.default.removeItem(atPath: segments.last!)
            let sealed = segments[segments.count - 2]
            try Support.appendBytes([1, 2, 3], to: sealed)
            let error = #expect(throws: LogError.self) { try AppendLog(directory: directory) }
            #expect(error?.code == .corrupt)
            #expect(error?.path == sealed)
        }
    }
}
