// Malformed safetensors files, one per validation rule: every error names the file and, where
// one is involved, the tensor.

import Foundation
import Testing

@testable import TensorFiles

@Suite final class SafetensorsErrorTests {
  let dir: String
  init() throws { dir = try makeTemporaryDirectory() }
  deinit { removeDirectory(dir) }

  /// One well-formed F32 entry, for headers that need a valid neighbour.
  func entry(_ name: String, _ shape: String = "[2]", _ begin: Int, _ end: Int, dtype: String = "F32") -> String {
    #""\#(name)":{"dtype":"\#(dtype)","shape":\#(shape),"data_offsets":[\#(begin),\#(end)]}"#
  }

  func expectHeaderError(
    _ text: String, tensor: String? = nil, header: String, data: [UInt8] = [], sourceLocation: SourceLocation = #_sourceLocation
  ) throws {
    let path = try writeSafetensors(dir, "case-\(UUID().uuidString.prefix(8))", header: header, data: data)
    expectTensorFileError(text, file: path, tensor: tensor, sourceLocation: sourceLocation) { _ = try SafetensorsFile(path: path) }
  }

  @Test func missingFile() {
    let path = "\(dir)/absent.safetensors"
    expectTensorFileError("cannot open: No such file or directory", file: path) { _ = try SafetensorsFile(path: path) }
  }

  @Test func directoryInsteadOfFile() {
    expectTensorFileError("not a regular file", file: dir) { _ = try SafetensorsFile(path: dir) }
  }

  @Test func fileShorterThanEightBytes() throws {
    for size in [0, 5] {
      let path = "\(dir)/short\(size).safetensors"
      try writeBytes(Array(repeating: 1, count: size), to: path)
      expectTensorFileError("shorter than the 8-byte header length", file: path) { _ = try SafetensorsFile(path: path) }
    }
  }

  @Test func headerLengthOverLimit() throws {
    let path = "\(dir)/huge.safetensors"
    try writeBytes(le(UInt64(100_000_001)) + Array("{}".utf8), to: path)
    expectTensorFileError("exceeds the 100 MB limit", file: path) { _ = try SafetensorsFile(path: path) }
  }

  @Test func headerLengthBeyondFile() throws {
    let path = "\(dir)/cut.safetensors"
    try writeBytes(le(UInt64(64)) + Array("{}      ".utf8), to: path)
    expectTensorFileError("header length 64 extends beyond the end of the file (16 bytes)", file: path) { _ = try SafetensorsFile(path: path) }
  }

