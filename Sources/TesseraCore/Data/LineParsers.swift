import Foundation

/// One field of a line: `line[start..<end]`, outer quotes and surrounding
/// blanks already removed. `escaped` marks a quoted field holding `""`.
struct FieldRange {
    var start: Int
    var end: Int
    var escaped: Bool = false

    var isEmpty: Bool { start >= end }
}

/// A line that cannot be parsed; the reader adds the file, line and quote.
struct LineError: Error {
    var message: String
}

/// Field splitting and number parsing over raw line bytes.
enum LineParsers {
    static let space = UInt8(ascii: " ")
    static let tab = UInt8(ascii: "\t")
    static let quote = UInt8(ascii: "\"")

    @inline(__always)
    static func isBlank(_ byte: UInt8) -> Bool {
        byte == space || byte == tab
    }

    /// True when the line holds nothing but spaces and tabs.
    static func isBlankLine(_ line: UnsafeBufferPointer<UInt8>) -> Bool {
        for byte in line where !isBlank(byte) {
            return false
        }
        return true
    }

    /// Splits on `delimiter`. With `quotes`, a field starting with `"` runs to
    /// the matching `"`, and `""` inside stands for one quote. Unquoted fields
    /// are trimmed of spaces and tabs (except the delimiter itself).
    static func splitDelimited(
        _ line: UnsafeBufferPointer<UInt8>,
        delimiter: UInt8,
        quotes: Bool,
        into fields: inout [FieldRange]
    ) throws(LineError) {
        fields.removeAll(keepingCapacity: true)
        let count = line.count
        var index = 0
        while true {
            // Skip leading blanks (never the delimiter).
            while index < count, line[index] != delimiter, isBlank(line[index]) {
                index += 1
            }
            if quotes, index < count, line[index] == quote {
                let start = index + 1
                var escaped = false
                index = start
                var closed = false
                while index < count {
                    if line[index] == quote {
                        if index + 1 < count, line[index + 1] == quote {
                            escaped = true
                            index += 2
                            continue
                        }
                        closed = true
                        break
                    }
                    index += 1
                }
                guard closed else {
                    throw LineError(message: "unterminated quoted field \(fields.count + 1)")
                }
                fields.append(FieldRange(start: start, end: index, escaped: escaped))
                index += 1
                while index < count, line[index] != delimiter, isBlank(line[index]) {
                    index += 1
                }
                if index < count, line[index] != delimiter {
                    throw LineError(message: "unexpected text after the closing quote of field \(fields.count)")
                }
            } else {
                let start = index
                while index < count, line[index] != delimiter {
                    index += 1
                }
                var end = index
                while end > start, isBlank(line[end - 1]) {
                    end -= 1
                }
                fields.append(FieldRange(start: start, end: end))
            }
            if index >= count {
                return
            }
            index += 1  // the delimiter
        }
    }

    /// Splits on every `::`, trimming blanks around fields.
    static func splitDoubleColon(_ line: UnsafeBufferPointer<UInt8>, into fields: inout [FieldRange]) {
        fields.removeAll(keepingCapacity: true)
        let colon = UInt8(ascii: ":")
        let count = line.count
        var start = 0
        var index = 0
        while index <= count {
            let atSeparator = index + 1 < count && line[index] == colon && line[index + 1] == colon
            if index == count || atSeparator {
                fields.append(trimmed(line, start, index))
                if index == count { return }
                index += 2
                start = index
            } else {
                index += 1
            }
        }
    }

    /// Splits on runs of spaces and tabs.
    static func splitWhitespace(_ line: UnsafeBufferPointer<UInt8>, into fields: inout [FieldRange]) {
        fields.removeAll(keepingCapacity: true)
        let count = line.count
        var index = 0
        while index < count {
            while index < count, isBlank(line[index]) {
                index += 1
            }
            let start = index
            while index < count, !isBlank(line[index]) {
                index += 1
            }
            if index > start {
                fields.append(FieldRange(start: start, end: index))
            }
        }
    }

