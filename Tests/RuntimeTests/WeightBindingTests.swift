import Foundation
import GraphIR
import Runtime
import Testing
import TestSupport

@Suite struct WeightBindingTests {
  func session(_ weights: WeightTable) throws -> InferenceSession {
    try InferenceSession(graph: try compileModel("tiny").deploymentGraph(), weights: weights, weightsSource: "w.safetensors", batchSize: 1, threads: 1)
  }

  @Test func reportsMissingUnexpectedAndMisshapenTensors() throws {
    var weights = try ReferenceFixture("tiny").weights
    weights["features.conv0.weight"] = nil
    weights["classifier.bias"] = HostTensor(shape: [4], values: [0, 0, 0, 0])
    weights["features.norm0.runing_mean"] = HostTensor(shape: [16], values: Array(repeating: 0, count: 16))
    weights["features.norm5.weight"]!.values[7] = .nan
    #expect(throws: RuntimeError("""
      w.safetensors: weights do not fit model 'tiny':
        missing tensor 'features.conv0.weight' (expected shape [16, 3, 7, 7])
        tensor 'features.norm5.weight' holds a non-finite value (nan) at flat index 7
        tensor 'classifier.bias' has shape [4], the model needs [3]
        unexpected tensor 'features.norm0.runing_mean': the model has no parameter of that name
      """)) {
      _ = try session(weights)
    }
  }

  @Test func legacyDenseNetKeysAndCountersLoad() throws {
    let fixture = try ReferenceFixture("tiny")
    var entries: [(name: String, shape: [Int], values: [Float])] = []
    for (name, tensor) in fixture.weights {
      let legacy = name.replacingOccurrences(of: "norm1.", with: "norm.1.").replacingOccurrences(of: "conv2.", with: "conv.2.")
      entries.append((legacy, tensor.shape, tensor.values))
    }
    #expect(entries.contains { $0.name == "features.denseblock1.denselayer1.norm.1.weight" })
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("legacy-\(UUID()).safetensors").path
    defer { try? FileManager.default.removeItem(atPath: path) }
    try WeightFiles.save(Dictionary(uniqueKeysWithValues: entries.map { ($0.name, HostTensor(shape: $0.shape, values: $0.values)) }), to: path)
    let loaded = try WeightFiles.load(path: path)
    #expect(loaded == fixture.weights)
  }

  @Test func initialWeightsAreSeededAndTorchvisionShaped() throws {
    let graph = try compileModel("tiny")
    let a = Initialization.weights(for: graph, seed: 7)
    #expect(a == Initialization.weights(for: graph, seed: 7))
    #expect(a != Initialization.weights(for: graph, seed: 8))
    #expect(a["features.norm0.weight"]!.values.allSatisfy { $0 == 1 })
    #expect(a["features.norm0.running_var"]!.values.allSatisfy { $0 == 1 })
    #expect(a["classifier.bias"]!.values.allSatisfy { $0 == 0 })
    // Kaiming normal, fan-in 3·7·7: standard deviation sqrt(2/147) ≈ 0.1166.
    let w = a["features.conv0.weight"]!.values.map(Double.init)
    let std = (w.map { $0 * $0 }.reduce(0, +) / Double(w.count)).squareRoot()
    #expect(abs(std - (2.0 / 147).squareRoot()) < 0.01)
    let bound = Float(1 / 40.0.squareRoot())
    #expect(a["classifier.weight"]!.values.allSatisfy { abs($0) <= bound })
  }
}
