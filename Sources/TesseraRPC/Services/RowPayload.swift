import Foundation
import TesseraCore

/// Packs rows of floats into the `bytes` payloads of Pull and Push, and back.
///
/// Float32 payloads are copied with `memcpy` (no per-element work in Swift);
/// float16 payloads are converted element by element, as any encoding must be.
public enum RowPayload {
    /// Bytes per value in `encoding`, or nil for an encoding this build does not know.
    public static func bytesPerValue(_ encoding: Tessera_V1_RowEncoding) -> Int? {
        switch encoding {
        case .float32: 4
        case .float16: 2
        case .UNRECOGNIZED: nil
        }
    }

    /// Encodes `values` as a payload.
    public static func encode(_ values: UnsafeBufferPointer<Float>, as encoding: Tessera_V1_RowEncoding) throws -> Data {
        guard let width = bytesPerValue(encoding) else {
            throw RPCError(.invalidArgument, "unknown row encoding \(encoding.rawValue)")
        }
        var data = Data(count: values.count * width)
        try data.withUnsafeMutableBytes { bytes in
            if encoding == .float16 {
                try Float16Codec.encode(values, into: bytes)
            } else {
                try Float32Codec.encode(values, into: bytes)
            }
        }
        return data
    }

    /// Decodes a payload of exactly `output.count` values into `output`.
    ///
    /// Throws INVALID_ARGUMENT naming `field` when the size does not match.
    public static func decode(_ payload: Data, as encoding: Tessera_V1_RowEncoding, into output: UnsafeMutableBufferPointer<Float>,
                              field: String) throws {
        guard let width = bytesPerValue(encoding) else {
            throw RPCError(.invalidArgument, "\(field): unknown row encoding \(encoding.rawValue)")
        }
        guard payload.count == output.count * width else {
            throw RPCError(.invalidArgument,
                           "\(field) holds \(payload.count) bytes, but \(output.count) values of \(width) bytes need \(output.count * width)")
        }
        try payload.withUnsafeBytes { bytes in
            if encoding == .float16 {
                try Float16Codec.decode(bytes, into: output)
            } else {
                try Float32Codec.decode(bytes, into: output)
            }
        }
    }
}