    private static func trimmed(_ line: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> FieldRange {
        var start = start
        var end = end
        while start < end, isBlank(line[start]) { start += 1 }
        while end > start, isBlank(line[end - 1]) { end -= 1 }
        return FieldRange(start: start, end: end)
    }

    /// The field's text, with `""` turned back into `"`.
    static func string(_ line: UnsafeBufferPointer<UInt8>, _ field: FieldRange) -> String {
        let text = String(decoding: UnsafeBufferPointer(rebasing: line[field.start..<field.end]), as: UTF8.self)
        return field.escaped ? text.replacingOccurrences(of: "\"\"", with: "\"") : text
    }

    /// The entity key of an id field, and the raw id when it is not numeric.
    /// Agrees with `EntityKey.key(for:)` on every input; plain decimals take a
    /// fast path without building a `String`.
    static func key(
        _ line: UnsafeBufferPointer<UInt8>, _ field: FieldRange, what: String
    ) throws(LineError) -> (key: UInt64, name: String?) {
        guard !field.isEmpty else {
            throw LineError(message: "empty \(what) id")
        }
        if !field.escaped, field.end - field.start <= 18 {
            var value: UInt64 = 0
            var digits = true
            for index in field.start..<field.end {
                let digit = line[index] &- UInt8(ascii: "0")
                if digit > 9 {
                    digits = false
                    break
                }
                value = value * 10 + UInt64(digit)
            }
            // 18 digits stay below 2^63.
            if digits {
                return (value, nil)
            }
        }
        let raw = string(line, field)
        let key = EntityKey.key(for: raw)
        return (key, EntityKey.isNumeric(key) ? nil : raw)
    }

    /// A finite decimal number such as `4`, `3.5` or `-1e3`.
    static func float(_ line: UnsafeBufferPointer<UInt8>, _ field: FieldRange, what: String) throws(LineError) -> Float {
        // Fast path: digits with at most one '.', at most 15 digits in all.
        var mantissa: Int64 = 0
        var digits = 0
        var fraction = -1
        var simple = field.end > field.start
        for index in field.start..<field.end {
            let byte = line[index]
            if byte == UInt8(ascii: ".") && fraction < 0 {
                fraction = 0
                continue
            }
            let digit = byte &- UInt8(ascii: "0")
            if digit > 9 || digits >= 15 {
                simple = false
                break
            }
            mantissa = mantissa * 10 + Int64(digit)
            digits += 1
            if fraction >= 0 { fraction += 1 }
        }
        if simple, digits > 0 {
            return Float(Double(mantissa) / powersOfTen[max(fraction, 0)])
        }
        let text = string(line, field)
        guard let value = Float(text), value.isFinite else {
            throw LineError(message: "\(what) \"\(text.prefix(40))\" is not a number")
        }
        return value
    }

    private static let powersOfTen: [Double] = (0...15).map { exponent in
        (0..<exponent).reduce(1.0) { product, _ in product * 10 }
    }

    /// An integer, optionally signed; a decimal such as `964982703.5` is cut to
    /// its integer part.
    static func int64(_ line: UnsafeBufferPointer<UInt8>, _ field: FieldRange, what: String) throws(LineError) -> Int64 {
        var index = field.start
        var negative = false
        if index < field.end, line[index] == UInt8(ascii: "-") || line[index] == UInt8(ascii: "+") {
            negative = line[index] == UInt8(ascii: "-")
            index += 1
        }
        if index < field.end, field.end - index <= 18 {
            var value: Int64 = 0
            var digits = true
            while index < field.end {
                let digit = line[index] &- UInt8(ascii: "0")
                if digit > 9 {
                    digits = false
                    break
                }
                value = value * 10 + Int64(digit)
                index += 1
            }
            if digits {
                return negative ? -value : value
            }
        }
        let text = string(line, field)
        if let value = Int64(text) {
            return value
        }
        if let value = Double(text), value.isFinite, abs(value) < 9.2e18 {
            return Int64(value.rounded(.towardZero))
        }
        throw LineError(message: "\(what) \"\(text.prefix(40))\" is not an integer")
    }

    /// A non-negative integer below 2^32.
    static func uint32(_ line: UnsafeBufferPointer<UInt8>, _ field: FieldRange, what: String) throws(LineError) -> UInt32 {
        let text = string(line, field)
        guard let value = UInt32(text) else {
            throw LineError(message: "\(what) \"\(text.prefix(40))\" is not an integer in 0...\(UInt32.max)")
        }
        return value
    }
}
