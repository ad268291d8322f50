// Writing and reading safetensors files: round trips, the Python package's exact layout,
// conversions from F16/BF16/F64, raw integer tensors, misaligned data.

import Foundation
import Testing

@testable import TensorFiles

@Suite struct SafetensorsRoundTripTests {
  @Test func float32RoundTrip() throws {
    let dir = try makeTemporaryDirectory()
    defer { removeDirectory(dir) }
    let path = "\(dir)/model.safetensors"
    let weight: [Float] = [1, -2.5, 3.25, .pi, -0.0, 1e-30]
    try SafetensorsWriter.write(
      [("z.weight", [2, 3], weight), ("a.bias", [2], [0.5, -0.5]), ("scalar", [], [42]), ("empty", [0, 4], [])],
      metadata: ["format": "pt", "note": "quote \" and\nnewline"], to: path)

    let file = try SafetensorsFile(path: path)
    #expect(file.names == ["a.bias", "empty", "scalar", "z.weight"])
    #expect(file.metadata == ["format": "pt", "note": "quote \" and\nnewline"])
    #expect(file.info("z.weight")?.dtype == .f32)
    #expect(file.info("z.weight")?.shape == [2, 3])
    #expect(file.info("scalar")?.shape == [])
    #expect(file.info("scalar")?.elementCount == 1)
    #expect(file.info("missing") == nil)
    #expect(try file.floats("z.weight").map(\.bitPattern) == weight.map(\.bitPattern))
    #expect(try file.floats("a.bias") == [0.5, -0.5])
    #expect(try file.floats("scalar") == [42])
    #expect(try file.floats("empty") == [])
    let viaBuffer = try file.withFloat32Buffer("z.weight") { Array($0) }
    #expect(viaBuffer.map(\.bitPattern) == weight.map(\.bitPattern))
    #expect(try file.rawBytes("a.bias") == f32Bytes([0.5, -0.5]))
    // Only the destination is in the directory: the temporary file was renamed over it.
    #expect(try directoryEntries(dir) == ["model.safetensors"])
  }

  @Test func float32BufferIsZeroCopyWhenAligned() throws {
    let dir = try makeTemporaryDirectory()
    defer { removeDirectory(dir) }
    let path = "\(dir)/aligned.safetensors"
    try SafetensorsWriter.write([("w", [4], [1, 2, 3, 4])], to: path)
    let file = try SafetensorsFile(path: path)
    let first = try file.withFloat32Buffer("w") { UInt(bitPattern: $0.baseAddress) }
    let second = try file.withFloat32Buffer("w") { UInt(bitPattern: $0.baseAddress) }
    // The same address twice: the mapping is lent, not a fresh copy.
    #expect(first == second)
    #expect(try file.withRawBytes("w") { UInt(bitPattern: $0.baseAddress) } == first)
  }

  @Test func misalignedFloat32FallsBackToACopy() throws {
    let dir = try makeTemporaryDirectory()
    defer { removeDirectory(dir) }
    // A 1-byte U8 tensor first puts the F32 tensor at an odd address.
    let header = #"{"flag":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"w":{"dtype":"F32","shape":[2],"data_offsets":[1,9]}}"#
    let path = try writeSafetensors(dir, "odd", header: header, data: [7] + f32Bytes([1.5, -4]))
    let file = try SafetensorsFile(path: path)
    #expect(try file.withFloat32Buffer("w") { Array($0) } == [1.5, -4])
    #expect(try file.floats("w") == [1.5, -4])
    #expect(try file.integers("flag") == [7])
  }

