import Foundation
import TesseraCore

/// The file readers, fed through a scratch file as the scheduler would read one.
///
/// The first byte of an input picks the file's extension (which drives format
/// detection), the declared format, the bad-line policy and the columns; the
/// rest is the file's content.
enum DataFuzz {
    static func runInteractions(_ input: [UInt8]) {
        let selector = Selector(input)
        let ext = selector.pick(["csv", "tsv", "dat", "txt"])
        let format = selector.pick(DataFormat.allCases, shift: 2)
        var columns = ColumnNames()
        if selector.bit(5) { columns.scenario = "scenario" }
        if selector.bit(6) { columns = .written }
        let source = DataSource(path: ScratchFile.write(selector.rest, extension: ext), format: format, columns: columns,
                                minRating: selector.bit(7) ? 3.5 : nil, onBadLine: selector.bit(1) ? .skip : .error)
        guard let data = try? DataReader.read(source) else { return }
        // What the scheduler does next with a file it read.
        _ = data.interactions.count + data.items.count
    }

    static func runItemFeatures(_ input: [UInt8]) {
        let selector = Selector(input)
        let source = ItemFeatureSource(path: ScratchFile.write(selector.rest, extension: "csv"),
                                       idColumn: selector.pick(["movieId", "id"]),
                                       column: selector.pick(["genres", "tags"], shift: 1),
                                       separator: selector.pick(["|", ",", ";", " ", "\"", "é"], shift: 2))
        guard let features = try? ItemFeatures.read(source) else { return }
        for item in features.values.keys.prefix(64) {
            _ = features.keys(of: item)
            _ = ScenarioGrouping.movieLensGenres.scenario(of: item, features: features)
        }
    }
}

/// One scratch file per process (and extension), rewritten for every input.
enum ScratchFile {
    private static let folder: String = {
        let path = NSTemporaryDirectory() + "tessera-fuzz-\(getpid())"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(atPath: NSTemporaryDirectory() + "tessera-fuzz-\(getpid())") }
        return path
    }()

    static func write(_ bytes: ArraySlice<UInt8>, extension ext: String) -> String {
        let path = "\(folder)/input.\(ext)"
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
            fatalError("tessera-fuzz: cannot write the scratch file \(path)")
        }
        return path
    }
}
