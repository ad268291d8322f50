/// A minimal protobuf reader for the tests: decodes a message into its fields, so the
/// tests read back what the exporter wrote without any ONNX library.

struct ProtobufField {
  var number: Int
  var wire: Int
  var varint: UInt64 = 0
  var bytes: [UInt8] = []

  var string: String { String(decoding: bytes, as: UTF8.self) }
  var int: Int64 { Int64(bitPattern: varint) }
  var message: [ProtobufField] { (try? decodeMessage(bytes)) ?? [] }
}

struct DecodeError: Error {}

func decodeMessage(_ bytes: [UInt8]) throws -> [ProtobufField] {
  var fields: [ProtobufField] = []
  var i = 0
  func varint() throws -> UInt64 {
    var result: UInt64 = 0
    var shift: UInt64 = 0
    while true {
      guard i < bytes.count, shift < 64 else { throw DecodeError() }
      let b = bytes[i]
      i += 1
      result |= UInt64(b & 0x7F) << shift
      if b & 0x80 == 0 { return result }
      shift += 7
    }
  }
  while i < bytes.count {
    let key = try varint()
    var field = ProtobufField(number: Int(key >> 3), wire: Int(key & 7))
    switch field.wire {
    case 0: field.varint = try varint()
    case 2:
      let n = Int(try varint())
      guard i + n <= bytes.count else { throw DecodeError() }
      field.bytes = Array(bytes[i..<i + n])
      i += n
    case 5:
      guard i + 4 <= bytes.count else { throw DecodeError() }
      field.bytes = Array(bytes[i..<i + 4])
      i += 4
    case 1:
      guard i + 8 <= bytes.count else { throw DecodeError() }
      field.bytes = Array(bytes[i..<i + 8])
      i += 8
    default: throw DecodeError()
    }
    fields.append(field)
  }
  return fields
}

extension Array where Element == ProtobufField {
  func all(_ number: Int) -> [ProtobufField] { filter { $0.number == number } }
  func first(_ number: Int) -> ProtobufField? { first { $0.number == number } }
}

/// Unpacks a packed repeated varint field.
func packedVarints(_ bytes: [UInt8]) throws -> [Int64] {
  var values: [Int64] = []
  var i = 0
  while i < bytes.count {
    var result: UInt64 = 0
    var shift: UInt64 = 0
    while true {
      guard i < bytes.count else { throw DecodeError() }
      let b = bytes[i]
      i += 1
      result |= UInt64(b & 0x7F) << shift
      if b & 0x80 == 0 { break }
      shift += 7
    }
    values.append(Int64(bitPattern: result))
  }
  return values
}