  @Test func float64AndInt64RoundTrip() throws {
    let dir = try makeTemporaryDirectory()
    defer { removeDirectory(dir) }
    let path = "\(dir)/mixed.safetensors"
    try SafetensorsWriter.write(
      [
        SafetensorsEntry(name: "double", shape: [3], values: .float64([0.1, -1e300, 2])),
        SafetensorsEntry(name: "steps", shape: [], values: .int64([123_456_789_012])),
        SafetensorsEntry(name: "f", shape: [1], values: .float32([9])),
      ], to: path)
    let file = try SafetensorsFile(path: path)
    #expect(file.info("double")?.dtype == .f64)
    #expect(try file.floats("double") == [Float(0.1), -Float.infinity, 2])
    #expect(try file.integers("steps") == [123_456_789_012])
    expectTensorFileError("unsupported dtype I64", file: path, tensor: "steps") { _ = try file.floats("steps") }
    expectTensorFileError("unsupported dtype", file: path, tensor: "steps") { _ = try file.withFloat32Buffer("steps") { $0.count } }
    expectTensorFileError("unsupported dtype F64 for reading as integers", file: path, tensor: "double") { _ = try file.integers("double") }
    expectTensorFileError("no such tensor", file: path, tensor: "nope") { _ = try file.floats("nope") }
  }

  /// The bytes the Python `safetensors` package writes for
  /// `save_file({"weight": torch.tensor([[1., 2.], [3., 4.]]), "bias": torch.tensor([.5, -.5])}, p, metadata={"format": "pt"})`:
  /// compact JSON, `__metadata__` first, tensors ordered by name (all F32), spaces to a multiple of 8.
  static let pythonHeader =
    #"{"__metadata__":{"format":"pt"},"bias":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"weight":{"dtype":"F32","shape":[2,2],"data_offsets":[8,24]}}"#

  @Test func writerMatchesThePythonLayoutByteForByte() throws {
    let dir = try makeTemporaryDirectory()
    defer { removeDirectory(dir) }
    let expected = safetensorsBytes(header: Self.pythonHeader, data: f32Bytes([0.5, -0.5, 1, 2, 3, 4]))
    #expect((expected.count - 8 - 24) % 8 == 0)
    let path = "\(dir)/ours.safetensors"
    try SafetensorsWriter.write([("weight", [2, 2], [1, 2, 3, 4]), ("bias", [2], [0.5, -0.5])], metadata: ["format": "pt"], to: path)
    #expect(try readBytes(path) == expected)
  }

  @Test func readsAPythonWrittenFile() throws {
    let dir = try makeTemporaryDirectory()
    defer { removeDirectory(dir) }
    let path = "\(dir)/python.safetensors"
    try writeBytes(safetensorsBytes(header: Self.pythonHeader, data: f32Bytes([0.5, -0.5, 1, 2, 3, 4])), to: path)
    let file = try SafetensorsFile(path: path)
    #expect(file.names == ["bias", "weight"])
    #expect(file.metadata == ["format": "pt"])
    #expect(try file.floats("weight") == [1, 2, 3, 4])
    #expect(try file.floats("bias") == [0.5, -0.5])
  }

  /// Python orders mixed dtypes by decreasing dtype (I64, F32, BF16, F16), then by name; the
  /// header lists them in data order, not alphabetically.
  @Test func readsPythonMixedDtypesWithConversion() throws {
    let dir = try makeTemporaryDirectory()
    defer { removeDirectory(dir) }
    let header =
      #"{"__metadata__":{"format":"pt"},"bn.num_batches_tracked":{"dtype":"I64","shape":[],"data_offsets":[0,8]},"#
      + #""f":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},"b":{"dtype":"BF16","shape":[2],"data_offsets":[12,16]},"#
      + #""h":{"dtype":"F16","shape":[6],"data_offsets":[16,28]}}"#
    let halves: [UInt16] = [0x3C00, 0xC000, 0x3800, 0x7BFF, 0x0001, 0x7C00]
    let data = le(Int64(1234)) + f32Bytes([7]) + le(UInt16(0x3F80)) + le(UInt16(0xC060)) + halves.flatMap { le($0) }
    let path = try writeSafetensors(dir, "mixed", header: header, data: data)
    let file = try SafetensorsFile(path: path)
    #expect(file.names == ["b", "bn.num_batches_tracked", "f", "h"])
    #expect(try file.integers("bn.num_batches_tracked") == [1234])
    #expect(try file.floats("f") == [7])
    #expect(try file.floats("b") == [1, -3.5])
    #expect(try file.floats("h") == [1, -2, 0.5, 65504, 0x1p-24, .infinity])
    #expect(try file.withFloat32Buffer("h") { Array($0) } == [1, -2, 0.5, 65504, 0x1p-24, .infinity])
  }

