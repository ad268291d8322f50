import Foundation
import GraphIR
import ImageIO
import Runtime
import SeededRandom
import Testing
import TestSupport

@testable import Training

/// Segmentation models (`-> segmentation`): the BCE + Dice loss and its gradient, the
/// overlap measures, and a small segmenter trained on a folder's masks.
@Suite final class SegmentationTests {
  let root = NSTemporaryDirectory() + "isnetc-segmentation-\(UUID().uuidString)"

  deinit { try? FileManager.default.removeItem(atPath: root) }

  /// ∂L/∂z against float64 central differences: the loss is smooth, so the differences
  /// agree to their truncation error (h² · L‴ ≈ 1e-10 at h = 1e-5) and rounding
  /// (1e-16 · L / h ≈ 1e-11): 1e-7 relative to the largest component is ample.
  @Test func gradientMatchesCentralDifferences() {
    var random = SplitMix64(seed: 5)
    let samples = 3, pixels = 20
    let logits = (0..<samples * pixels).map { _ in random.float(-3, 3) }
    let masks = (0..<samples * pixels).map { _ in Float(random.unit() < 0.4 ? 1 : 0) }
    let (_, gradient) = SegmentationLoss.evaluate(logits: logits, masks: masks, samples: samples)
    let largest = gradient.map(abs).max()!
    for i in stride(from: 0, to: logits.count, by: 7) {
      // Differences in double: evaluate on logits shifted in double, rounded the same way.
      func loss(_ shift: Double) -> Double {
        let x = logits.map(Double.init)
        return lossInDouble(x.enumerated().map { $0.offset == i ? $0.element + shift : $0.element }, masks.map(Double.init), samples)
      }
      let h = 1e-5
      let difference = (loss(h) - loss(-h)) / (2 * h)
      #expect(abs(difference - gradient[i]) <= 1e-7 * largest, "logit \(i): analytic \(gradient[i]), difference \(difference)")
    }
  }

  /// The loss written out again in double from its definition (BCE + soft Dice, smoothing 1).
  func lossInDouble(_ z: [Double], _ m: [Double], _ samples: Int) -> Double {
    let pixels = z.count / samples
    var total = 0.0
    for b in 0..<samples {
      let range = b * pixels..<(b + 1) * pixels
      let p = range.map { 1 / (1 + exp(-z[$0])) }
      let bce = zip(p, range).reduce(0.0) { $0 - (m[$1.1] * log($1.0) + (1 - m[$1.1]) * log(1 - $1.0)) } / Double(pixels)
      let intersection = zip(p, range).reduce(0.0) { $0 + $1.0 * m[$1.1] }
      let union = p.reduce(0, +) + range.reduce(0.0) { $0 + m[$1] }
      total += bce + 1 - (2 * intersection + 1) / (union + 1)
    }
    return total / Double(samples)
  }

  @Test func confidentRightPredictionsCostAlmostNothing() {
    let masks: [Float] = [1, 1, 0, 0, 0, 0, 0, 0]
    let right = masks.map { $0 > 0 ? Float(20) : -20 }
    #expect(SegmentationLoss.evaluate(logits: right, masks: masks, samples: 2).loss < 1e-6)
    let wrong = right.map { -$0 }
    #expect(SegmentationLoss.evaluate(logits: wrong, masks: masks, samples: 2).loss > 5)
  }

  /// Predicted {0, 1, 2}, truth {1, 2, 3} of 6 pixels: IoU 2/4, Dice 4/6, 4 pixels right;
  /// nothing predicted and nothing true counts as a perfect match.
  @Test func overlapsCountIntersectionAndUnion() {
    let logits: [Float] = [1, 1, 1, -1, -1, -1]
    let masks: [Float] = [0, 1, 1, 1, 0, 0]
    let first = SegmentationLoss.overlaps(logits: logits, masks: masks, samples: 1)[0]
    #expect(first.iou == 0.5 && abs(first.dice - 4.0 / 6) < 1e-12 && abs(first.pixelAccuracy - 4.0 / 6) < 1e-12)
    let empty = SegmentationLoss.overlaps(logits: [-1, -1], masks: [0, 0], samples: 1)[0]
    #expect(empty.iou == 1 && empty.dice == 1)
  }

  static let model = """
    isnet 1;
    model seg(input: f32[1, 16, 16] in [0, 1]) -> segmentation {
      x = conv(input, out: 8, k: 3, pad: 1, bias: false) @ "c0"; x = bn(x) @ "n0"; x = relu(x);
      x = conv(x, out: 8, k: 3, pad: 1, bias: false) @ "c1"; x = bn(x) @ "n1"; x = relu(x);
      return conv(x, out: 1, k: 1) @ "out";
    }
    """

