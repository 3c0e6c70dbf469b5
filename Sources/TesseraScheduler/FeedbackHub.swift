import Foundation
import Synchronization
import TesseraCore
import TesseraRPC

/// The scheduler's feedback log and the progress of the online workers that consume it.
///
/// Feedback is appended to a durable, checksummed `AppendLog` (group-committed
/// fsyncs) and acknowledged only once written. Each online worker's progress
/// (`ConsumerState`) is a small file replaced atomically and durably. Both live
/// under one state directory, so a restarted scheduler picks up exactly where
/// the last one stopped. Thread-safe; appends do not go through the scheduler actor.
public final class FeedbackHub: Sendable {
    public let directory: String
    public let log: AppendLog
    private let consumers = Mutex<[String: Tessera_V1_ConsumerState]>([:])
    /// Consumers whose committed offsets make up `reflectedOffset`.
    private let expectedConsumers: [String]

    /// Opens (or creates) the log and consumer states under `directory`.
    ///
    /// - Parameter onlineWorkers: the consumers ("online-0" …) whose progress defines what serving reflects.
    public init(directory: String, onlineWorkers: Int, fsync: Bool) throws {
        self.directory = directory
        try FileManager.default.createDirectory(atPath: "\(directory)/consumers", withIntermediateDirectories: true)
        var settings = AppendLogSettings()
        settings.durability = fsync ? .fsync : .none
        log = try AppendLog(directory: "\(directory)/log", settings: settings)
        expectedConsumers = (0..<onlineWorkers).map { "online-\($0)" }
        var loaded: [String: Tessera_V1_ConsumerState] = [:]
        for name in expectedConsumers {
            if let bytes = try DurableState(path: Self.path(directory, name)).loadBytes() {
                loaded[name] = try Tessera_V1_ConsumerState(serializedBytes: bytes)
            }
        }
        consumers.withLock { $0 = loaded }
    }

    private static func path(_ directory: String, _ consumer: String) -> String {
        "\(directory)/consumers/\(consumer).state"
    }

    /// Appends one event; returns its offset once it is durable.
    ///
    /// Throws `RPCError` RESOURCE_EXHAUSTED when the log's queue is full.
    public func append(_ event: Tessera_V1_LoggedFeedback) async throws -> UInt64 {
        let bytes: [UInt8] = try event.serializedBytes()
        do {
            return try await log.append(bytes)
        } catch let error as LogError where error.code == .overloaded {
            throw RPCError(.resourceExhausted, "feedback log overloaded: \(error.message); retry with backoff")
        } catch let error as LogError {
            throw RPCError(.internal, "cannot write feedback: \(error)")
        }
    }

    /// Events from `offset` on, waiting up to `wait` while there are none.
    public func read(from offset: UInt64, maxEvents: Int, wait: Duration) async throws -> [Tessera_V1_LoggedFeedback] {
        if log.endOffset < offset {
            _ = await log.waitForRecords(after: offset - 1, timeout: wait)
        }
        let records = try log.read(from: max(1, offset), maxRecords: max(1, maxEvents))
        return try records.map { record in
            var event = try Tessera_V1_LoggedFeedback(serializedBytes: record.payload)
            event.offset = record.offset
            return event
        }
    }

    /// A consumer's progress (zeros for a new consumer).
    public func consumer(_ name: String) throws -> Tessera_V1_ConsumerState {
        try checkName(name)
        return consumers.withLock { $0[name] } ?? Tessera_V1_ConsumerState.with { $0.consumer = name }
    }

    /// Durably replaces a consumer's progress; offsets may not go backwards or past the log's end.
    public func commit(_ state: Tessera_V1_ConsumerState) throws -> Tessera_V1_ConsumerState {
        try checkName(state.consumer)
        let current = try consumer(state.consumer)
        guard state.committedOffset >= current.committedOffset else {
            throw RPCError(.failedPrecondition, "committed_offset: \(state.committedOffset) is behind the committed \(current.committedOffset)")
        }
        guard state.committedOffset <= log.endOffset, state.inflightLast <= log.endOffset else {
            throw RPCError(.invalidArgument, "committed_offset: past the end of the feedback log (\(log.endOffset))")
        }
        guard state.lastSequence >= current.lastSequence else {
            throw RPCError(.failedPrecondition, "last_sequence: \(state.lastSequence) is behind \(current.lastSequence)")
        }
        try DurableState(path: Self.path(directory, state.consumer)).saveBytes(try state.serializedBytes())
        consumers.withLock { $0[state.consumer] = state }
        return state
    }

    /// Every event up to this offset is applied by every online worker (0 before any).
    public var reflectedOffset: UInt64 {
        guard !expectedConsumers.isEmpty else { return 0 }
        let states = consumers.withLock { $0 }
        return expectedConsumers.map { states[$0]?.committedOffset ?? 0 }.min() ?? 0
    }

    /// Every clicked (user, item) in the log, for rebuilding "already seen" after a restart.
    public func clicks() throws -> [(user: UInt64, item: UInt64)] {
        var pairs: [(UInt64, UInt64)] = []
        var next: UInt64 = 1
        while next <= log.endOffset {
            let records = try log.read(from: next, maxRecords: 4096)
            guard let last = records.last else { break }
            for record in records {
                let event = try Tessera_V1_LoggedFeedback(serializedBytes: record.payload).event
                if event.event == .click {
                    pairs.append((EntityKey.key(for: event.userID), EntityKey.key(for: event.itemID)))
                }
            }
            next = last.offset + 1
        }
        return pairs
    }

    private func checkName(_ name: String) throws {
        guard expectedConsumers.contains(name) else {
            throw RPCError(.invalidArgument, "consumer: unknown consumer '\(name)' (this job has \(expectedConsumers.joined(separator: ", ")))")
        }
    }
}