  @Test func namesWithEscapesAndUnicodeRoundTrip() throws {
    let dir = try makeTemporaryDirectory()
    defer { removeDirectory(dir) }
    let path = "\(dir)/names.safetensors"
    let names = ["quote\"d", "back\\slash", "tab\there", "ünïcødé.权重", "ctl\u{01}"]
    try SafetensorsWriter.write(names.enumerated().map { ($1, [1], [Float($0)]) }, to: path)
    let file = try SafetensorsFile(path: path)
    #expect(file.names == names.sorted())
    for (i, name) in names.enumerated() {
      #expect(try file.floats(name) == [Float(i)])
    }
  }

  @Test func unicodeEscapesInHeadersAreDecoded() throws {
    let dir = try makeTemporaryDirectory()
    defer { removeDirectory(dir) }
    let header = #"{"w\u00e9\ud83d\ude00":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#
    let path = try writeSafetensors(dir, "escapes", header: header, data: f32Bytes([3]))
    #expect(try SafetensorsFile(path: path).names == ["wé😀"])
  }

  @Test func writerRejectsBadInputAndKeepsTheOldFile() throws {
    let dir = try makeTemporaryDirectory()
    defer { removeDirectory(dir) }
    let path = "\(dir)/keep.safetensors"
    try SafetensorsWriter.write([("w", [1], [1])], to: path)
    let before = try readBytes(path)
    expectTensorFileError("has 6 elements but 5 values", file: path, tensor: "w") {
      try SafetensorsWriter.write([("w", [2, 3], [1, 2, 3, 4, 5])], to: path)
    }
    expectTensorFileError("duplicate tensor name", file: path, tensor: "w") {
      try SafetensorsWriter.write([("w", [1], [1]), ("w", [1], [2])], to: path)
    }
    expectTensorFileError("reserved", file: path, tensor: "__metadata__") {
      try SafetensorsWriter.write([("__metadata__", [1], [1])], to: path)
    }
    expectTensorFileError("negative dimension", file: path, tensor: "w") {
      try SafetensorsWriter.write([("w", [-1], [])], to: path)
    }
    #expect(try readBytes(path) == before)
    #expect(try directoryEntries(dir) == ["keep.safetensors"])
    let missingDir = "\(dir)/no/such/dir/x.safetensors"
    expectTensorFileError("cannot create a temporary file", file: missingDir) {
      try SafetensorsWriter.write([("w", [1], [1])], to: missingDir)
    }
  }

  @Test func overwriteReplacesTheFileAtomically() throws {
    let dir = try makeTemporaryDirectory()
    defer { removeDirectory(dir) }
    let path = "\(dir)/w.safetensors"
    try SafetensorsWriter.write([("a", [1], [1])], to: path)
    let opened = try SafetensorsFile(path: path)
    try SafetensorsWriter.write([("b", [2], [2, 3])], to: path)
    // The file opened before keeps its (old) contents: rename replaced the inode, not the bytes.
    #expect(try opened.floats("a") == [1])
    #expect(try SafetensorsFile(path: path).names == ["b"])
    #expect(try directoryEntries(dir) == ["w.safetensors"])
  }

  @Test func fileIsSendableAcrossTasks() async throws {
    let dir = try makeTemporaryDirectory()
    defer { removeDirectory(dir) }
    let path = "\(dir)/s.safetensors"
    try SafetensorsWriter.write([("w", [1000], (0..<1000).map(Float.init))], to: path)
    let file = try SafetensorsFile(path: path)
    let sums = try await withThrowingTaskGroup(of: Float.self) { group in
      for _ in 0..<4 {
        group.addTask { try file.withFloat32Buffer("w") { $0.reduce(0, +) } }
      }
      return try await group.reduce(into: [Float]()) { $0.append($1) }
    }
    #expect(sums == Array(repeating: 499_500, count: 4))
  }
}