  /// Bright squares of random size and place on noise, the square as the mask.
  static func writeFolder(_ directory: String, count: Int, seed: UInt64) throws {
    var random = SplitMix64(seed: seed)
    for sub in ["images", "masks"] { try FileManager.default.createDirectory(atPath: "\(directory)/\(sub)", withIntermediateDirectories: true) }
    var csv = "file,label\n"
    for i in 0..<count {
      let side = 4 + Int(random.unit() * 6), top = Int(random.unit() * Double(16 - side)), left = Int(random.unit() * Double(16 - side))
      var pixels = [Float](repeating: 0, count: 256), mask = pixels
      for y in 0..<16 {
        for x in 0..<16 {
          let inside = (top..<top + side).contains(y) && (left..<left + side).contains(x)
          pixels[y * 16 + x] = inside ? random.float(0.55, 0.9) : random.float(0, 0.45)
          mask[y * 16 + x] = inside ? 1 : 0
        }
      }
      let name = String(format: "%03d.png", i)
      try PNGCodec.write(Image(channels: 1, height: 16, width: 16, pixels: pixels), to: "\(directory)/images/\(name)")
      try PNGCodec.write(Image(channels: 1, height: 16, width: 16, pixels: mask), to: "\(directory)/masks/\(name)")
      csv += "\(name),\(i % 2)\n"
    }
    try Data(csv.utf8).write(to: URL(fileURLWithPath: "\(directory)/labels.csv"))
  }

  /// A segmenter trains on the masks alone (labels unused): its validation IoU, reported
  /// per epoch in place of macro F1, rises from the initial guess to most of each square.
  @Test func aSegmenterLearnsTheMasks() throws {
    let graph = try compileSource(Self.model)
    #expect(graph.outputKind == .segmentation)
    let state = try train(graph, name: "seg", seeds: (1, 2)) { $0.segmentation = true; $0.bestBy = .f1 }
    let ious = state.history.compactMap(\.validationIoU)
    #expect(ious.count == 8 && state.history.allSatisfy { $0.validationMacroF1 == nil })
    #expect(ious.last! > 0.8 && ious.last! > ious.first!, "validation IoU per epoch: \(ious)")
    #expect(state.bestValue == ious.max())
  }
}

extension SegmentationTests {
  /// Eight epochs of Adam 1e-2 on 40 training and 12 validation squares (folders drawn with
  /// `seeds`), the settings adjusted by `adjust`.
  func train(_ graph: Graph, name: String, seeds: (UInt64, UInt64), adjust: (inout TrainingSettings) -> Void) throws -> RunState {
    try Self.writeFolder("\(root)/\(name)-train", count: 40, seed: seeds.0)
    try Self.writeFolder("\(root)/\(name)-val", count: 12, seed: seeds.1)
    var settings = TrainingSettings(
      heatmapWeight: 0, epochs: 8, warmupEpochs: 0, batchSize: 8, optimizer: OptimizerSettings(kind: .adam, learningRate: 1e-2), threads: testThreads)
    adjust(&settings)
    let train = try FolderSamples(directory: "\(root)/\(name)-train", graph: graph, needsMasks: settings.needsMasks(for: graph))
    let validation = try FolderSamples(directory: "\(root)/\(name)-val", graph: graph, needsMasks: settings.needsMasks(for: graph))
    let trainer = try Trainer(
      classifier: graph, settings: settings, weights: Initialization.weights(for: graph, seed: 3), weightsSource: "initial",
      train: train, validation: validation, directory: "\(root)/\(name)-run")
    return try trainer.run { _ in }
  }

  /// A multi-task classifier trains on labels and masks at once: L_S reported per epoch
  /// beside L_C, validation reports macro F1 and the head's IoU, which rises.
  @Test func aMultiTaskClassifierLearnsLabelsAndMasks() throws {
    let graph = try compileSource("""
      model mt(input: f32[1, 16, 16] in [0, 1], classes: int = 2) {
        x = conv(input, out: 8, k: 3, pad: 1, bias: false) @ "c0"; x = bn(x) @ "n0"; x = relu(x);
        x = conv(x, out: 8, k: 3, pad: 1, bias: false) @ "c1"; x = bn(x) @ "n1"; x = relu(x);
        return linear(global_avgpool(x), out: classes) @ "fc", conv(x, out: 1, k: 1) @ "seg";
      }
      """)
    let state = try train(graph, name: "multitask", seeds: (5, 6)) { _ in }
    let ious = state.history.compactMap(\.validationIoU)
    #expect(state.history.allSatisfy { $0.validationMacroF1 != nil && ($0.trainSegmentationLoss ?? 0) > 0 && $0.validationSegmentationLoss != nil })
    #expect(ious.count == 8 && ious.last! > 0.7 && ious.last! > ious.first!, "validation IoU per epoch: \(ious)")
    // The total is L_C + L_S (P 0, W 1).
    let last = state.history.last!
    #expect(abs(last.validationLoss! - last.validationClassificationLoss! - last.validationSegmentationLoss!) < 1e-9 * last.validationLoss!)
  }
}
