/// One training step's loss: runs the training session forward, evaluates the ISNet loss
/// (paper eq. 11: (1 − P)·L_C + P·L_H) in float64 with its gradients by the logits and the
/// heatmaps, and runs the reverse-mode program with them.

import GraphIR
import Runtime
import SeededRandom

/// A batch as the step reads it: images [B, C, H, W], masks [B, C, H, W] or [B, H, W]
/// (1 = foreground; needed when P > 0), single labels or multi-label targets [B, K].
public struct Batch: Sendable {
  public var images: [Float]
  public var masks: [Float]?
  public var labels: [Int]
  /// Multi-label targets [B, K] in {0, 1}, and which of them are known (1) or not (0).
  public var targets: [Float]?
  public var known: [Float]?
  public var samples: Int
  /// Explanation distillation: the images as the teacher sees them (background replaced).
  public var teacherImages: [Float]? = nil

  public init(images: [Float], masks: [Float]?, labels: [Int], targets: [Float]? = nil, known: [Float]? = nil, samples: Int) {
    self.images = images
    self.masks = masks
    self.labels = labels
    self.targets = targets
    self.known = known
    self.samples = samples
  }
}

public struct StepResult: Sendable {
  public var total: Double
  public var classificationLoss: Double
  public var heatmapLoss: Double
  public var logits: [Float]
  public var heatmaps: [Float]?
  /// Σ u / (B·K): the mean background sum of the normalised heatmaps (for E = auto; the
  /// paper's loss only).
  public var meanBackground: Double
  /// The mean over the explained heatmaps of F = Σ_fg |R|, the raw foreground relevance
  /// (0 without heatmaps): what the zero-solution guard watches.
  public var foregroundRelevance: Double = 0
  /// A multi-task classifier's segmentation loss L_S (BCE + Dice; 0 without the head).
  public var segmentationLoss: Double = 0
  /// Per sample, Σ|R| over the whole map averaged over its explained classes (the
  /// authors' band rule reads them).
  public var relevanceTotals: [Double] = []
}

/// The heatmap loss L_H: the paper's or the authors' later one.
public enum HeatmapTerm: Sendable, Equatable {
  case paper(HeatmapLoss)
  case gwrp(GWRPHeatmapLoss)

  public func evaluate(heatmaps: [Double], masks: [Double], batch: Int, classes: Int, channels: Int, gradient: Bool) -> (loss: Double, gradient: [Double]?) {
    switch self {
    case .paper(let loss): loss.evaluate(heatmaps: heatmaps, masks: masks, batch: batch, classes: classes, channels: channels, gradient: gradient)
    case .gwrp(let loss): loss.evaluate(heatmaps: heatmaps, masks: masks, batch: batch, classes: classes, channels: channels, gradient: gradient)
    }
  }
}

/// Which classes' heatmaps the heatmap loss sees (Faster-ISNet).
public enum HeatmapSelection: String, Sendable, Codable, CaseIterable {
  /// Every class's heatmap, as the paper.
  case all
  /// The label's class only: one heatmap per sample.
  case selective
  /// One per sample: the largest logit's class with probability 5/11, otherwise a
  /// uniformly drawn other class (Faster-ISNet's stochastic variant; labels unused).
  case stochastic

  /// The class each sample's heatmap is taken from (nil: all of them). `seed` makes the
  /// stochastic draw a function of (seed, sample) alone.
  public func choose(logits: [Float], labels: [Int], classes: Int, seed: UInt64) -> [Int]? {
    switch self {
    case .all:
      return nil
    case .selective:
      return labels
    case .stochastic:
      return labels.indices.map { b in
        var random = SplitMix64(seed: seed ^ (UInt64(b) &+ 1) &* 0xD1B5_4A32_D192_ED03)
        let row = logits[b * classes..<(b + 1) * classes]
        let top = row.indices.max { row[$0] < row[$1] }! - row.startIndex
        // 5 of 11 equally likely outcomes keep the top class.
        let keepTop = random.int(0...10) > 5
        if keepTop || classes == 1 { return top }
        let other = random.int(0...(classes - 2))
        return other < top ? other : other + 1
      }
    }
  }
}

public struct Objective: Sendable {
  /// P: the heatmap loss's weight.
  public var heatmapWeight: Double
  public var heatmapTerm: HeatmapTerm
  public var selection: HeatmapSelection
  /// Seeds the stochastic selection; the trainer sets it per step.
  public var selectionSeed: UInt64 = 0
  public var kind: OutputKind
  public var positiveWeights: [Double]?
  /// A multi-task classifier's weight of L_S: the loss is (1 − P)·L_C + P·L_H + W·L_S.
  public var segmentationWeight: Double = 1

  public init(heatmapWeight: Double, heatmapTerm: HeatmapTerm, selection: HeatmapSelection = .all, kind: OutputKind, positiveWeights: [Double]? = nil) {
    self.heatmapWeight = heatmapWeight
    self.heatmapTerm = heatmapTerm
    self.selection = selection
    self.kind = kind
    self.positiveWeights = positiveWeights
  }