  @Test func invalidJSON() throws {
    try expectHeaderError("header is not valid JSON", header: #"{"a": "#)
    try expectHeaderError("header is not valid JSON", header: "\u{7F}garbage")
    try expectHeaderError("header is not valid JSON: unexpected data after the JSON value", header: "{} {}")
    // A syntax error inside an entry names that entry's tensor.
    try expectHeaderError("header is not valid JSON", tensor: "w", header: #"{"w":{"dtype":"F32",}}"#)
  }

  @Test func invalidUTF8InHeader() throws {
    let path = "\(dir)/utf8.safetensors"
    try writeBytes(le(UInt64(8)) + [0x7B, 0x22, 0xFF, 0xFE, 0x22, 0x3A, 0x31, 0x7D], to: path)
    expectTensorFileError("not valid UTF-8", file: path) { _ = try SafetensorsFile(path: path) }
  }

  @Test func headerNotAnObject() throws {
    try expectHeaderError("header is an array, not a JSON object", header: "[1, 2]")
    try expectHeaderError("header is a string, not a JSON object", header: #""x""#)
  }

  @Test func entryNotAnObject() throws {
    try expectHeaderError("header entry is a number, not an object", tensor: "w", header: #"{"w": 3}"#)
    try expectHeaderError("header entry is an array, not an object", tensor: "w", header: #"{"w": [1]}"#)
  }

  @Test func missingFields() throws {
    try expectHeaderError(#"no "dtype" field"#, tensor: "w", header: #"{"w":{"shape":[1],"data_offsets":[0,4]}}"#, data: f32Bytes([1]))
    try expectHeaderError(#"no "shape" field"#, tensor: "w", header: #"{"w":{"dtype":"F32","data_offsets":[0,4]}}"#, data: f32Bytes([1]))
    try expectHeaderError(#"no "data_offsets" field"#, tensor: "w", header: #"{"w":{"dtype":"F32","shape":[1]}}"#, data: f32Bytes([1]))
  }

  @Test func wronglyTypedFields() throws {
    try expectHeaderError(#""dtype" is a number, not a string"#, tensor: "w", header: #"{"w":{"dtype":5,"shape":[1],"data_offsets":[0,4]}}"#)
    try expectHeaderError(#""shape" is a string, not an array"#, tensor: "w", header: #"{"w":{"dtype":"F32","shape":"1","data_offsets":[0,4]}}"#)
    try expectHeaderError(#""shape" entry 1.5 is not an integer"#, tensor: "w", header: #"{"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}"#)
    try expectHeaderError(#""shape" entry "2" is not an integer"#, tensor: "w", header: #"{"w":{"dtype":"F32","shape":["2"],"data_offsets":[0,4]}}"#)
    try expectHeaderError("must be an array of two integers", tensor: "w", header: #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0]}}"#)
    try expectHeaderError("must be an array of two integers", tensor: "w", header: #"{"w":{"dtype":"F32","shape":[1],"data_offsets":{"a":1}}}"#)
    try expectHeaderError(#""data_offsets" entry "a" is not an integer"#, tensor: "w", header: #"{"w":{"dtype":"F32","shape":[1],"data_offsets":["a",4]}}"#)
    try expectHeaderError(#""data_offsets" has a negative offset -4"#, tensor: "w", header: #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}"#)
    try expectHeaderError("begin is after end", tensor: "w", header: #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}"#, data: f32Bytes([1]))
  }

  @Test func metadataMustBeStrings() throws {
    try expectHeaderError(#"__metadata__ value for "k" is a number, not a string"#, header: #"{"__metadata__":{"k":1}}"#)
    try expectHeaderError("__metadata__ is an array", header: #"{"__metadata__":["k"]}"#)
  }

  @Test func unsupportedDtype() throws {
    try expectHeaderError(#"unsupported dtype "F4X""#, tensor: "w", header: #"{"w":{"dtype":"F4X","shape":[1],"data_offsets":[0,4]}}"#, data: f32Bytes([1]))
  }

  @Test func negativeShape() throws {
    try expectHeaderError("negative dimension -1", tensor: "w", header: "{\(entry("w", "[-1,2]", 0, 8))}", data: f32Bytes([1, 2]))
  }

  @Test func shapeDoesNotMatchByteCount() throws {
    try expectHeaderError(
      "shape [2, 3] of F32 needs 24 bytes, but data_offsets [0, 20] span 20", tensor: "w",
      header: "{\(entry("w", "[2,3]", 0, 20))}", data: Array(repeating: 0, count: 20))
    try expectHeaderError(
      "shape [3] of F16 needs 6 bytes", tensor: "h", header: "{\(entry("h", "[3]", 0, 8, dtype: "F16"))}", data: Array(repeating: 0, count: 8))
  }

  @Test func offsetsBeyondTheDataSection() throws {
    try expectHeaderError(
      "extend past the end of the data section (12 bytes): truncated file?", tensor: "b",
      header: "{\(entry("a", "[2]", 0, 8)),\(entry("b", "[2]", 8, 16))}", data: Array(repeating: 0, count: 12))
  }

  @Test func overlappingTensors() throws {
    try expectHeaderError(
      "overlap tensor 'a' at [0, 8]", tensor: "b",
      header: "{\(entry("a", "[2]", 0, 8)),\(entry("b", "[2]", 4, 12))}", data: Array(repeating: 0, count: 12))
    // Two tensors on the very same bytes.
    try expectHeaderError(
      "overlap tensor 'a'", tensor: "b", header: "{\(entry("b", "[2]", 0, 8)),\(entry("a", "[2]", 0, 8))}", data: Array(repeating: 0, count: 8))
  }

  @Test func gapsAndUnusedBytes() throws {
    try expectHeaderError(
      "4 unused bytes (a gap at data offsets [8, 12]) before this tensor", tensor: "b",
      header: "{\(entry("a", "[2]", 0, 8)),\(entry("b", "[2]", 12, 20))}", data: Array(repeating: 0, count: 20))
    try expectHeaderError(
      "gap at data offsets [0, 4]", tensor: "a", header: "{\(entry("a", "[2]", 4, 12))}", data: Array(repeating: 0, count: 12))
    try expectHeaderError(
      "4 unused bytes at the end of the data section", tensor: "a", header: "{\(entry("a", "[2]", 0, 8))}",
      data: Array(repeating: 0, count: 12))
    try expectHeaderError("3 unused bytes at the end of the data section", header: "{}", data: [1, 2, 3])
  }

  @Test func duplicateNames() throws {
    try expectHeaderError(
      #"duplicate key "w""#, tensor: "w", header: "{\(entry("w", "[2]", 0, 8)),\(entry("w", "[2]", 8, 16))}",
      data: Array(repeating: 0, count: 16))
    try expectHeaderError(
      #"duplicate key "dtype""#, tensor: "w", header: #"{"w":{"dtype":"F32","dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#,
      data: f32Bytes([1]))
  }

  @Test func shapesOverflowingInt() throws {
    try expectHeaderError(
      "has too many elements (overflows Int)", tensor: "w", header: "{\(entry("w", "[4294967296,4294967296]", 0, 8))}", data: f32Bytes([1, 2]))
    try expectHeaderError(
      "needs more bytes than Int can count", tensor: "w", header: "{\(entry("w", "[4611686018427387904]", 0, 8))}", data: f32Bytes([1, 2]))
    try expectHeaderError(
      "shape dimension 99999999999999999999999 is too large", tensor: "w", header: "{\(entry("w", "[99999999999999999999999]", 0, 8))}",
      data: f32Bytes([1, 2]))
    try expectHeaderError(
      #""data_offsets" entry 99999999999999999999 is too large"#, tensor: "w", header: #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,99999999999999999999]}}"#,
      data: f32Bytes([1, 2]))
  }

  @Test func deeplyNestedHeaderIsRejectedNotCrashing() throws {
    let header = "{\"w\":" + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + "}"
    try expectHeaderError("nesting deeper than 64 levels", tensor: "w", header: header)
  }
}
