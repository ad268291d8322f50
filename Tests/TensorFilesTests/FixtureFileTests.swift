// Reads the committed reference safetensors files (written by the Python `safetensors`
// package from PyTorch): every tensor must validate and convert.

import Foundation
import Testing

@testable import TensorFiles

@Suite struct FixtureFileTests {
  static let referenceDirectory = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures/reference").path

  static var files: [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: referenceDirectory)) ?? [])
      .filter { $0.hasSuffix(".safetensors") }.sorted()
  }

  @Test func referenceFilesExist() {
    #expect(!Self.files.isEmpty, "no .safetensors files in \(Self.referenceDirectory)")
  }

  @Test(arguments: files)
  func everyTensorReads(name: String) throws {
    let file = try SafetensorsFile(path: "\(Self.referenceDirectory)/\(name)")
    #expect(!file.names.isEmpty)
    for tensor in file.names {
      let info = try #require(file.info(tensor))
      if info.dtype.convertsToFloat32 {
        let values = try file.floats(tensor)
        #expect(values.count == info.elementCount)
        #expect(values.allSatisfy { $0.isFinite }, "\(name): \(tensor)")
      } else {
        #expect(try file.integers(tensor).count == info.elementCount)
      }
    }
    if name.hasSuffix(".weights.safetensors") {
      #expect(file.metadata["format"] == "pt")
      #expect(file.info("classifier.weight")?.dtype == .f32)
      // The weights are F32 at aligned offsets: lent without copying.
      let count = try file.withFloat32Buffer("classifier.weight") { $0.count }
      #expect(count == file.info("classifier.weight")?.elementCount)
    }
    if name.hasSuffix(".eval.safetensors") {
      #expect(["heatmaps", "input", "logits"].allSatisfy { file.names.contains($0) })
      let logits = try file.floats("logits")
      let raw = try file.rawBytes("logits")
      let doubles = (0..<logits.count).map { i in
        raw[(8 * i)..<(8 * i + 8)].withUnsafeBytes { Double(bitPattern: UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))) }
      }
      #expect(logits == doubles.map { Float($0) })
    }
  }
}
