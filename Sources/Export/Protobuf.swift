/// A protocol-buffers wire-format encoder: just what ONNX's messages need (varints,
/// 32-bit floats, length-delimited strings, bytes, packed arrays and nested messages).
///
/// Wire format: every field is a key `(field number << 3) | wire type` as a varint, then
/// its value: wire type 0 a varint (negative integers as ten bytes of two's complement),
/// 5 four little-endian bytes, 2 a varint length and that many bytes.

public struct ProtobufWriter: Sendable {
  public enum WireType: UInt64, Sendable {
    case varint = 0
    case fixed64 = 1
    case lengthDelimited = 2
    case fixed32 = 5
  }

  public private(set) var bytes: [UInt8] = []

  public init() {}

  public var count: Int { bytes.count }

  /// An unsigned varint: seven bits per byte, least significant first, high bit = more.
  public mutating func varint(_ value: UInt64) {
    var v = value
    while v >= 0x80 {
      bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
      v >>= 7
    }
    bytes.append(UInt8(v))
  }

  public mutating func key(_ field: Int, _ wire: WireType) {
    varint(UInt64(field) << 3 | wire.rawValue)
  }

  /// An int32, int64 or enum field (proto2 encodes them alike; negatives take ten bytes).
  public mutating func int(_ field: Int, _ value: Int64) {
    key(field, .varint)
    varint(UInt64(bitPattern: value))
  }

  public mutating func float(_ field: Int, _ value: Float) {
    key(field, .fixed32)
    appendLittleEndian(value.bitPattern)
  }

  public mutating func string(_ field: Int, _ value: String) {
    bytes(field, Array(value.utf8))
  }

  public mutating func bytes(_ field: Int, _ value: [UInt8]) {
    key(field, .lengthDelimited)
    varint(UInt64(value.count))
    bytes.append(contentsOf: value)
  }

  /// A length-delimited field whose payload is written by `body` straight into this buffer.
  public mutating func bytes(_ field: Int, count: Int, _ body: (inout [UInt8]) -> Void) {
    key(field, .lengthDelimited)
    varint(UInt64(count))
    let start = bytes.count
    body(&bytes)
    precondition(bytes.count - start == count, "payload length differs from the announced one")
  }

  /// A nested message.
  public mutating func message(_ field: Int, _ body: (inout ProtobufWriter) -> Void) {
    var inner = ProtobufWriter()
    body(&inner)
    bytes(field, inner.bytes)
  }

  /// A packed repeated int64 field (one length-delimited run of varints).
  public mutating func packedInts(_ field: Int, _ values: [Int64]) {
    guard !values.isEmpty else { return }
    var inner = ProtobufWriter()
    for v in values { inner.varint(UInt64(bitPattern: v)) }
    bytes(field, inner.bytes)
  }

  /// A packed repeated float field.
  public mutating func packedFloats(_ field: Int, _ values: [Float]) {
    guard !values.isEmpty else { return }
    var inner = ProtobufWriter()
    for v in values { inner.appendLittleEndian(v.bitPattern) }
    bytes(field, inner.bytes)
  }

  mutating func appendLittleEndian(_ v: UInt32) {
    bytes.append(UInt8(truncatingIfNeeded: v))
    bytes.append(UInt8(truncatingIfNeeded: v >> 8))
    bytes.append(UInt8(truncatingIfNeeded: v >> 16))
    bytes.append(UInt8(truncatingIfNeeded: v >> 24))
  }
}