  public init(heatmapWeight: Double, heatmapLoss: HeatmapLoss, kind: OutputKind, positiveWeights: [Double]? = nil) {
    self.init(heatmapWeight: heatmapWeight, heatmapTerm: .paper(heatmapLoss), kind: kind, positiveWeights: positiveWeights)
  }

  /// Forward, loss, and backward: the session then holds every parameter's gradient. When
  /// the session's LRP block explains one class per sample, the selection chooses the
  /// classes from the forward's logits before the block runs.
  public func step(_ session: TrainingSession, _ batch: Batch, backward: Bool = true) throws -> StepResult {
    session.explainedClasses = classChooser(batch)
    defer { session.explainedClasses = nil }
    let outputs = try session.forward(batch.images, samples: batch.samples)
    let channels = session.graph[session.graph.inputIDs[0]].type.dims[0]
    let (result, seeds) = try loss(
      logits: outputs[0], heatmaps: outputs.count > 1 ? outputs[1] : nil, batch: batch, channels: channels, gradient: backward,
      selected: session.chosenClasses, segmentation: session.graph.segmentation.map { session.value(of: $0) })
    if backward { try session.backward(seeds: seeds) }
    return result
  }

  /// The classes a run's selection explains, chosen from the logits (the sessions'
  /// `explainedClasses`; the choice is then their `chosenClasses`).
  public func classChooser(_ batch: Batch) -> ClassChooser {
    let (selection, labels, seed, samples) = (self.selection, batch.labels, selectionSeed, max(batch.samples, 1))
    return { logits in selection.choose(logits: logits, labels: labels, classes: logits.count / samples, seed: seed) ?? [] }
  }

  /// The ISNet loss of a batch's logits [B, K] and heatmaps [B, K, C, H, W] (nil for a
  /// classifier without LRP block), and, when `gradient`, the adjoints of the outputs.
  /// With a selection, the heatmap loss sees [B, 1, C, H, W]: each sample's chosen map;
  /// the other maps' adjoints are zero. `selected`: the heatmaps are already [B, 1, C, H, W],
  /// of these classes (an LRP block that explains one class per sample).
  /// `segmentation`: a multi-task classifier's per-pixel logits [B, H·W], whose L_S (BCE +
  /// Dice against the masks) adds with `segmentationWeight`; its adjoint is the last seed.
  public func loss(
    logits: [Float], heatmaps: [Float]?, batch: Batch, channels: Int, gradient: Bool, selected: [Int]? = nil,
    segmentation: [Float]? = nil
  ) throws -> (StepResult, seeds: [[Float]]) {
    let classes = logits.count / batch.samples
    let classification = Self.classificationLoss(logits: logits, batch: batch, kind: kind, positiveWeights: positiveWeights)
    var heatmap: (loss: Double, gradient: [Double]?) = (0, nil)
    var background = 0.0
    var foreground = 0.0
    var totals: [Double] = []
    var chosen: [Int]? = nil
    var heatmapSeed: [Float]?  // P·∂L_H/∂heatmaps where the loss writes it directly
    if let heatmaps, heatmapWeight > 0 {
      guard let masks = batch.masks else { throw RuntimeError("the heatmap loss (P > 0) needs masks") }
      if selected != nil, selection == .all {
        throw RuntimeError("internal error: an LRP block with one class per sample under a loss that reads all classes")
      }
      chosen = selected ?? selection.choose(logits: logits, labels: batch.labels, classes: classes, seed: selectionSeed)
      let perClass = heatmaps.count / (batch.samples * (selected == nil ? classes : 1))
      let explained = chosen == nil ? classes : 1
      let maskValues = masks.map(Double.init)
      if case .paper(let paper) = heatmapTerm, selected != nil || chosen == nil {
        // The loss reads every map of the block's output: in place, in float32, with the
        // seed P·∂L_H/∂H written straight into the step's float32 seed.
        heatmapSeed = gradient ? [Float](repeating: 0, count: heatmaps.count) : nil
        heatmaps.withUnsafeBufferPointer { h in
          let all = withOptionalBuffer(&heatmapSeed) {
            paper.evaluateAll(
              heatmaps: h, masks: maskValues, batch: batch.samples, classes: explained, channels: channels, gradient: $0,
              gradientScale: heatmapWeight)
          }
          (heatmap.loss, background) = (all.loss, all.meanBackground)
          (foreground, totals) = Self.relevanceSums(h, masks: maskValues, batch: batch.samples, classes: explained, perClass: perClass)
        }
      } else {
        let maps: [Double]
        if let chosen, selected == nil {
          maps = (0..<batch.samples).flatMap { b in
            let start = (b * classes + chosen[b]) * perClass
            return heatmaps[start..<start + perClass].map(Double.init)
          }
        } else {
          maps = heatmaps.map(Double.init)
        }
        switch heatmapTerm {
        case .paper(let paper):
          var g = gradient ? [Double](repeating: 0, count: maps.count) : nil
          let all = maps.withUnsafeBufferPointer { h in
            withOptionalBuffer(&g) {
              paper.evaluateAll(heatmaps: h, masks: maskValues, batch: batch.samples, classes: explained, channels: channels, gradient: $0, gradientScale: 1)
            }
          }
          (heatmap, background) = ((all.loss, g), all.meanBackground)
        case .gwrp:
          heatmap = heatmapTerm.evaluate(heatmaps: maps, masks: maskValues, batch: batch.samples, classes: explained, channels: channels, gradient: gradient)
        }
        (foreground, totals) = maps.withUnsafeBufferPointer {
          Self.relevanceSums($0, masks: maskValues, batch: batch.samples, classes: explained, perClass: perClass)
        }
        if selected == nil, let chosen, let g = heatmap.gradient {
          var full = [Double](repeating: 0, count: heatmaps.count)
          for b in 0..<batch.samples {
            let start = (b * classes + chosen[b]) * perClass
            for i in 0..<perClass { full[start + i] = g[b * perClass + i] }
          }
          heatmap.gradient = full
        }
      }
    }
    let p = heatmapWeight
    var segmented: (loss: Double, gradient: [Double])?
    if let segmentation {
      guard let masks = batch.masks else { throw RuntimeError("a multi-task model's segmentation loss needs masks") }
      segmented = SegmentationLoss.evaluate(logits: segmentation, masks: masks, samples: batch.samples)
    }
    let total = isnetLoss(classification: classification.loss, heatmap: heatmap.loss, weight: p) + segmentationWeight * (segmented?.loss ?? 0)
    var seeds: [[Float]] = []
    if gradient {
      seeds = [classification.gradient.map { Float((1 - p) * $0) }]
      if let heatmaps {
        seeds.append(heatmapSeed ?? heatmap.gradient.map { $0.map { Float(p * $0) } } ?? [Float](repeating: 0, count: heatmaps.count))
      }
      if let segmented { seeds.append(segmented.gradient.map { Float(segmentationWeight * $0) }) }
    }
    var result = StepResult(
      total: total, classificationLoss: classification.loss, heatmapLoss: heatmap.loss, logits: logits,
      heatmaps: heatmaps, meanBackground: background)
    result.foregroundRelevance = foreground
    result.relevanceTotals = totals
    result.segmentationLoss = segmented?.loss ?? 0
    return (result, seeds)
  }

