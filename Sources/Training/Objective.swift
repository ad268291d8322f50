/// One training step's loss: runs the training session forward, evaluates the ISNet loss
/// (paper eq. 11: (1 − P)·L_C + P·L_H) in float64 with its gradients by the logits and the
/// heatmaps, and runs the reverse-mode program with them.

import GraphIR
import Runtime

/// A batch as the step reads it: images [B, C, H, W], masks [B, C, H, W] or [B, H, W]
/// (1 = foreground; needed when P > 0), single labels or multi-label targets [B, K].
public struct Batch: Sendable {
  public var images: [Float]
  public var masks: [Float]?
  public var labels: [Int]
  public var targets: [Float]?
  public var samples: Int

  public init(images: [Float], masks: [Float]?, labels: [Int], targets: [Float]? = nil, samples: Int) {
    self.images = images
    self.masks = masks
    self.labels = labels
    self.targets = targets
    self.samples = samples
  }
}

public struct StepResult: Sendable {
  public var total: Double
  public var classificationLoss: Double
  public var heatmapLoss: Double
  public var logits: [Float]
  public var heatmaps: [Float]?
  /// Σ u / (B·K): the mean background sum of the normalised heatmaps (for E = auto).
  public var meanBackground: Double
}

public struct Objective: Sendable {
  /// P: the heatmap loss's weight.
  public var heatmapWeight: Double
  public var heatmapLoss: HeatmapLoss
  public var kind: OutputKind
  public var positiveWeights: [Double]?

  public init(heatmapWeight: Double, heatmapLoss: HeatmapLoss, kind: OutputKind, positiveWeights: [Double]? = nil) {
    self.heatmapWeight = heatmapWeight
    self.heatmapLoss = heatmapLoss
    self.kind = kind
    self.positiveWeights = positiveWeights
  }

  /// Forward, loss, and backward: the session then holds every parameter's gradient.
  public func step(_ session: TrainingSession, _ batch: Batch, backward: Bool = true) throws -> StepResult {
    let outputs = try session.forward(batch.images, samples: batch.samples)
    let channels = session.graph[session.graph.inputIDs[0]].type.dims[0]
    let (result, seeds) = try loss(logits: outputs[0], heatmaps: outputs.count > 1 ? outputs[1] : nil, batch: batch, channels: channels, gradient: backward)
    if backward { try session.backward(seeds: seeds) }
    return result
  }

  /// The ISNet loss of a batch's logits [B, K] and heatmaps [B, K, C, H, W] (nil for a
  /// classifier without LRP block), and, when `gradient`, the adjoints of the outputs.
  public func loss(logits: [Float], heatmaps: [Float]?, batch: Batch, channels: Int, gradient: Bool) throws -> (StepResult, seeds: [[Float]]) {
    let classes = logits.count / batch.samples
    let classification: (loss: Double, gradient: [Double])
    switch kind {
    case .softmax:
      classification = ClassificationLoss.crossEntropy(logits: logits.map(Double.init), labels: batch.labels, classes: classes)
    case .sigmoid:
      let targets = batch.targets ?? batch.labels.flatMap { label in (0..<classes).map { $0 == label ? 1.0 : 0.0 } }.map(Float.init)
      classification = ClassificationLoss.binaryCrossEntropy(logits: logits.map(Double.init), targets: targets.map(Double.init), classes: classes, positiveWeights: positiveWeights)
    }
    var heatmap: (loss: Double, gradient: [Double]?) = (0, nil)
    var background = 0.0
    if let heatmaps, heatmapWeight > 0 {
      guard let masks = batch.masks else { throw RuntimeError("the heatmap loss (P > 0) needs masks") }
      let (maps, maskValues) = (heatmaps.map(Double.init), masks.map(Double.init))
      heatmap = heatmapLoss.evaluate(heatmaps: maps, masks: maskValues, batch: batch.samples, classes: classes, channels: channels, gradient: gradient)
      background = heatmapLoss.meanBackground(heatmaps: maps, masks: maskValues, batch: batch.samples, classes: classes, channels: channels)
    }
    let p = heatmapWeight
    let total = isnetLoss(classification: classification.loss, heatmap: heatmap.loss, weight: p)
    var seeds: [[Float]] = []
    if gradient {
      seeds = [classification.gradient.map { Float((1 - p) * $0) }]
      if let heatmaps {
        seeds.append(heatmap.gradient.map { $0.map { Float(p * $0) } } ?? [Float](repeating: 0, count: heatmaps.count))
      }
    }
    let result = StepResult(
      total: total, classificationLoss: classification.loss, heatmapLoss: heatmap.loss, logits: logits,
      heatmaps: heatmaps, meanBackground: background)
    return (result, seeds)
  }
}
