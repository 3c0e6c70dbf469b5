import Foundation
import SwiftProtobuf

/// The proto files a server can describe, indexed by file name and by symbol.
///
/// Built from a serialized `google.protobuf.FileDescriptorSet`; ``tessera``
/// holds Tessera's own protos (`Protos/tessera/v1`), the health check and
/// reflection itself, embedded by `scripts/generate-protos.sh`. Immutable.
public struct DescriptorCatalog: Sendable {
    /// Each file's serialized `FileDescriptorProto`, by file name.
    private let serializedFiles: [String: Data]
    /// Each file's direct imports, by file name.
    private let dependencies: [String: [String]]
    /// The file defining each fully-qualified symbol (no leading dot).
    private let symbolFiles: [String: String]
    /// Fully-qualified names of every message type.
    private let messageTypes: Set<String>

    /// Indexes the files of a serialized `FileDescriptorSet`.
    ///
    /// Throws if the bytes are not a descriptor set.
    public init(serializedDescriptorSet bytes: Data) throws {
        let set = try Google_Protobuf_FileDescriptorSet(serializedBytes: bytes)
        var serializedFiles: [String: Data] = [:]
        var dependencies: [String: [String]] = [:]
        var index = SymbolIndex()
        for file in set.file {
            serializedFiles[file.name] = try file.serializedData()
            dependencies[file.name] = file.dependency
            index.add(file)
        }
        self.serializedFiles = serializedFiles
        self.dependencies = dependencies
        self.symbolFiles = index.files
        self.messageTypes = index.messages
    }

    /// Tessera's protos, grpc.health.v1 and grpc.reflection.v1, as generated into
    /// `Sources/TesseraRPC/Generated/DescriptorSet.swift`.
    public static let tessera: DescriptorCatalog = {
        guard let bytes = Data(base64Encoded: GeneratedDescriptorSet.base64, options: .ignoreUnknownCharacters) else {
            preconditionFailure("DescriptorSet.swift is not base64: regenerate it with scripts/generate-protos.sh")
        }
        do {
            return try DescriptorCatalog(serializedDescriptorSet: bytes)
        } catch {
            preconditionFailure("DescriptorSet.swift holds no descriptor set (\(error)): regenerate it with scripts/generate-protos.sh")
        }
    }()

    /// The names of the files described, sorted.
    public var fileNames: [String] { serializedFiles.keys.sorted() }

    /// The file that defines `symbol`: a package-qualified service, method,
    /// message, field, enum, enum value or extension ("tessera.v1.Inference.Recommend").
    public func file(definingSymbol symbol: String) -> String? {
        symbolFiles[symbol.hasPrefix(".") ? String(symbol.dropFirst()) : symbol]
    }

    /// Whether `name` (package-qualified) is a message type.
    public func isMessageType(_ name: String) -> Bool {
        messageTypes.contains(name.hasPrefix(".") ? String(name.dropFirst()) : name)
    }

    /// The serialized `FileDescriptorProto` of `file` followed by those of every
    /// file it imports, transitively, each once; nil when `file` is unknown.
    public func serializedFileWithDependencies(_ file: String) -> [Data]? {
        guard serializedFiles[file] != nil else { return nil }
        var order: [String] = []
        var seen: Set<String> = []
        var pending = [file]
        while let next = pending.popLast() {
            guard seen.insert(next).inserted else { continue }
            order.append(next)
            pending.append(contentsOf: (dependencies[next] ?? []).reversed())
        }
        // An import missing from the set is left out; clients then report it by name.
        return order.compactMap { serializedFiles[$0] }
    }
}

/// Collects the fully-qualified symbols of descriptor files.
private struct SymbolIndex {
    var files: [String: String] = [:]
    var messages: Set<String> = []

    mutating func add(_ file: Google_Protobuf_FileDescriptorProto) {
        let scope = file.package
        for message in file.messageType { add(message, in: scope, file: file.name) }
        for enumType in file.enumType { add(enumType, in: scope, file: file.name) }
        for service in file.service {
            let name = qualified(service.name, in: scope)
            files[name] = file.name
            for method in service.method { files[qualified(method.name, in: name)] = file.name }
        }
        for field in file.extension { files[qualified(field.name, in: scope)] = file.name }
    }

    private mutating func add(_ message: Google_Protobuf_DescriptorProto, in scope: String, file: String) {
        let name = qualified(message.name, in: scope)
        files[name] = file
        messages.insert(name)
        for field in message.field { files[qualified(field.name, in: name)] = file }
        for field in message.extension { files[qualified(field.name, in: name)] = file }
        for oneof in message.oneofDecl { files[qualified(oneof.name, in: name)] = file }
        for nested in message.nestedType { add(nested, in: name, file: file) }
        for enumType in message.enumType { add(enumType, in: name, file: file) }
    }

    private mutating func add(_ enumType: Google_Protobuf_EnumDescriptorProto, in scope: String, file: String) {
        files[qualified(enumType.name, in: scope)] = file
        // Enum values are scoped like their enum's siblings (C++ scoping rules).
        for value in enumType.value { files[qualified(value.name, in: scope)] = file }
    }

    private func qualified(_ name: String, in scope: String) -> String {
        scope.isEmpty ? name : "\(scope).\(name)"
    }
}
