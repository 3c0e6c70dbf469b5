import Foundation
import TesseraCore
import TesseraRPC

/// The hand-written row codecs: float32 and float16 payloads to floats and back.
///
/// The first byte picks the codec and an output size (which may not match the
/// payload, to exercise the size checks); the rest is the payload.
enum RowFuzz {
    static func run(_ input: [UInt8]) {
        let selector = Selector(input)
        let bytes = Array(selector.rest)
        if let values = try? Float32Codec.decode(bytes) {
            precondition(Float32Codec.encode(values) == bytes, "float32 codec: decode then encode changed the bytes")
        }
        if let values = try? Float16Codec.decode(bytes) {
            // float16 → float32 is exact, and so is the way back for every non-NaN value.
            let again = Float16Codec.encode(values)
            for (index, value) in values.enumerated() where !value.isNaN {
                precondition(again[2 * index] == bytes[2 * index] && again[2 * index + 1] == bytes[2 * index + 1],
                             "float16 codec: \(value) did not survive a round trip")
            }
        }
        let encoding: Tessera_V1_RowEncoding = selector.pick([.float32, .float16, .UNRECOGNIZED(7)])
        let claimed = Int(selector.choice >> 2) + (selector.bit(7) ? bytes.count / 4 : 0)
        var output = [Float](repeating: 0, count: claimed)
        output.withUnsafeMutableBufferPointer { buffer in
            try? RowPayload.decode(Data(bytes), as: encoding, into: buffer, field: "values")
        }
        let floats = bytes.count / 4
        if floats > 0 {
            let values = (try? Float32Codec.decode(Array(bytes.prefix(floats * 4)))) ?? []
            values.withUnsafeBufferPointer { buffer in
                _ = try? RowPayload.encode(buffer, as: encoding)
            }
        }
    }
}
