// .npy reading and writing: round trips, files laid out exactly as numpy.save writes them,
// and every rejected variant (Fortran order, big-endian, other dtypes, truncation).

import Foundation
import Testing

@testable import TensorFiles

@Suite final class NumpyFileTests {
  let dir: String
  init() throws { dir = try makeTemporaryDirectory() }
  deinit { removeDirectory(dir) }

  /// A .npy file as numpy 2.x writes it: the dict padded with spaces (numpy leaves room for
  /// the shape to grow) and a newline so magic + length + header is 128 bytes.
  func numpyBytes(descr: String, fortran: Bool = false, shape: String, data: [UInt8], version: UInt8 = 1) -> [UInt8] {
    var header = Array("{'descr': '\(descr)', 'fortran_order': \(fortran ? "True" : "False"), 'shape': \(shape), }".utf8)
    let prefix = version == 1 ? 10 : 12
    header += Array(repeating: UInt8(ascii: " "), count: 128 - prefix - header.count - 1) + [UInt8(ascii: "\n")]
    let length = version == 1 ? le(UInt16(header.count)) : le(UInt32(header.count))
    return [0x93] + Array("NUMPY".utf8) + [version, 0] + length + header + data
  }

  func write(_ bytes: [UInt8], _ name: String = "a.npy") throws -> String {
    let path = "\(dir)/\(name)"
    try writeBytes(bytes, to: path)
    return path
  }

  @Test func roundTrip() throws {
    for (shape, values) in [([2, 3], (0..<6).map { Float($0) - 2.5 }), ([5], [1, 2, 3, 4, 5]), ([], [7]), ([0, 4], []), ([1, 1, 2, 1], [-1, 1])] {
      let path = "\(dir)/rt.npy"
      try NumpyFile.write(shape: shape, values: values, to: path)
      let read = try NumpyFile.read(path: path)
      #expect(read.shape == shape)
      #expect(read.values == values)
      let bytes = try readBytes(path)
      let headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
      #expect((10 + headerLength) % 64 == 0)
      #expect(bytes[10 + headerLength - 1] == UInt8(ascii: "\n"))
    }
    #expect(try directoryEntries(dir) == ["rt.npy"])
  }

  @Test func writerHeaderText() throws {
    let bytes = NumpyFile.headerBytes(shape: [2, 3])
    #expect(Array(bytes[0..<8]) == [0x93] + Array("NUMPY".utf8) + [1, 0])
    #expect(String(decoding: bytes[10...], as: UTF8.self).hasPrefix("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }  "))
    #expect(String(decoding: NumpyFile.headerBytes(shape: [4])[10...], as: UTF8.self).contains("'shape': (4,), }"))
    #expect(String(decoding: NumpyFile.headerBytes(shape: [])[10...], as: UTF8.self).contains("'shape': (), }"))
  }

  @Test func readsNumpyFloat32AndFloat64() throws {
    // np.save(p, np.arange(6, dtype='<f4').reshape(2, 3))
    let f4 = try write(numpyBytes(descr: "<f4", shape: "(2, 3)", data: f32Bytes([0, 1, 2, 3, 4, 5])), "f4.npy")
    #expect(try NumpyFile.read(path: f4) == ([2, 3], [0, 1, 2, 3, 4, 5]))
    // np.save(p, np.array([1.5, -2.0, 3.25])): the exact data bytes numpy wrote.
    let data: [UInt8] = [0, 0, 0, 0, 0, 0, 248, 63, 0, 0, 0, 0, 0, 0, 0, 192, 0, 0, 0, 0, 0, 0, 10, 64]
    let f8 = try write(numpyBytes(descr: "<f8", shape: "(3,)", data: data), "f8.npy")
    #expect(try NumpyFile.read(path: f8) == ([3], [1.5, -2, 3.25]))
    let v2 = try write(numpyBytes(descr: "<f4", shape: "(1,)", data: f32Bytes([9]), version: 2), "v2.npy")
    #expect(try NumpyFile.read(path: v2) == ([1], [9]))
  }

  @Test func rejectsFortranOrder() throws {
    let path = try write(numpyBytes(descr: "<f4", fortran: true, shape: "(2, 2)", data: f32Bytes([1, 2, 3, 4])))
    expectTensorFileError("Fortran-order", file: path) { _ = try NumpyFile.read(path: path) }
  }

  @Test func rejectsBigEndian() throws {
    let path = try write(numpyBytes(descr: ">f4", shape: "(1,)", data: [0x3F, 0x80, 0, 0]))
    expectTensorFileError("big-endian data ('>f4') is not supported", file: path) { _ = try NumpyFile.read(path: path) }
  }

  @Test func rejectsOtherDtypes() throws {
    let path = try write(numpyBytes(descr: "<i8", shape: "(1,)", data: le(Int64(1))))
    expectTensorFileError("unsupported dtype '<i8'", file: path) { _ = try NumpyFile.read(path: path) }
  }

  @Test func rejectsTruncatedAndTrailingData() throws {
    let short = try write(numpyBytes(descr: "<f4", shape: "(3,)", data: f32Bytes([1, 2])), "short.npy")
    expectTensorFileError("truncated: shape [3] of '<f4' needs 12 data bytes, the file has 8", file: short) { _ = try NumpyFile.read(path: short) }
    let long = try write(numpyBytes(descr: "<f4", shape: "(1,)", data: f32Bytes([1, 2])), "long.npy")
    expectTensorFileError("4 unexpected bytes after the data", file: long) { _ = try NumpyFile.read(path: long) }
    let cut = try write(Array(numpyBytes(descr: "<f4", shape: "(1,)", data: []).prefix(40)), "cut.npy")
    expectTensorFileError("extends beyond the end of the file", file: cut) { _ = try NumpyFile.read(path: cut) }
  }

  @Test func rejectsBadMagicVersionAndHeader() throws {
    let text = try write(Array("just some text, not numpy".utf8), "text.npy")
    expectTensorFileError("not a .npy file", file: text) { _ = try NumpyFile.read(path: text) }
    var v9 = numpyBytes(descr: "<f4", shape: "(1,)", data: f32Bytes([1]))
    v9[6] = 9
    let version = try write(v9, "v9.npy")
    expectTensorFileError("unsupported .npy format version 9.0", file: version) { _ = try NumpyFile.read(path: version) }
    let negative = try write(numpyBytes(descr: "<f4", shape: "(-1,)", data: []), "neg.npy")
    expectTensorFileError("bad .npy header", file: negative) { _ = try NumpyFile.read(path: negative) }
    let keys = try write(
      [0x93] + Array("NUMPY".utf8) + [1, 0] + le(UInt16(22)) + Array("{'descr': '<f4',     }\n".utf8).prefix(22), "keys.npy")
    expectTensorFileError("keys must be exactly", file: keys) { _ = try NumpyFile.read(path: keys) }
    let huge = try write(numpyBytes(descr: "<f4", shape: "(4294967296, 4294967296)", data: []), "huge.npy")
    expectTensorFileError("too many elements", file: huge) { _ = try NumpyFile.read(path: huge) }
  }

  @Test func writerValidatesAndIsAtomic() throws {
    let path = "\(dir)/w.npy"
    try NumpyFile.write(shape: [1], values: [1], to: path)
    let before = try readBytes(path)
    expectTensorFileError("has 4 elements but 3 values", file: path) { try NumpyFile.write(shape: [2, 2], values: [1, 2, 3], to: path) }
    #expect(try readBytes(path) == before)
    #expect(try directoryEntries(dir) == ["w.npy"])
  }
}
