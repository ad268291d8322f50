import Testing

@testable import Export

/// The encoder's bytes against the wire format worked out by hand.
@Suite struct ProtobufWriterTests {
  @Test func varints() {
    func encode(_ v: UInt64) -> [UInt8] {
      var w = ProtobufWriter()
      w.varint(v)
      return w.bytes
    }
    #expect(encode(0) == [0x00])
    #expect(encode(1) == [0x01])
    #expect(encode(127) == [0x7F])
    #expect(encode(128) == [0x80, 0x01])
    #expect(encode(150) == [0x96, 0x01])
    #expect(encode(300) == [0xAC, 0x02])
    #expect(encode(UInt64.max) == [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])
  }

  @Test func scalarFields() {
    var w = ProtobufWriter()
    w.int(1, 150)  // key (1 << 3) | 0
    #expect(w.bytes == [0x08, 0x96, 0x01])

    w = ProtobufWriter()
    w.int(3, -1)  // negative: ten bytes of two's complement
    #expect(w.bytes == [0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])

    w = ProtobufWriter()
    w.string(2, "testing")  // key (2 << 3) | 2, length 7
    #expect(w.bytes == [0x12, 0x07] + Array("testing".utf8))

    w = ProtobufWriter()
    w.float(2, 1.0)  // key (2 << 3) | 5, 0x3F800000 little-endian
    #expect(w.bytes == [0x15, 0x00, 0x00, 0x80, 0x3F])

    w = ProtobufWriter()
    w.int(20, 7)  // a two-byte key: (20 << 3) | 0 = 160
    #expect(w.bytes == [0xA0, 0x01, 0x07])
  }

  @Test func packedAndNested() {
    var w = ProtobufWriter()
    w.packedInts(4, [3, 270, 86942])
    #expect(w.bytes == [0x22, 0x06, 0x03, 0x8E, 0x02, 0x9E, 0xA7, 0x05])

    w = ProtobufWriter()
    w.packedInts(4, [])  // an empty packed field is left out
    #expect(w.bytes.isEmpty)

    w = ProtobufWriter()
    w.message(3) { $0.int(1, 150) }
    #expect(w.bytes == [0x1A, 0x03, 0x08, 0x96, 0x01])
  }

  @Test func tensorProto() throws {
    let t = ONNXTensor(name: "w", dims: [2], values: .float([1, -2]))
    var w = ProtobufWriter()
    t.encode(&w)
    // dims (packed), data_type FLOAT, name, raw_data.
    #expect(
      w.bytes == [0x0A, 0x01, 0x02, 0x10, 0x01, 0x42, 0x01, 0x77, 0x4A, 0x08, 0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0])
  }

  @Test func attributeProto() throws {
    var w = ProtobufWriter()
    ONNXAttribute("pads", .ints([1, 1])).encode(&w)
    // name, two ints (field 8) and type INTS (7).
    #expect(w.bytes == [0x0A, 0x04] + Array("pads".utf8) + [0x40, 0x01, 0x40, 0x01, 0xA0, 0x01, 0x07])
  }
}