  /// L_C of a batch's logits [B, K] and its gradient by them: cross-entropy (softmax),
  /// BCE with the known-label mask (sigmoid), or a segmenter's BCE + Dice against the
  /// masks (logits [B, H·W]).
  public static func classificationLoss(logits: [Float], batch: Batch, kind: OutputKind, positiveWeights: [Double]?) -> (loss: Double, gradient: [Double]) {
    let classes = logits.count / batch.samples
    switch kind {
    case .softmax:
      return ClassificationLoss.crossEntropy(logits: logits.map(Double.init), labels: batch.labels, classes: classes)
    case .segmentation:
      guard let masks = batch.masks else { preconditionFailure("a segmentation batch without masks (TrainingSettings.segmentation asks for them)") }
      return SegmentationLoss.evaluate(logits: logits, masks: masks, samples: batch.samples)
    case .sigmoid:
      let targets = batch.targets ?? batch.labels.flatMap { label in (0..<classes).map { $0 == label ? 1.0 : 0.0 } }.map(Float.init)
      return ClassificationLoss.binaryCrossEntropy(
        logits: logits.map(Double.init), targets: targets.map(Double.init), classes: classes, positiveWeights: positiveWeights,
        known: batch.known?.map(Double.init))
    }
  }

  /// The mean over maps of Σ_fg |R|, and per sample Σ|R| averaged over its maps.
  static func relevanceSums<H: BinaryFloatingPoint>(
    _ r: UnsafeBufferPointer<H>, masks: [Double], batch: Int, classes: Int, perClass: Int
  ) -> (foreground: Double, totals: [Double]) {
    let layout = HeatmapLayout(heatmaps: r.count, masks: masks, batch: batch, classes: classes, channels: perClass / (masks.count / batch))
    var foreground = 0.0
    var totals = [Double](repeating: 0, count: batch)
    for b in 0..<batch {
      var total = 0.0
      for k in 0..<classes {
        let start = (b * classes + k) * perClass
        layout.forEachPosition(of: b) { i, m in
          let a = abs(Double(r[start + i]))
          total += a / Double(classes)
          if m > 0 { foreground += a }
        }
      }
      totals[b] = total
    }
    return (foreground / Double(batch * classes), totals)
  }
}
