// Helpers for TensorFiles tests: temporary directories, raw file assembly, error assertions.

import Foundation
import Testing

@testable import TensorFiles

/// A fresh empty directory under the system temporary directory.
func makeTemporaryDirectory() throws -> String {
  let url = FileManager.default.temporaryDirectory.appendingPathComponent("isnetc-tensorfiles-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
  return url.path
}

/// Deletes a directory made by `makeTemporaryDirectory` with its contents.
func removeDirectory(_ path: String) {
  try? FileManager.default.removeItem(atPath: path)
}

func writeBytes(_ bytes: [UInt8], to path: String) throws {
  try Data(bytes).write(to: URL(fileURLWithPath: path))
}

func readBytes(_ path: String) throws -> [UInt8] {
  Array(try Data(contentsOf: URL(fileURLWithPath: path)))
}

/// Little-endian bytes of a value.
func le<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
  withUnsafeBytes(of: value.littleEndian, Array.init)
}

func f32Bytes(_ values: [Float]) -> [UInt8] { values.flatMap { le($0.bitPattern) } }

/// A safetensors file: 8-byte length, the header (space-padded to a multiple of 8 when `pad`), data.
func safetensorsBytes(header: String, data: [UInt8], pad: Bool = true) -> [UInt8] {
  var json = Array(header.utf8)
  if pad { json += Array(repeating: UInt8(ascii: " "), count: (8 - json.count % 8) % 8) }
  return le(UInt64(json.count)) + json + data
}

/// Writes a safetensors file with `header` and `data` into `directory`; returns its path.
func writeSafetensors(_ directory: String, _ name: String, header: String, data: [UInt8]) throws -> String {
  let path = "\(directory)/\(name).safetensors"
  try writeBytes(safetensorsBytes(header: header, data: data), to: path)
  return path
}

/// Asserts that `body` throws a TensorFileError whose description names `file` (and `tensor`,
/// when given) and contains `text`.
func expectTensorFileError(
  _ text: String, file: String, tensor: String? = nil, sourceLocation: SourceLocation = #_sourceLocation,
  _ body: () throws -> Void
) {
  do {
    try body()
    Issue.record("expected an error containing \"\(text)\"", sourceLocation: sourceLocation)
  } catch let error as TensorFileError {
    #expect(error.file == file, sourceLocation: sourceLocation)
    #expect(error.description.hasPrefix(file), "\(error)", sourceLocation: sourceLocation)
    if let tensor {
      #expect(error.tensor == tensor, "\(error)", sourceLocation: sourceLocation)
      #expect(error.description.contains("tensor '\(tensor)'"), "\(error)", sourceLocation: sourceLocation)
    }
    #expect(error.description.contains(text), "\(error)", sourceLocation: sourceLocation)
  } catch {
    Issue.record("unexpected error type: \(error)", sourceLocation: sourceLocation)
  }
}

/// Names of the files in a directory (to check that no temporary file is left behind).
func directoryEntries(_ directory: String) throws -> [String] {
  try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
}
