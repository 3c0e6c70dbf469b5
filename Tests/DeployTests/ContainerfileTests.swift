import Foundation
import Testing

/// `Cluster/Containerfile`. No container engine runs here, so the image is not built;
/// what can be checked without one is: the stages, that every file it copies exists,
/// and that the runtime packages it installs are real Debian 12 packages that provide
/// every shared library the `tessera` binary links.
@Suite struct ContainerfileTests {
    static let text = (try? String(contentsOf: Deploy.root.appendingPathComponent("Cluster/Containerfile"), encoding: .utf8)) ?? ""

    /// Instructions with continuation lines joined.
    static var instructions: [String] {
        text.replacingOccurrences(of: "\\\n", with: " ").split(separator: "\n")
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
    }

    /// The packages `apt-get install` names in the final stage.
    static var runtimePackages: [String] {
        let final = instructions.split { $0.hasPrefix("FROM ") }.last ?? []
        return final.flatMap { line -> [String] in
            guard let range = line.range(of: "apt-get install") else { return [] }
            let words = line[range.upperBound...].split(separator: "&&").first?.split(separator: " ") ?? []
            return words.map(String.init).filter { !$0.hasPrefix("-") }
        }
    }

    static let hasApt = Deploy.tool("apt-cache") != nil && Deploy.tool("dpkg") != nil

    @Test func stagesBuildWithSwift63OnBookwormAndRunAsNonRoot() throws {
        let stages = Self.instructions.filter { $0.hasPrefix("FROM ") }
        #expect(stages.count == 2)
        #expect(stages.first?.hasPrefix("FROM swift:6.3-bookworm") == true, "\(stages)")
        #expect(stages.last?.contains("bookworm") == true, "\(stages)")
        #expect(Self.instructions.contains { $0.contains("swift build -c release") && $0.contains("--product tessera") })
        let user = try #require(Self.instructions.last { $0.hasPrefix("USER ") })
        #expect(!user.contains("root") && !user.hasPrefix("USER 0"))
        #expect(Self.instructions.contains { $0.hasPrefix("ENTRYPOINT") && $0.contains("tessera") })
        // The manifests run the image as this user id.
        let manifests = try Manifests()
        for document in manifests.documents {
            if let uid = document.path("spec", "template", "spec", "securityContext", "runAsUser") as? Int {
                #expect(user.contains("\(uid)"), "\(document.path("metadata", "name") ?? "?") runs as \(uid), the image as \(user)")
            }
        }
    }

    @Test func everyCopiedPathExists() throws {
        for line in Self.instructions where line.hasPrefix("COPY ") && !line.contains("--from=") {
            let sources = line.split(separator: " ").dropFirst().dropLast().map(String.init)
            for source in sources where !source.hasSuffix("*") {
                let matches: Bool
                if source.contains("*") {
                    let folder = Deploy.root.appendingPathComponent((source as NSString).deletingLastPathComponent)
                    let suffix = String(source.split(separator: "*").last ?? "")
                    matches = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).contains { $0.hasSuffix(suffix) }
                } else {
                    matches = FileManager.default.fileExists(atPath: Deploy.root.appendingPathComponent(source).path)
                }
                #expect(matches, "COPY \(source): nothing there in the repository")
            }
        }
    }

    @Test(.enabled(if: hasApt, "needs apt-cache and dpkg (Debian)"))
    func runtimePackagesExistInDebian() async throws {
        let packages = Self.runtimePackages
        #expect(packages.contains("libgrpc++1.51") && packages.contains("libprotobuf32") && packages.contains("libopenblas0"), "\(packages)")
        // One call for all of them (apt-cache takes seconds to start); it fails if any is unknown.
        let output = try await Deploy.run(Deploy.tool("apt-cache")!, ["show", "--no-all-versions"] + packages)
        #expect(output.status == 0, "apt-cache show \(packages): \(output.stderr)")
        for package in packages {
            #expect(output.stdout.contains("Package: \(package)\n"), "Debian 12 has no package \(package): \(output.stderr)")
        }
    }

    /// Every shared library of the built binary, other than the Swift runtime (linked
    /// statically in the image), comes from a runtime package or one of its dependencies.
    @Test(.enabled(if: hasApt && Deploy.tool("ldd") != nil, "needs apt-cache, dpkg and ldd (Debian)"))
    func runtimePackagesProvideEveryLinkedLibrary() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Deploy.binary), "no tessera binary at \(Deploy.binary)")
        let ldd = try await Deploy.run(Deploy.tool("ldd")!, [Deploy.binary])
        #expect(ldd.status == 0, "\(ldd.stderr)")
        let libraries = ldd.stdout.split(separator: "\n").compactMap { line -> String? in
            let parts = line.split(separator: " ")
            guard let arrow = parts.firstIndex(of: "=>"), arrow + 1 < parts.count, parts[arrow + 1].hasPrefix("/") else { return nil }
            return String(parts[arrow + 1])
        }
        #expect(!libraries.contains { $0.contains("not found") })

        let depends = try await Deploy.run(Deploy.tool("apt-cache")!, ["depends", "--recurse", "--no-recommends", "--no-suggests", "--no-conflicts",
                                                                 "--no-breaks", "--no-replaces", "--no-enhances"] + Self.runtimePackages)
        // Lines are package names, or `  Depends: name` / ` |Depends: name` / `  PreDepends: <virtual>` under one.
        var available = Set(depends.stdout.split(separator: "\n").map { line -> String in
            var entry = line.trimmingCharacters(in: .whitespaces)
            if entry.hasPrefix("|") { entry.removeFirst() }
            if let colon = entry.range(of: ": ") { entry = String(entry[colon.upperBound...]) }
            return entry.trimmingCharacters(in: CharacterSet(charactersIn: "<>"))
        })
        available.formUnion(["libc6", "libgcc-s1", "libstdc++6", "zlib1g"])  // in debian:bookworm-slim itself

        // Which package owns each library: one `dpkg -S` for all of them, under both the
        // /lib and /usr/lib spellings (Debian 12 merged /usr; dpkg knows one of them).
        let ownLibraries = libraries.filter { library in
            let name = (library as NSString).lastPathComponent
            return !(name.hasPrefix("libswift") || name.hasPrefix("libFoundation") || name.hasPrefix("lib_Foundation")
                     || ["libdispatch.so", "libBlocksRuntime.so"].contains(name))  // the Swift runtime, static in the image
        }
        func spellings(_ library: String) -> [String] {
            let resolved = URL(fileURLWithPath: library).resolvingSymlinksInPath().path
            return Array(Set([library, resolved].flatMap { [$0, $0.hasPrefix("/usr/") ? String($0.dropFirst(4)) : "/usr" + $0] }))
        }
        let search = try await Deploy.run(Deploy.tool("dpkg")!, ["-S"] + ownLibraries.flatMap(spellings))
        var owners: [String: String] = [:]
        for line in search.stdout.split(separator: "\n") {
            guard let separator = line.range(of: ": ") else { continue }
            let package = line[..<separator.lowerBound].split(separator: ":").first.map(String.init) ?? ""
            for path in line[separator.upperBound...].split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
                owners[path] = package
            }
        }
        var missing: [String] = []
        for library in ownLibraries {
            let name = (library as NSString).lastPathComponent
            guard let owner = spellings(library).compactMap({ owners[$0] }).first else {
                missing.append("\(name) (no Debian package owns it)")
                continue
            }
            if !available.contains(owner) { missing.append("\(name) (from \(owner))") }
        }
        #expect(missing.isEmpty, "not provided by \(Self.runtimePackages): \(missing)")
    }
}
