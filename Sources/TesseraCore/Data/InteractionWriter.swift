import Foundation

/// Writes interactions as a CSV file that `DataReader` reads back unchanged,
/// so other tools can run on exactly the same split.
public enum InteractionWriter {
    /// Writes `user,item,rating,timestamp` (plus `scenario` when any
    /// interaction has a non-zero scenario) and one line per interaction, ids
    /// as they appeared in the data (numeric keys in decimal, others looked up
    /// in `names`, quoted when needed). Read it back with
    /// `DataSource(path:, format: .csv, columns: .written)` (and
    /// `columns.scenario = "scenario"` for scenarios). Replaces an existing file.
    ///
    /// - Throws: `DataError` when the file cannot be written, or when a
    ///   non-numeric key has no entry in `names` (its raw id is unknown) or
    ///   its raw id holds a line break.
    public static func write(_ interactions: [Interaction], names: [UInt64: String] = [:], to path: String) throws {
        let scenarios = interactions.contains { $0.scenario != 0 }
        guard FileManager.default.createFile(atPath: path, contents: nil),
              let handle = FileHandle(forWritingAtPath: path)
        else {
            throw DataError(.io, file: path, message: "cannot create the file (missing folder or permissions?)")
        }
        defer { try? handle.close() }

        var buffer: [UInt8] = []
        buffer.reserveCapacity(1 << 20)
        func flush() throws {
            do {
                try handle.write(contentsOf: buffer)
            } catch {
                throw DataError(.io, file: path, message: "cannot write: \(error.localizedDescription)", cause: error)
            }
            buffer.removeAll(keepingCapacity: true)
        }
        func id(_ key: UInt64) throws -> String {
            if EntityKey.isNumeric(key) { return String(key) }
            guard let name = names[key] else {
                throw DataError(.invalidArgument, file: path, message: "no raw id for non-numeric key \(key); pass the data's names")
            }
            guard !name.utf8.contains(where: { $0 == 10 || $0 == 13 }) else {
                throw DataError(.invalidArgument, file: path, message: "raw id \"\(name.prefix(40))\" holds a line break, which the reader cannot read back")
            }
            return csvField(name)
        }

        buffer.append(contentsOf: (scenarios ? "user,item,rating,timestamp,scenario\n" : "user,item,rating,timestamp\n").utf8)
        for interaction in interactions {
            var line = try id(interaction.user) + "," + id(interaction.item) + ","
            line += "\(interaction.rating),\(interaction.timestamp)"
            if scenarios { line += ",\(interaction.scenario)" }
            line += "\n"
            buffer.append(contentsOf: line.utf8)
            if buffer.count >= 1 << 20 { try flush() }
        }
        try flush()
    }

    /// `text` as one CSV field: quoted, with `""` for `"`, when it holds a
    /// comma, a quote or a leading/trailing blank.
    static func csvField(_ text: String) -> String {
        let special = text.utf8.contains { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") }
        let padded = text.first.map { $0 == " " || $0 == "\t" } == true || text.last.map { $0 == " " || $0 == "\t" } == true
        guard special || padded else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
