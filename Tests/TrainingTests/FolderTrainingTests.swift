import Foundation
import GraphIR
import ImageIO
import Runtime
import Testing
import TestSupport

@testable import Training

/// Training reads every dataset layout and image format: an ImageFolder of DICOM files
/// (single-label) and a wide CSV with an unknown label (multi-label, BCE over the known
/// targets, the heatmap loss over every label's heatmap).
@Suite final class FolderTrainingTests {
  let root = NSTemporaryDirectory() + "isnetc-folders-\(UUID().uuidString)"

  deinit { try? FileManager.default.removeItem(atPath: root) }

  static func model(_ kind: String) -> String {
    """
    isnet 1;
    model small(input: f32[3, 16, 16] in [0, 1], classes: int = 2) -> \(kind) {
      x = conv(input, out: 4, k: 3, pad: 1, bias: false) @ "conv0"; x = bn(x) @ "norm0"; x = relu(x);
      x = global_avgpool(x);
      return linear(x, out: classes) @ "classifier";
    }
    """
  }

  func copy(_ fixture: String, to path: String) throws {
    try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    try FileManager.default.copyItem(atPath: Repository.path("Tests/Fixtures/dicom/\(fixture)"), toPath: path)
  }

  func train(_ graph: Graph, _ settings: TrainingSettings, data: String) throws -> RunState {
    let samples = try FolderSamples(directory: data, graph: graph, needsMasks: settings.heatmapWeight > 0)
    let trainer = try Trainer(
      classifier: graph, settings: settings, weights: Initialization.weights(for: graph, seed: 1), weightsSource: "initial",
      train: samples, validation: samples, directory: root + "/run-\(UUID().uuidString)")
    return try trainer.run { _ in }
  }

  @Test func anImageFolderOfDICOMFilesTrains() throws {
    let data = root + "/dicom"
    for i in 0..<3 {
      try copy("mono2_8bit.dcm", to: "\(data)/bright/\(i).dcm")
      try copy("mono1_12bit.dcm", to: "\(data)/inverted/\(i).dcm")
    }
    let graph = try compileSource(Self.model("softmax"))
    let samples = try FolderSamples(directory: data, graph: graph, needsMasks: false)
    #expect(samples.count == 6 && samples.folder.classNames == ["bright", "inverted"])
    #expect(try samples.load(3).label == 1)
    let state = try train(graph, TrainingSettings(heatmapWeight: 0, epochs: 2, batchSize: 3, threads: testThreads), data: data)
    #expect(state.history.count == 2 && state.history.allSatisfy { $0.trainLoss.isFinite })
  }

  @Test func aWideCSVTrainsAMultiLabelISNet() throws {
    let data = root + "/wide"
    var csv = "file,first,second\n"
    for i in 0..<6 {
      try copy(i % 2 == 0 ? "mono2_8bit.dcm" : "mono1_12bit.dcm", to: "\(data)/images/\(i).dcm")
      let mask = Image(channels: 1, height: 6, width: 5, pixels: (0..<30).map { $0 % 5 < 3 ? 1 : 0 })
      try FileManager.default.createDirectory(atPath: "\(data)/masks", withIntermediateDirectories: true)
      try PNGCodec.write(mask, to: "\(data)/masks/\(i).dcm")
      csv += "\(i).dcm,\(i % 2),\(i == 3 ? "-1" : String((i / 2) % 2))\n"
    }
    try Data(csv.utf8).write(to: URL(fileURLWithPath: "\(data)/labels.csv"))
    let graph = try compileSource(Self.model("sigmoid"))
    let samples = try FolderSamples(directory: data, graph: graph, needsMasks: true)
    let third = try samples.load(3)
    #expect(third.targets == [1, 0] && third.known == [1, 0])
    let state = try train(graph, TrainingSettings(epochs: 1, warmupEpochs: 0, batchSize: 3, threads: testThreads), data: data)
    #expect(state.history.count == 1 && state.history[0].trainLoss.isFinite && state.history[0].trainHeatmapLoss > 0)
    // Per-label positive weights reach BCE: the first label's positives count double.
    var weighted = TrainingSettings(epochs: 1, warmupEpochs: 0, batchSize: 3, threads: testThreads)
    weighted.positiveWeights = [2, 1]
    let heavier = try train(graph, weighted, data: data)
    #expect(heavier.history[0].trainClassificationLoss != state.history[0].trainClassificationLoss)
    weighted.positiveWeights = [2]
    #expect(throws: TrainingFailure.self) { try self.train(graph, weighted, data: data) }
  }
}
