// PyTorch checkpoints as weights: a torchvision-format DenseNet checkpoint written by torch
// (Tests/Fixtures/torch/tiny.pth: legacy `norm.1` keys, num_batches_tracked counters) loads,
// converts, and gives the same logits, bit for bit, as the same weights in safetensors.

import Foundation
import GraphIR
import Runtime
import TensorFiles
import Testing
import TestSupport

@Suite struct TorchWeightsTests {
  func torchFixture(_ name: String) -> String { Repository.path("Tests/Fixtures/torch/\(name)") }

  func logits(_ weights: WeightTable, source: String) throws -> [Float] {
    let fixture = try ReferenceFixture("tiny")
    let graph = try compileModel("tiny").deploymentGraph()
    let session = try InferenceSession(graph: graph, weights: weights, weightsSource: source, batchSize: fixture.batch, threads: 2)
    return try session.run(try fixture.input(), samples: fixture.batch)
  }

  @Test(arguments: ["tiny.pth", "tiny.legacy.pth"])
  func denseNetCheckpointGivesTheSafetensorsLogits(_ name: String) throws {
    let path = torchFixture(name)
    let loaded = try WeightFiles.read(path: path)
    #expect(loaded.format == (name == "tiny.pth" ? "PyTorch zip checkpoint" : "PyTorch legacy checkpoint"))
    #expect(loaded.renamedKeys == 50 && loaded.skippedCounters == 13 && loaded.conversions.isEmpty)
    let twin = try WeightFiles.load(path: torchFixture("tiny.safetensors"))
    #expect(loaded.table == twin)
    let expected = try logits(twin, source: "tiny.safetensors")
    #expect(expected.allSatisfy(\.isFinite) && Set(expected).count == expected.count)
    #expect(try logits(loaded.table, source: path).map(\.bitPattern) == expected.map(\.bitPattern))

    // What `isnetc convert` writes loads back to the same weights and logits.
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("isnetc-convert-\(UUID())").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    try WeightFiles.save(loaded.table, to: "\(directory)/tiny.safetensors")
    let converted = try WeightFiles.load(path: "\(directory)/tiny.safetensors")
    #expect(try logits(converted, source: "converted").map(\.bitPattern) == expected.map(\.bitPattern))
  }

  @Test func loadingSaysWhatItChanged() throws {
    let half = try WeightFiles.read(path: torchFixture("small.f16.pth"))
    #expect(half.conversionNotes == ["converted 5 float16 tensors to float32"])
    let wide = try WeightFiles.read(path: torchFixture("small.f64.pth"))
    #expect(wide.conversionNotes == ["converted 5 float64 tensors to float32 (rounded)"])
    let lightning = try WeightFiles.read(path: torchFixture("lightning.pth"))
    #expect(lightning.notes == ["took the state_dict under 'state_dict'", "removed the prefix 'module.' from every name"])
    #expect(lightning.table == (try WeightFiles.load(path: torchFixture("small.safetensors"))))
    let tiny = try WeightFiles.read(path: torchFixture("tiny.pth"))
    #expect(tiny.notes == ["renamed 50 legacy DenseNet keys (norm.1 → norm1)", "skipped 13 num_batches_tracked counters"])
    // Safetensors files report their conversions too.
    #expect(try WeightFiles.read(path: torchFixture("small.bf16.safetensors")).conversionNotes == ["converted 5 bfloat16 tensors to float32"])
  }

  @Test func countersAreSkippedWhateverTheirType() throws {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("isnetc-counters-\(UUID()).safetensors").path
    defer { try? FileManager.default.removeItem(atPath: path) }
    try SafetensorsWriter.write(
      [
        SafetensorsEntry(name: "bn.weight", shape: [2], values: .float32([1, 2])),
        SafetensorsEntry(name: "bn.num_batches_tracked", shape: [], values: .float32([12])),
        SafetensorsEntry(name: "bn2.num_batches_tracked", shape: [], values: .int64([12])),
      ], to: path)
    let loaded = try WeightFiles.read(path: path)
    #expect(loaded.table == ["bn.weight": HostTensor(shape: [2], values: [1, 2])])
    #expect(loaded.skippedCounters == 2)
  }

  @Test func refusedCheckpointNamesTheFile() throws {
    let path = torchFixture("malicious.pth")
    #expect(throws: TensorFileError.self) { _ = try WeightFiles.load(path: path) }
    do {
      _ = try WeightFiles.load(path: path)
    } catch {
      #expect("\(error)".hasPrefix("\(path): malicious/data.pkl byte 22 (GLOBAL): refuses global 'posix.system'"))
    }
  }
}
