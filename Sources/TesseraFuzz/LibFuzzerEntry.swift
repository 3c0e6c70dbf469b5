#if TESSERA_LIBFUZZER
import Foundation

// Built with `-sanitize=fuzzer -DTESSERA_LIBFUZZER` (`make fuzz`): libFuzzer runs the inputs
// and takes its usual options; TESSERA_FUZZ_TARGET names the target.
//
// SwiftPM links an executable's entry point as `main`, so libFuzzer's own `main` is not
// used: this one hands the command line to libFuzzer's driver.

@_silgen_name("LLVMFuzzerRunDriver")
private func runDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

private let target = FuzzTarget.fromEnvironment()

/// libFuzzer's entry for one input (its runtime refers to it by name).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    target.run(input)
    return 0
}

@main
struct LibFuzzerMain {
    static func main() {
        _ = target
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(runDriver(&argc, &argv, fuzzOneInput))
    }
}
#endif
