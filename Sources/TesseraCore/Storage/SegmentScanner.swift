/// Reads a whole segment, checking every checksum, and describes what it found:
/// the valid prefix, its sparse index, the seal, and the first damage if any.
/// Deciding what damage means (torn tail or corruption) is the caller's business.
struct SegmentScan {
    /// Where the valid prefix stopped.
    struct Damage {
        /// Byte position of the first bad byte: the header (0) or a record start.
        var position: Int64
        /// The offset the record at `position` would have had.
        var offset: UInt64
        /// What is wrong there, in words.
        var reason: String
        /// True if the damage follows a valid seal (never a torn write).
        var afterSeal: Bool
        /// The position of the first valid record or seal after `position`, if any.
        var validFrameAfter: Int64?
    }

    var recordCount: UInt64 = 0
    /// The byte position just after the last valid record (before any seal).
    var recordsEnd: Int64 = Int64(LogFormat.headerSize)
    var index = SparseIndex()
    /// The next offset a valid seal at `recordsEnd` names.
    var sealNextOffset: UInt64?
    var damage: Damage?
}

enum SegmentScanner {
    /// Scans the segment `file` (`size` bytes) that should begin at offset `base`.
    ///
    /// Throws for I/O errors, and `.corrupt` for what no crash can produce: a valid
    /// header with another version or first offset, a valid seal naming the wrong
    /// next offset. Everything else is reported as `damage`.
    static func scan(_ file: FileDescriptor, base: UInt64, size: Int64, indexInterval: Int) throws -> SegmentScan {
        var window = FileWindow(file: file, limit: size, readAhead: 1 << 20)
        var scan = SegmentScan()
        var position = Int64(LogFormat.headerSize)
        var offset = base

        func damage(_ at: Int64, _ reason: String, afterSeal: Bool = false) throws {
            var found: Int64?
            if !afterSeal {
                var candidate = at + 1
                while candidate + Int64(LogFormat.recordHeaderSize) <= size {
                    if try window.validFrame(at: candidate) {
                        found = candidate
                        break
                    }
                    candidate += 1
                }
            }
            scan.damage = SegmentScan.Damage(
                position: at, offset: offset, reason: reason, afterSeal: afterSeal, validFrameAfter: found)
        }

        if let reason = try checkHeader(&window, base: base, size: size) {
            try damage(0, reason)
            return scan
        }
        var lastIndexed: Int64?
        while position < size {
            switch try window.frame(at: position) {
            case .record(let length, let payloadCRC):
                guard try window.ensure(position, LogFormat.recordHeaderSize + length) else {
                    preconditionFailure("frame(at:) checked that the payload fits")
                }
                let computed = window.checksum(at: position + Int64(LogFormat.recordHeaderSize), count: length)
                guard computed == payloadCRC else {
                    try damage(position, "payload checksum mismatch (stored \(hex(payloadCRC)), computed \(hex(computed)))")
                    return scan
                }
                if lastIndexed.map({ position - $0 >= Int64(indexInterval) }) ?? true {
                    scan.index.append(offset: offset, position: position)
                    lastIndexed = position
                }
                position += Int64(LogFormat.recordHeaderSize + length)
                offset += 1
                scan.recordCount += 1
                scan.recordsEnd = position
            case .seal(let nextOffset):
                guard nextOffset == offset else {
                    throw LogError(
                        .corrupt,
                        "\(file.path): the seal at byte \(position) says the next segment starts at offset \(nextOffset), but this segment's records end at offset \(offset - 1) (\(scan.recordCount) records from \(base))",
                        path: file.path, position: position, offset: offset)
                }
                scan.sealNextOffset = nextOffset
                let end = position + Int64(LogFormat.sealSize)
                if end < size {
                    try damage(end, "\(size - end) bytes follow the segment's seal", afterSeal: true)
                }
                return scan
            case .partialHeader(let available):
                try damage(position, "partial record header (\(available) of \(LogFormat.recordHeaderSize) bytes)")
                return scan
            case .badHeader:
                try damage(position, "record header checksum mismatch")
                return scan
            case .partialPayload(let length, let available):
                try damage(position, "record of \(length) bytes is cut short (\(available) bytes present)")
                return scan
            case .badSeal:
                try damage(position, "seal checksum mismatch")
                return scan
            }
        }
        return scan
    }

    /// Nil if the header is whole and valid; a reason if it is torn or damaged.
    /// Throws `.corrupt` for a valid header of another version or first offset.
    static func checkHeader(_ window: inout FileWindow, base: UInt64, size: Int64) throws -> String? {
        guard try window.ensure(0, LogFormat.headerSize) else {
            return "partial segment header (\(size) of \(LogFormat.headerSize) bytes)"
        }
        let path = window.file.path
        guard window.load(UInt32.self, at: 0) == LogFormat.magic,
              window.load(UInt32.self, at: 16) == window.checksum(at: 0, count: 16)
        else {
            return "segment header is damaged (bad magic or checksum)"
        }
        let version = window.load(UInt32.self, at: 4)
        guard version == LogFormat.version else {
            throw LogError(
                .corrupt, "\(path) has format version \(version); this build reads version \(LogFormat.version)",
                path: path, position: 0)
        }
        let stored = window.load(UInt64.self, at: 8)
        guard stored == base else {
            throw LogError(
                .corrupt, "\(path): the header says the segment starts at offset \(stored), but its name says \(base); was it renamed?",
                path: path, position: 0, offset: base)
        }
        return nil
    }

    static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
    }
}
