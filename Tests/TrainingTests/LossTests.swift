import Foundation
import TensorFiles
import Testing
import TestSupport

@testable import Training

/// The loss terms against the reference's training step (tiny: its heatmaps, mask, logits
/// and labels in, its losses out), and their hand-written gradients against central finite
/// differences in float64.
@Suite struct LossTests {
  let fixture: SafetensorsFile

  init() throws {
    fixture = try SafetensorsFile(path: Repository.path("Tests/Fixtures/train/tiny.train.safetensors"))
  }

  @Test func lossesMatchTheReferenceStep() throws {
    let heatmaps = try fixture.doubles("heatmaps")
    let masks = try fixture.doubles("mask")
    let logits = try fixture.doubles("logits")
    let labels = try fixture.integers("labels").map(Int.init)
    let shape = fixture.info("heatmaps")!.shape  // [B, K, C, H, W]
    let heatmap = HeatmapLoss(scale: 10, stabilizer: 1e-4, normalization: .standardDeviation).evaluate(
      heatmaps: heatmaps, masks: masks, batch: shape[0], classes: shape[1], channels: shape[2], gradient: false
    ).loss
    let classification = ClassificationLoss.crossEntropy(logits: logits, labels: labels, classes: shape[1]).loss
    let total = isnetLoss(classification: classification, heatmap: heatmap, weight: 0.7)
    // The reference computes the heatmap loss in float32: agreement to its rounding.
    let expectedHeatmap = try fixture.doubles("loss_heatmap")[0]
    let expectedClassification = try fixture.doubles("loss_classification")[0]
    print("tiny losses: heatmap \(heatmap) (reference \(expectedHeatmap)), classification \(classification) (reference \(expectedClassification))")
    // The reference sums its float32 heatmap loss over every heatmap value.
    let bound = Float32Bound.sum(terms: heatmaps.count)
    #expect(abs(heatmap - expectedHeatmap) <= bound * expectedHeatmap)
    #expect(abs(classification - expectedClassification) <= 1e-12)
    #expect(abs(total - (try fixture.doubles("loss_total")[0])) <= bound * total)
  }

  /// Central differences of `f` at `x` for a few coordinates.
  func expectGradient(_ analytic: [Double], at x: [Double], coordinates: [Int], step: Double = 1e-6, tolerance: Double = 1e-6, _ f: ([Double]) -> Double) {
    let scale = analytic.map(abs).max() ?? 1
    for i in coordinates {
      var plus = x
      var minus = x
      plus[i] += step
      minus[i] -= step
      let numeric = (f(plus) - f(minus)) / (2 * step)
      #expect(abs(numeric - analytic[i]) <= tolerance * max(scale, 1e-12), "coordinate \(i): analytic \(analytic[i]), numeric \(numeric)")
    }
  }

  @Test func heatmapLossGradient() {
    var r = SplitMix64(seed: 5)
    let (batch, classes, channels, plane) = (2, 3, 2, 6)
    let h = (0..<(batch * classes * channels * plane)).map { _ in Double(r.float(-1, 1)) }
    let masks = (0..<(batch * plane)).map { _ in r.int(0...1) == 1 ? 1.0 : 0.0 }
    for normalization in HeatmapLoss.Normalization.allCases {
      // E small enough that f stays below the clamp, large enough to matter.
      let loss = HeatmapLoss(scale: normalization == .standardDeviation ? 3 : 30, stabilizer: 1e-4, normalization: normalization)
      let analytic = loss.evaluate(heatmaps: h, masks: masks, batch: batch, classes: classes, channels: channels, gradient: true).gradient!
      expectGradient(analytic, at: h, coordinates: Array(stride(from: 0, to: h.count, by: 5))) {
        loss.evaluate(heatmaps: $0, masks: masks, batch: batch, classes: classes, channels: channels, gradient: false).loss
      }
    }
    let loss = HeatmapLoss(scale: 3, stabilizer: 1e-4, normalization: .standardDeviation)
    // Foreground-only relevance is not penalised... but it still moves the variance, so
    // its gradient is small, not zero; a heatmap wholly inside the mask has zero loss.
    let inside = loss.evaluate(heatmaps: h, masks: [Double](repeating: 1, count: masks.count), batch: batch, classes: classes, channels: channels, gradient: true)
    #expect(inside.loss == 0 && inside.gradient!.allSatisfy { $0 == 0 })
  }

