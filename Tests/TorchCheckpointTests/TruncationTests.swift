// Truncated and corrupted checkpoints: every cut and every mutation gives a TensorFileError
// naming the file, never a crash and never a silently short tensor.

import Foundation
import SeededRandom
import TensorFiles
import Testing

@testable import TorchCheckpoint

/// Reads a legacy checkpoint from memory, all the way to the tensors.
func readLegacy(_ bytes: [UInt8], path: String = "cut.pth") throws(TensorFileError) -> TorchCheckpoint {
  try TorchCheckpoint(path: path, format: .legacy, unpickled: try LegacyCheckpoint.read(path: path, bytes: bytes))
}

@Suite struct TruncationTests {
  @Test(arguments: ["tiny.pth", "tiny.legacy.pth"])
  func truncatedFilesNameTheFile(_ name: String) throws {
    let bytes = try readBytes(fixture(name))
    let directory = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let cuts = [0, 1, 2, 4, 9, 30, 100, 200, 1000, bytes.count / 3, bytes.count / 2, bytes.count - 100, bytes.count - 22, bytes.count - 1]
    for cut in cuts {
      let path = "\(directory)/cut-\(cut).pth"
      try Data(bytes.prefix(cut)).write(to: URL(fileURLWithPath: path))
      let error = expectTensorFileError([], file: path) { _ = try TorchCheckpoint(path: path) }
      if cut == 0 { #expect(error?.message.contains("not a PyTorch checkpoint") == true) }
      if cut >= 9, name == "tiny.pth" { #expect(error?.message.contains("not a readable zip archive") == true, "\(String(describing: error))") }
      if cut >= 9, name == "tiny.legacy.pth" { #expect(error?.message.contains("truncated file?") == true, "\(String(describing: error))") }
    }
  }

  @Test func everyCutOfALegacyCheckpointIsAnError() throws {
    let bytes = try readBytes(fixture("small.legacy.pth"))
    #expect(try readLegacy(bytes).tensors.count == 5)
    for cut in 0..<bytes.count {
      do {
        _ = try readLegacy(Array(bytes.prefix(cut)))
        Issue.record("a cut at \(cut) of \(bytes.count) bytes was read")
      } catch {
        #expect(error.file == "cut.pth")
        #expect(error.message.contains("truncated file?") || cut < 2, "cut at \(cut): \(error)")
      }
    }
  }

  @Test func corruptedZipRecordFailsItsChecksum() throws {
    var bytes = try readBytes(fixture("small.protocol4.pth"))
    // Flip a byte inside the first storage record (conv.weight's float32 values), which
    // starts after its local header: 30 bytes, the name, then torch's alignment padding.
    let name = bytes.firstRange(of: Array("small.protocol4/data/0".utf8))!
    let extraLength = Int(bytes[name.lowerBound - 2]) | Int(bytes[name.lowerBound - 1]) << 8
    bytes[name.upperBound + extraLength + 40] ^= 0xFF
    let directory = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let path = "\(directory)/corrupt.pth"
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    expectTensorFileError(["zip record 'small.protocol4/data/0'"], file: path) { _ = try TorchCheckpoint(path: path) }
  }

  @Test func mutatedLegacyCheckpointsNeverCrash() throws {
    let valid = try readBytes(fixture("small.legacy.pth"))
    var rng = SplitMix64(seed: 7)
    var rejected = 0
    for _ in 0..<3000 {
      var bytes = valid
      switch Int.random(in: 0..<3, using: &rng) {
      case 0:
        for _ in 0..<Int.random(in: 1...3, using: &rng) {
          bytes[Int.random(in: 0..<bytes.count, using: &rng)] ^= UInt8.random(in: 1...255, using: &rng)
        }
      case 1:
        // A pickle opcode or a large length byte somewhere in the pickles.
        let tokens: [UInt8] = [0x28, 0x2E, 0x52, 0x51, 0x71, 0x68, 0x58, 0x4B, 0x74, 0x75, 0x62, 0x81, 0x93, 0xFF, 0x7F]
        bytes[Int.random(in: 0..<min(bytes.count, 900), using: &rng)] = tokens.randomElement(using: &rng)!
      default:
        bytes.removeSubrange(Int.random(in: 0..<bytes.count, using: &rng)..<bytes.count)
      }
      do {
        let checkpoint = try readLegacy(bytes)
        for tensor in checkpoint.tensors {
          if let values = tensor.values { #expect(values.count == tensor.shape.reduce(1, *)) }
        }
      } catch {
        #expect(error.file == "cut.pth")
        rejected += 1
      }
    }
    #expect(rejected > 1500)
  }
}
