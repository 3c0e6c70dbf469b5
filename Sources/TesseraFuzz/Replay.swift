#if !TESSERA_LIBFUZZER
import Foundation

/// Without libFuzzer (the ordinary build, or a toolchain that lacks it): replays
/// inputs, or runs a seeded mutation loop over a corpus for a bounded time.
///
///     tessera-fuzz TARGET FILE|DIR...                       replay every input once
///     tessera-fuzz TARGET --mutate SECONDS [--seed N] DIR...  mutate the corpus at random
///
/// A crash ends the process, so the run fails. While mutating, each input is written first
/// to `tessera-fuzz-last-input` in the current directory, so a crashing one can be replayed.
@main
struct Replay {
    static func main() {
        var arguments = Array(CommandLine.arguments.dropFirst())
        guard let name = arguments.first, let target = FuzzTarget(rawValue: name) else {
            fail("usage: tessera-fuzz TARGET [--mutate SECONDS] [--seed N] FILE|DIR... (targets: \(FuzzTarget.allNames))")
        }
        arguments.removeFirst()
        var seconds: Double?
        var seed: UInt64 = 1
        var paths: [String] = []
        while !arguments.isEmpty {
            let argument = arguments.removeFirst()
            switch argument {
            case "--mutate":
                guard let value = arguments.first.flatMap(Double.init) else { fail("--mutate needs seconds") }
                seconds = value
                arguments.removeFirst()
            case "--seed":
                guard let value = arguments.first.flatMap(UInt64.init) else { fail("--seed needs a number") }
                seed = value
                arguments.removeFirst()
            default:
                paths.append(argument)
            }
        }
        let corpus = paths.flatMap(files(at:)).map { path -> [UInt8] in
            guard let data = FileManager.default.contents(atPath: path) else { fail("cannot read \(path)") }
            return [UInt8](data)
        }
        for input in corpus { target.run(input) }
        guard let seconds else {
            print("tessera-fuzz \(target.rawValue): \(corpus.count) inputs replayed, no crash")
            return
        }
        var mutator = Mutator(seed: seed, corpus: corpus.isEmpty ? [[]] : corpus)
        let deadline = ContinuousClock.now + .seconds(seconds)
        var runs = 0
        while ContinuousClock.now < deadline {
            for _ in 0..<64 {
                record(target, mutator.next())
                runs += 1
            }
        }
        print("tessera-fuzz \(target.rawValue): \(runs) mutated inputs in \(seconds) s (seed \(seed)), no crash")
    }

    private static func record(_ target: FuzzTarget, _ input: [UInt8]) {
        _ = FileManager.default.createFile(atPath: "tessera-fuzz-last-input", contents: Data(input))
        target.run(input)
    }

    private static func files(at path: String) -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { fail("no such file: \(path)") }
        guard isDirectory.boolValue else { return [path] }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return names.sorted().filter { !$0.hasPrefix(".") }.map { "\(path)/\($0)" }
    }

    private static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("tessera-fuzz: \(message)\n".utf8))
        exit(2)
    }
}

/// Byte-level mutations of corpus inputs (flip, insert, delete, splice, repeat), seeded.
struct Mutator {
    private var state: UInt64
    private let corpus: [[UInt8]]
    private static let interesting: [[UInt8]] = [
        Array("::".utf8), Array(",".utf8), Array("\t".utf8), Array("\"".utf8), Array("\n".utf8), Array("\r\n".utf8),
        Array(": ".utf8), Array("- ".utf8), Array("{".utf8), Array("[".utf8), Array("&a ".utf8), Array("*a".utf8),
        Array("-1".utf8), Array("1e999".utf8), Array("nan".utf8), Array("18446744073709551616".utf8),
        [0xFF], [0x00], [0x80], [0xEF, 0xBB, 0xBF], [0xFF, 0xFF, 0xFF, 0xFF, 0x0F],
    ]

    init(seed: UInt64, corpus: [[UInt8]]) {
        state = seed
        self.corpus = corpus
    }

    private mutating func random(_ bound: Int) -> Int {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return Int((z ^ (z >> 31)) % UInt64(max(bound, 1)))
    }

    mutating func next() -> [UInt8] {
        var input = corpus[random(corpus.count)]
        for _ in 0...random(4) {
            let at = random(input.count + 1)
            switch random(6) {
            case 0 where !input.isEmpty:
                input[min(at, input.count - 1)] ^= UInt8(1 << random(8))
            case 1:
                input.insert(contentsOf: Self.interesting[random(Self.interesting.count)], at: at)
            case 2 where !input.isEmpty:
                input.removeSubrange(at..<min(input.count, at + 1 + random(8)))
            case 3:
                let other = corpus[random(corpus.count)]
                let start = random(other.count + 1)
                input.insert(contentsOf: other[start..<min(other.count, start + random(64))], at: at)
            case 4 where !input.isEmpty:
                let start = min(at, input.count - 1)
                let piece = input[start..<min(input.count, start + 1 + random(16))]
                input.insert(contentsOf: Array(repeating: piece, count: 1 + random(8)).joined(), at: start)
            default:
                input.insert(UInt8(truncatingIfNeeded: random(256)), at: at)
            }
        }
        return input
    }
}
#endif
