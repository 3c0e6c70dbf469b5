import Foundation

/// Temporary files and shared data sets for the data-layer tests.
enum DataTestFiles {
    /// A fresh empty folder under the system's temporary folder.
    static func makeFolder() throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("tessera-data-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Writes `contents` byte for byte to `name` in a fresh folder and returns
    /// its path; `body` runs with it and the folder is removed afterwards.
    @discardableResult
    static func withFile<T>(_ name: String, _ contents: String, _ body: (String) throws -> T) throws -> T {
        let folder = try makeFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent(name)
        try Data(contents.utf8).write(to: url)
        return try body(url.path)
    }

    /// Runs `body` with a fresh folder that is removed afterwards.
    @discardableResult
    static func withFolder<T>(_ body: (URL) throws -> T) throws -> T {
        let folder = try makeFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        return try body(folder)
    }

    /// The project's shared data folder: `../shared/data` beside the
    /// repository (as CI lays it out), else `/work/shared/data`.
    static let sharedData: String = {
        let repository = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
            .deletingLastPathComponent()  // Data
            .deletingLastPathComponent()  // TesseraCoreTests
            .deletingLastPathComponent()  // Tests
            .deletingLastPathComponent()  // repository
        let besideRepository = repository.deletingLastPathComponent().appendingPathComponent("shared/data").path
        if FileManager.default.fileExists(atPath: besideRepository) {
            return besideRepository
        }
        return "/work/shared/data"
    }()

    static let movieLensRatings = sharedData + "/ml-latest-small/ratings.csv"
    static let movieLensMovies = sharedData + "/ml-latest-small/movies.csv"
    static let amazonGames = sharedData + "/amazon-games/interactions.txt"

    static func exists(_ path: String) -> Bool {
        FileManager.default.fileExists(atPath: path)
    }
}
