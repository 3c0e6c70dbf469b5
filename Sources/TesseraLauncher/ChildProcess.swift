import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// How a child process ended.
public enum Termination: Sendable, Equatable, CustomStringConvertible {
    case exited(Int32)
    case signalled(Int32)

    public var isSuccess: Bool { self == .exited(0) }

    public var description: String {
        switch self {
        case .exited(let code): "exited with status \(code)"
        case .signalled(let signal): "was killed by signal \(signal) (\(Termination.signalName(signal)))"
        }
    }

    static func signalName(_ signal: Int32) -> String {
        switch signal {
        case SIGKILL: "SIGKILL"
        case SIGTERM: "SIGTERM"
        case SIGINT: "SIGINT"
        case SIGSEGV: "SIGSEGV"
        case SIGABRT: "SIGABRT"
        case SIGILL: "SIGILL"
        case SIGBUS: "SIGBUS"
        case SIGTRAP: "SIGTRAP (a Swift runtime trap)"
        default: "signal \(signal)"
        }
    }
}

/// A process started by the launcher, in its own process group so a
/// terminal's Ctrl-C reaches only the launcher, which then stops it.
///
/// One thread per child waits for it; `onExit` runs there once.
public final class ChildProcess: Sendable {
    public let name: String
    public let pid: pid_t
    /// Where its output goes; nil when it shares the launcher's terminal.
    public let logPath: String?
    private let termination = Mutex<Termination?>(nil)

    /// Starts `executable` with `arguments`.
    ///
    /// - Parameters:
    ///   - logPath: file receiving stderr (appended), and stdout too unless `inheritStdout`;
    ///     nil inherits both from the launcher.
    ///   - inheritStdout: keep the launcher's stdout (for progress lines) while logging stderr.
    ///   - environment: extra variables on top of the launcher's.
    public init(name: String, executable: String, arguments: [String], logPath: String?, inheritStdout: Bool = false,
                environment: [String: String] = [:],
                onExit: @escaping @Sendable (ChildProcess, Termination) -> Void) throws {
        self.name = name
        self.logPath = logPath

        var fileActions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&fileActions)
        defer { posix_spawn_file_actions_destroy(&fileActions) }
        if let logPath {
            posix_spawn_file_actions_addopen(&fileActions, 2, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
            if !inheritStdout { posix_spawn_file_actions_adddup2(&fileActions, 2, 1) }
        }
        posix_spawn_file_actions_addopen(&fileActions, 0, "/dev/null", O_RDONLY, 0)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaultSignals = sigset_t()
        sigemptyset(&defaultSignals)
        for signal in [SIGINT, SIGTERM, SIGPIPE, SIGCHLD] { sigaddset(&defaultSignals, signal) }
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigdefault(&attributes, &defaultSignals)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &fileActions, &attributes, argv, envp)
        guard result == 0 else {
            throw LaunchError("cannot start \(name) (\(executable)): \(String(cString: strerror(result)))")
        }
        self.pid = pid

        let child = self
        let spawned = pid
        Thread.detachNewThread {
            var status: Int32 = 0
            while waitpid(spawned, &status, 0) == -1 && errno == EINTR {}
            let how: Termination = (status & 0x7F) == 0 ? .exited((status >> 8) & 0xFF) : .signalled(status & 0x7F)
            child.termination.withLock { $0 = how }
            onExit(child, how)
        }
    }

    /// How it ended, or nil while it runs.
    public var terminated: Termination? {
        termination.withLock { $0 }
    }

    /// Sends `signal` if it still runs.
    public func send(_ signal: Int32) {
        if terminated == nil { kill(pid, signal) }
    }

    /// The last `lines` lines of its log, for failure reports.
    public func logTail(lines: Int = 20) -> String {
        guard let logPath, let text = try? String(contentsOfFile: logPath, encoding: .utf8) else { return "" }
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines + 1).joined(separator: "\n")
    }
}

/// A launcher failure, with a message for the person who ran it.
public struct LaunchError: Error, Sendable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
