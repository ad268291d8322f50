import Foundation
import GraphIR
import Runtime
import Testing
import TestSupport

@testable import Training

/// `--freeze SCOPE`: a pipeline's segmenter kept as loaded while its classifier trains.
@Suite final class FreezeTests {
  let root = NSTemporaryDirectory() + "isnetc-freeze-\(UUID().uuidString)"

  deinit { try? FileManager.default.removeItem(atPath: root) }

  /// A segmenter (with a batch norm) whose sigmoid weighs the image a classifier reads.
  static let model = """
    isnet 1;
    model pipeline(input: f32[1, 16, 16] in [0, 1], classes: int = 2) {
      scope "segmenter" {
        s = conv(input, out: 4, k: 3, pad: 1, bias: false) @ "c0"; s = bn(s) @ "n0"; s = relu(s);
        s = conv(s, out: 1, k: 1) @ "out";
      }
      x = mul(input, sigmoid(s));
      scope "classifier" {
        x = conv(x, out: 4, k: 3, pad: 1, bias: false) @ "c0"; x = bn(x) @ "n0"; x = relu(x);
        x = linear(global_avgpool(x), out: classes) @ "fc";
      }
      return x;
    }
    """

  /// Frozen parameters and running statistics keep their bits through training; the others
  /// move; the program differentiates none of the segmenter.
  @Test func aFrozenScopeKeepsItsWeightsAndStatistics() throws {
    try SegmentationTests.writeFolder(root + "/data", count: 16, seed: 4)
    let graph = try compileSource(Self.model)
    var settings = TrainingSettings(heatmapWeight: 0, epochs: 2, warmupEpochs: 0, batchSize: 8, threads: testThreads)
    settings.frozen = ["segmenter"]
    let initial = Initialization.weights(for: graph, seed: 5)
    var start = initial
    // Running statistics far from a batch's, so that a training-mode norm would show.
    start["segmenter.n0.running_mean"]!.values = [0.3, -0.2, 0.1, 0.5]
    start["segmenter.n0.running_var"]!.values = [2, 0.5, 1.5, 3]
    let samples = try FolderSamples(directory: root + "/data", graph: graph, needsMasks: false)
    let trainer = try Trainer(
      classifier: graph, settings: settings, weights: start, weightsSource: "start", train: samples, validation: samples,
      directory: root + "/run")
    #expect(!trainer.session.program.steps.contains { step in
      if case .parameter(let name, _) = step.target { name.hasPrefix("segmenter.") } else { false }
    })
    _ = try trainer.run { _ in }
    let after = trainer.session.weights
    for (name, tensor) in start {
      let same = after[name]!.values.map(\.bitPattern) == tensor.values.map(\.bitPattern)
      if name.hasPrefix("segmenter.") {
        #expect(same, "\(name) changed")
      } else if name.hasSuffix(".weight") {
        #expect(!same, "\(name) did not train")
      }
    }
  }

  @Test func anUnknownScopeIsRefusedWithTheModelsScopes() throws {
    let graph = try compileSource(Self.model)
    do {
      _ = try Trainer.frozenParameters(graph, scopes: ["segmentor"])
      Issue.record("an unknown scope was accepted")
    } catch {
      #expect("\(error)" == "--freeze segmentor: no parameter of 'pipeline' lies under scope 'segmentor'; its top-level scopes are classifier, segmenter")
    }
  }
}
