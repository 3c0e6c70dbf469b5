import Foundation

/// One thing to fuzz: a parser or decoder that must reject bad input with an
/// error, never crash or hang.
///
/// `run` takes one input; thrown errors are the correct outcome for bad input
/// and are ignored. Anything else (a trap, an out-of-memory, a hang) is a bug.
enum FuzzTarget: String, CaseIterable, Sendable {
    /// YAML text → `ClusterConfig` (with `#set key=value` lines as overrides).
    case config
    /// Interaction files: MovieLens `::`, CSV/TSV with a header, pairs, sequences.
    case interactions
    /// The item-feature CSV (`movieId,title,genres`).
    case itemFeatures = "item-features"
    /// Protobuf messages of the wire protocol, and what Tessera builds from them.
    case messages
    /// The float32/float16 row codecs and `RowPayload`.
    case rows

    func run(_ input: [UInt8]) {
        switch self {
        case .config: ConfigFuzz.run(input)
        case .interactions: DataFuzz.runInteractions(input)
        case .itemFeatures: DataFuzz.runItemFeatures(input)
        case .messages: MessageFuzz.run(input)
        case .rows: RowFuzz.run(input)
        }
    }

    /// The target named by `TESSERA_FUZZ_TARGET`; exits with a usage message otherwise.
    static func fromEnvironment() -> FuzzTarget {
        let name = ProcessInfo.processInfo.environment["TESSERA_FUZZ_TARGET"] ?? ""
        guard let target = FuzzTarget(rawValue: name) else {
            FileHandle.standardError.write(Data("tessera-fuzz: set TESSERA_FUZZ_TARGET to one of \(allNames) (got '\(name)')\n".utf8))
            exit(2)
        }
        return target
    }

    static var allNames: String { allCases.map(\.rawValue).joined(separator: ", ") }
}

/// The first byte of an input, used to pick a variant, and the rest.
struct Selector {
    let choice: UInt8
    let rest: ArraySlice<UInt8>

    init(_ input: [UInt8]) {
        choice = input.first ?? 0
        rest = input.dropFirst()
    }

    /// Bit `n` of the choice byte.
    func bit(_ n: Int) -> Bool { choice & (1 << n) != 0 }

    /// One of `options`, by the low bits of the choice byte shifted right by `shift`.
    func pick<T>(_ options: [T], shift: Int = 0) -> T {
        options[Int(choice >> shift) % options.count]
    }
}