  /// mean-abs: u is the background's share of |H| times the elements per map (one map
  /// here), whatever the heatmaps' scale; the paper's form at this scale is not.
  @Test func meanAbsoluteNormalizationMeasuresTheShare() {
    let h: [Double] = [1e-4, -3e-4, 2e-4, -4e-4]  // one map of 4 pixels
    let mask: [Double] = [1, 1, 0, 0]  // background: the last two, 6e-4 of 1e-3
    let shareLoss = HeatmapLoss(scale: 1, stabilizer: 1e-4, normalization: .meanAbsolute)
    let u = shareLoss.meanBackground(heatmaps: h, masks: mask, batch: 1, classes: 1, channels: 1)
    #expect(abs(u - 0.6 * 4) < 1e-12)
    let scaled = shareLoss.meanBackground(heatmaps: h.map { $0 * 1000 }, masks: mask, batch: 1, classes: 1, channels: 1)
    #expect(abs(scaled - u) < 1e-12)
    // The stabiliser dominates Var(H) ≈ 1e-7 here, so the paper's u grows with the scale.
    let paper = HeatmapLoss(scale: 1, stabilizer: 1e-4, normalization: .standardDeviation)
    let small = paper.meanBackground(heatmaps: h, masks: mask, batch: 1, classes: 1, channels: 1)
    let large = paper.meanBackground(heatmaps: h.map { $0 * 1000 }, masks: mask, batch: 1, classes: 1, channels: 1)
    #expect(large > 10 * small)
    // All-zero heatmaps: zero loss and gradient, not NaN.
    let zero = shareLoss.evaluate(heatmaps: [0, 0, 0, 0], masks: mask, batch: 1, classes: 1, channels: 1, gradient: true)
    #expect(zero.loss == 0 && zero.gradient!.allSatisfy { $0 == 0 })
  }

  /// per-map: every map's u is its own background share times its elements, so a map of
  /// small |H| weighs as much as a large one; with mean-abs its u shrinks with its size.
  @Test func perMapNormalizationWeighsEveryMapAlike() {
    let mask: [Double] = [1, 1, 0, 0]
    let large: [Double] = [3, -3, 1, -1]  // background share 0.25
    let small = [1e-3, -1e-3, 1e-3, -1e-3]  // background share 0.5
    let perMap = HeatmapLoss(scale: 1, stabilizer: 1e-4, normalization: .perMap)
    let u = perMap.meanBackground(heatmaps: large + small, masks: mask + mask, batch: 2, classes: 1, channels: 1)
    #expect(abs(u - (0.25 + 0.5) * 4 / 2) < 1e-12)
    let pooled = HeatmapLoss(scale: 1, stabilizer: 1e-4, normalization: .meanAbsolute)
    let alone = pooled.meanBackground(heatmaps: small, masks: mask, batch: 1, classes: 1, channels: 1)
    let beside = pooled.meanBackground(heatmaps: large + small, masks: mask + mask, batch: 2, classes: 1, channels: 1)
    // Alone, the small map's u is its share times 4; beside the large one it adds about
    // nothing: s ≈ 1, u ≈ (2 + 0.002) / 2.
    #expect(abs(alone - 0.5 * 4) < 1e-12 && abs(beside - 1) < 0.01)
    // The loss of one sample does not depend on which others share its batch.
    let one = perMap.evaluate(heatmaps: small, masks: mask, batch: 1, classes: 1, channels: 1, gradient: true)
    let two = perMap.evaluate(heatmaps: small + small, masks: mask + mask, batch: 2, classes: 1, channels: 1, gradient: true)
    #expect(abs(one.loss - two.loss) < 1e-15)
    #expect(zip(one.gradient!, two.gradient!.prefix(4)).allSatisfy { abs($0 - 2 * $1) <= 1e-12 * abs($0) })
    // An all-zero map beside a nonzero one: zero loss and gradient for it, not NaN.
    let zero = perMap.evaluate(heatmaps: [0, 0, 0, 0] + large, masks: mask + mask, batch: 2, classes: 1, channels: 1, gradient: true)
    #expect(zero.loss.isFinite && zero.gradient!.prefix(4).allSatisfy { $0 == 0 })
  }

