// Checkpoints written by torch.save (Tests/Fixtures/torch, made by
// scripts/make_torch_fixtures.py) read the same values as their safetensors twins: bit for
// bit for float32, and as the rounded conversion for float16, bfloat16 and float64.

import Foundation
import TensorFiles
import Testing

@testable import TorchCheckpoint

/// torchvision's current DenseNet names for its legacy ones (`norm.1` → `norm1`).
func currentDenseNetName(_ name: String) -> String {
  var name = name
  for part in ["norm", "conv"] {
    for index in ["1", "2"] {
      name = name.replacingOccurrences(of: ".\(part).\(index).", with: ".\(part)\(index).")
    }
  }
  return name
}

/// Every float tensor of `checkpoint` equals the twin's tensor of the same name (after
/// `rename`), bit for bit, and the twin has no other tensors.
func expectSameTensors(_ checkpoint: TorchCheckpoint, as twinPath: String, rename: (String) -> String = { $0 }) throws {
  let twin = try SafetensorsFile(path: twinPath)
  let floats = checkpoint.tensors.filter { $0.values != nil }
  #expect(Set(floats.map { rename($0.name) }) == Set(twin.names))
  for tensor in floats {
    let name = rename(tensor.name)
    guard let info = twin.info(name) else { continue }
    #expect(tensor.shape == info.shape, "\(name)")
    #expect(tensor.values!.map(\.bitPattern) == (try twin.floats(name)).map(\.bitPattern), "\(name)")
  }
}

@Suite struct FixtureTests {
  @Test(arguments: [("tiny.pth", TorchCheckpoint.Format.zip), ("tiny.legacy.pth", .legacy)])
  func torchvisionDenseNetCheckpointReads(_ file: String, format: TorchCheckpoint.Format) throws {
    let checkpoint = try TorchCheckpoint(path: fixture(file))
    #expect(checkpoint.format == format)
    #expect(checkpoint.container == nil && checkpoint.strippedPrefix == nil)
    // 66 parameters and statistics, 13 batch-norm counters, in the state_dict's order.
    #expect(checkpoint.tensors.count == 79)
    #expect(checkpoint.tensors.first?.name == "features.conv0.weight")
    #expect(checkpoint.tensors.contains { $0.name == "features.denseblock1.denselayer1.norm.1.weight" })
    let counters = checkpoint.tensors.filter { $0.name.hasSuffix("num_batches_tracked") }
    #expect(counters.count == 13)
    #expect(counters.allSatisfy { $0.dtype == .i64 && $0.shape == [] && $0.values == nil })
    try expectSameTensors(checkpoint, as: fixture("tiny.safetensors"), rename: currentDenseNetName)
  }

  @Test(arguments: ["small.protocol4.pth", "small.legacy.pth"])
  func float32CheckpointsEqualTheirTwin(_ file: String) throws {
    let checkpoint = try TorchCheckpoint(path: fixture(file))
    #expect(checkpoint.tensors.map(\.name) == ["conv.weight", "conv.bias", "fc.weight", "scale", "empty"])
    #expect(checkpoint.tensors.map(\.shape) == [[4, 3, 3, 3], [4], [2, 4], [], [0, 3]])
    #expect(checkpoint.tensors.allSatisfy { $0.dtype == .f32 })
    try expectSameTensors(checkpoint, as: fixture("small.safetensors"))
  }

  @Test func float16IsConvertedExactly() throws {
    let checkpoint = try TorchCheckpoint(path: fixture("small.f16.pth"))
    #expect(checkpoint.tensors.allSatisfy { $0.dtype == .f16 })
    try expectSameTensors(checkpoint, as: fixture("small.f16.safetensors"))
    // The file holds torch's rounding of the float32 originals; Swift's Float16 rounds alike.
    let originals = try SafetensorsFile(path: fixture("small.safetensors"))
    for tensor in checkpoint.tensors {
      let expected = try originals.floats(tensor.name).map { Float(Float16($0)) }
      #expect(tensor.values! == expected, "\(tensor.name)")
    }
  }

  @Test func bfloat16IsConvertedExactly() throws {
    let checkpoint = try TorchCheckpoint(path: fixture("small.bf16.pth"))
    #expect(checkpoint.tensors.allSatisfy { $0.dtype == .bf16 })
    try expectSameTensors(checkpoint, as: fixture("small.bf16.safetensors"))
    let originals = try SafetensorsFile(path: fixture("small.safetensors"))
    for tensor in checkpoint.tensors {
      #expect(tensor.values! == (try originals.floats(tensor.name)).map(bfloat16Rounded), "\(tensor.name)")
    }
  }

  @Test func float64IsRoundedToNearest() throws {
    let checkpoint = try TorchCheckpoint(path: fixture("small.f64.pth"))
    #expect(checkpoint.tensors.allSatisfy { $0.dtype == .f64 })
    let twin = try SafetensorsFile(path: fixture("small.f64.safetensors"))
    var inexact = 0
    for tensor in checkpoint.tensors {
      let doubles = try twin.doubles(tensor.name)
      #expect(tensor.values! == doubles.map { Float($0) }, "\(tensor.name)")
      inexact += zip(tensor.values!, doubles).filter { Double($0) != $1 }.count
    }
    // The fixture's values are not all float32 values, so rounding really happened.
    #expect(inexact > 100)
  }

  @Test func nonContiguousStridesAreGathered() throws {
    let checkpoint = try TorchCheckpoint(path: fixture("strided.pth"))
    #expect(checkpoint.tensors.map(\.shape) == [[6, 4], [4, 3], [2, 6], [3, 5], [5, 3, 2, 4], [4]])
    try expectSameTensors(checkpoint, as: fixture("strided.safetensors"))
    // base = arange(24).reshape(4, 6) / 7, so transposed[i][j] = (6j + i) / 7.
    let transposed = checkpoint.tensors[0].values!
    #expect(transposed[1 * 4 + 2] == Float(13) / 7)
  }

  @Test func lightningCheckpointWithDDPPrefix() throws {
    let checkpoint = try TorchCheckpoint(path: fixture("lightning.pth"))
    #expect(checkpoint.container == "state_dict")
    #expect(checkpoint.strippedPrefix == "module.")
    #expect(checkpoint.tensors.map(\.name) == ["conv.weight", "conv.bias", "fc.weight", "scale", "empty"])
    try expectSameTensors(checkpoint, as: fixture("small.safetensors"))
  }

  @Test func formatIsRecognisedByContent() throws {
    #expect(TorchCheckpoint.recognizes(path: fixture("tiny.pth")))
    #expect(TorchCheckpoint.recognizes(path: fixture("tiny.legacy.pth")))
    #expect(!TorchCheckpoint.recognizes(path: fixture("tiny.safetensors")))
    #expect(!TorchCheckpoint.recognizes(path: fixture("no-such-file.pth")))
    // A safetensors header of 128 bytes starts with 0x80, like a pickle; its `{` at byte 8 tells.
    let directory = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let json = Array(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#.utf8)
    let header = json + Array(repeating: UInt8(ascii: " "), count: 128 - json.count)
    let path = "\(directory)/w.pth"
    try Data([0x80, 0, 0, 0, 0, 0, 0, 0] + header + f32Bytes([1])).write(to: URL(fileURLWithPath: path))
    #expect(!TorchCheckpoint.recognizes(path: path))
    #expect(try SafetensorsFile(path: path).floats("a") == [1])
  }
}