  /// The step reads float32 heatmaps in place and writes its float32 seed P·∂L_H/∂H
  /// directly (Objective.loss): the same bits as the float64 form rounded once, for every
  /// normalisation and both mask layouts ([B, H, W] broadcast over channels, [B, C, H, W]).
  @Test func stepSeedIsTheFloat64GradientRoundedOnce() throws {
    var r = SplitMix64(seed: 9)
    let (batch, classes, channels, plane) = (3, 2, 3, 20)
    let heatmaps = (0..<(batch * classes * channels * plane)).map { _ in r.float(-1, 1) * 1e-3 }
    let planeMasks = (0..<(batch * plane)).map { _ in Float(r.int(0...1)) }
    let fullMasks = (0..<(batch * channels * plane)).map { _ in Float(r.int(0...1)) }
    let logits = (0..<(batch * classes)).map { _ in r.float(-1, 1) }
    for normalization in HeatmapLoss.Normalization.allCases {
      for masks in [planeMasks, fullMasks] {
        let loss = HeatmapLoss(scale: 7, stabilizer: 1e-4, normalization: normalization)
        let objective = Objective(heatmapWeight: 0.6, heatmapLoss: loss, kind: .softmax)
        let batchData = Batch(images: [], masks: masks, labels: [0, 1, 1], samples: batch)
        let (step, seeds) = try objective.loss(logits: logits, heatmaps: heatmaps, batch: batchData, channels: channels, gradient: true)
        let float64 = loss.evaluate(
          heatmaps: heatmaps.map(Double.init), masks: masks.map(Double.init), batch: batch, classes: classes, channels: channels, gradient: true)
        let background = loss.meanBackground(
          heatmaps: heatmaps.map(Double.init), masks: masks.map(Double.init), batch: batch, classes: classes, channels: channels)
        #expect(step.heatmapLoss == float64.loss && step.meanBackground == background, "\(normalization)")
        #expect(seeds[1] == float64.gradient!.map { Float(0.6 * $0) }, "\(normalization)")
        #expect(seeds[1].contains { $0 != 0 })
      }
    }
  }

  @Test func crossEntropyGradient() {
    let logits: [Double] = [0.3, -1.2, 2.0, 0.5, 0.5, -0.1]
    let labels = [2, 0]
    let analytic = ClassificationLoss.crossEntropy(logits: logits, labels: labels, classes: 3).gradient
    expectGradient(analytic, at: logits, coordinates: Array(logits.indices)) {
      ClassificationLoss.crossEntropy(logits: $0, labels: labels, classes: 3).loss
    }
    // log 3 for uniform logits.
    #expect(abs(ClassificationLoss.crossEntropy(logits: [0, 0, 0], labels: [1], classes: 3).loss - log(3)) < 1e-15)
  }

  @Test func binaryCrossEntropyGradientAndStability() {
    let logits: [Double] = [0.3, -1.2, 40, -40]
    let targets: [Double] = [1, 0, 1, 0]
    let weights: [Double] = [2, 0.5]
    let analytic = ClassificationLoss.binaryCrossEntropy(logits: logits, targets: targets, classes: 2, positiveWeights: weights).gradient
    expectGradient(analytic, at: logits, coordinates: [0, 1]) {
      ClassificationLoss.binaryCrossEntropy(logits: $0, targets: targets, classes: 2, positiveWeights: weights).loss
    }
    let confident = ClassificationLoss.binaryCrossEntropy(logits: [40, -40], targets: [1, 0], classes: 2).loss
    #expect(confident.isFinite && confident < 1e-15)
  }
}
