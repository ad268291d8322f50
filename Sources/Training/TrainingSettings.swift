import GraphIR
import Runtime

/// What a training run is: the ISNet loss's settings (paper section 4.3), the optimizer's,
/// and the loop's. Stored in every checkpoint, so a resumed run continues with exactly the
/// settings it started with.

public struct TrainingSettings: Sendable, Codable, Equatable {
  /// The heatmap loss L_H.
  public enum Loss: String, Sendable, Codable, CaseIterable {
    /// The paper's (eqs. 5–10): the background sum of the normalised heatmaps.
    case paper
    /// The authors' later loss: ranked-pooled background, foreground band (GWRPHeatmapLoss).
    case gwrp
  }

  /// P: the heatmap loss's weight in (1 − P)·L_C + P·L_H. 0 trains the standard classifier
  /// (no LRP block at all).
  public var heatmapWeight: Double
  public var loss: Loss
  /// Which heatmaps the loss sees: all K, the label's, or the stochastic choice.
  public var selection: HeatmapSelection
  /// The paper's loss: E, nil = chosen before the first step (`autoScaleDivisor`).
  public var heatmapScale: Double?
  /// `E auto` = the mean background sum u of the initial model over `autoScaleBatches`
  /// training batches, divided by this.
  public var autoScaleDivisor: Double
  /// Batches over which the initial model is measured (E auto, the band auto).
  public var autoScaleBatches: Int
  /// The paper's loss: e (normalisation and clamp).
  public var heatmapStabilizer: Double
  /// The paper's loss: step 1.
  public var heatmapNormalization: HeatmapLoss.Normalization
  /// The later loss: the ranked pooling's decay d.
  public var gwrpDecay: Double
  /// The later loss: E.
  public var gwrpScale: Double
  /// The later loss: A and B, the weights of its background and foreground terms.
  public var backgroundWeight: Double
  public var foregroundWeight: Double
  /// The later loss: the foreground band [C1, C2]; nil = the authors' rule applied to the
  /// initial model's relevance (`GWRPHeatmapLoss.band`).
  public var band: [Double]?
  public var bandPenalty: GWRPHeatmapLoss.Penalty
  public var epochs: Int
  /// Epochs trained as the standard classifier (P = 0) before the heatmap loss joins: the
  /// ISNet phase starts from a classifier that has learned something, as the paper's ISNets
  /// start from pretrained weights, and E auto and the band are measured on that model.
  public var warmupEpochs: Int
  public var batchSize: Int
  public var optimizer: OptimizerSettings
  /// Seeds the shuffling, the augmentation, dropout and the stochastic heatmap choice.
  public var seed: UInt64
  /// The paper's augmentation (translation, rotation, flip), applied to image and mask.
  public var augment: Bool
  public var threads: Int
  /// Which relevance tensors the reverse recomputes rather than keeps: less memory for
  /// more time, the same bits (TrainingSession.Recomputation).
  public var recompute: TrainingSession.Recomputation = .auto
  /// The LRP block's options (ε of the ε-rule): the block the heatmap loss trains.
  public var lrp: LRPOptions
  /// Multi-label models: each label's weight of its positive term in BCE (nil: all 1),
  /// for labels rarer than their absence.
  public var positiveWeights: [Double]? = nil
  /// What replaces the background of the images the classifier trains on (a teacher for
  /// explanation distillation): none, zero or noise.
  public var maskInput: MaskFill = .none
  /// Train by explanation distillation from a teacher instead of the ISNet loss.
  public var distillation: DistillationSettings? = nil
  /// Which epoch's weights `best.safetensors` keeps.
  public var bestBy: CheckpointRule = .loss
  /// A segmentation model (`-> segmentation`): the loss is BCE + Dice against the masks,
  /// validation reports IoU, and `--best-by f1` keeps the best IoU.
  public var segmentation = false
  /// Scopes whose parameters stay as loaded (a pipeline's trained segmenter): no
  /// gradient, batch norms in evaluation mode.
  public var frozen: [String] = []
  /// A multi-task classifier's weight W of its segmentation loss L_S.
  public var segmentationWeight: Double = 1
  /// The probability that a training sample's background is exchanged for other
  /// samples' (`BackgroundExchange`): the label no longer predicts the background.
  public var backgroundExchange: Double
  /// The learning rate over the epochs (warm-up included).
  public var learningRateSchedule: LearningRateSchedule

  /// The ISNet recipe (P > 0), where a run does not set its own: every background
  /// exchanged, Adam at 3e-3 on the cosine schedule (docs/training.md has the evidence). A
  /// standard classifier, a teacher, a segmenter keep theirs: no exchange, Adam at 3e-4,
  /// a constant rate.
  public static let defaultBackgroundExchange = 1.0
  public static func defaultOptimizer(isnet: Bool) -> OptimizerSettings {
    OptimizerSettings(kind: .adam, learningRate: isnet ? 3e-3 : 3e-4)
  }
  public static func defaultSchedule(isnet: Bool) -> LearningRateSchedule { isnet ? .cosine : .constant }

  /// The checkpoint rule: the lowest validation loss (the training loss without a
  /// validation set; for distillation, the distillation loss, which needs no labels), the
  /// highest validation macro F1, or the last epoch.
  public enum CheckpointRule: String, Sendable, Codable, CaseIterable {
    case loss, f1, last
  }

  /// Whether training samples need their masks: for the heatmap loss, to replace the
  /// background of the masked input, or for a segmentation model's loss.
  public var needsMasks: Bool {
    segmentation || heatmapWeight > 0 || backgroundExchange > 0 || maskInput != .none || (distillation.map { $0.teacherInput != .none } ?? false)
  }

  /// Whether training `classifier` needs masks: as `needsMasks`, or for the loss of its
  /// segmentation head (a multi-task classifier).
  public func needsMasks(for classifier: Graph) -> Bool { needsMasks || classifier.segmentation != nil }

  /// Whether the trained graph carries the LRP block.
  public var trainsHeatmaps: Bool { heatmapWeight > 0 || distillation != nil }

  /// The LRP block the run trains through: `lrp`, explaining one class per sample when the
  /// loss reads one map per sample (selective or stochastic heatmaps, a distillation that
  /// matches one class), so the block's cost does not grow with the number of classes.
  public var blockOptions: LRPOptions {
    var options = lrp
    options.onePerSample = distillation.map { $0.classes != .all } ?? (heatmapWeight > 0 && selection != .all)
    return options
  }

  /// The defaults, the only place they are declared (`isnetc train` falls back to them).
  public init(
    heatmapWeight: Double = 0.5, loss: Loss = .paper, selection: HeatmapSelection = .all,
    heatmapScale: Double? = nil, autoScaleDivisor: Double = 1, autoScaleBatches: Int = 5,
    heatmapStabilizer: Double = 1e-4, heatmapNormalization: HeatmapLoss.Normalization = .perMap,
    gwrpDecay: Double = 0.9, gwrpScale: Double = 1, backgroundWeight: Double = 1, foregroundWeight: Double = 1,
    band: [Double]? = nil, bandPenalty: GWRPHeatmapLoss.Penalty = .hybrid,
    epochs: Int = 40, warmupEpochs: Int = 10, batchSize: Int = 10, optimizer: OptimizerSettings? = nil,
    seed: UInt64 = 0, augment: Bool = false, threads: Int = 2, lrp: LRPOptions = LRPOptions(), backgroundExchange: Double? = nil,
    learningRateSchedule: LearningRateSchedule? = nil
  ) {
    self.backgroundExchange = backgroundExchange ?? (heatmapWeight > 0 ? Self.defaultBackgroundExchange : 0)
    self.learningRateSchedule = learningRateSchedule ?? Self.defaultSchedule(isnet: heatmapWeight > 0)
    self.heatmapWeight = heatmapWeight
    self.loss = loss
    self.selection = selection
    self.heatmapScale = heatmapScale
    self.autoScaleDivisor = autoScaleDivisor
    self.autoScaleBatches = autoScaleBatches
    self.heatmapStabilizer = heatmapStabilizer
    self.heatmapNormalization = heatmapNormalization
    self.gwrpDecay = gwrpDecay
    self.gwrpScale = gwrpScale
    self.backgroundWeight = backgroundWeight
    self.foregroundWeight = foregroundWeight
    self.band = band
    self.bandPenalty = bandPenalty
    self.epochs = epochs
    self.warmupEpochs = warmupEpochs
    self.batchSize = batchSize
    self.optimizer = optimizer ?? Self.defaultOptimizer(isnet: heatmapWeight > 0)
    self.seed = seed
    self.augment = augment
    self.threads = threads
    self.lrp = lrp
  }

  enum CodingKeys: String, CodingKey {
    case heatmapWeight, loss, selection, heatmapScale, autoScaleDivisor, autoScaleBatches, heatmapStabilizer, heatmapNormalization
    case gwrpDecay, gwrpScale, backgroundWeight, foregroundWeight, band, bandPenalty, epochs, warmupEpochs, batchSize, optimizer, seed, augment, threads, lrp, positiveWeights
    case maskInput, distillation, bestBy, segmentation, frozen, segmentationWeight, backgroundExchange, learningRateSchedule, recompute
  }

  /// Runs stored before a setting existed decode it as what they used: the paper's loss
  /// and normalisation on all heatmaps; the later loss's settings at their defaults.
  public init(from decoder: Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    let d = TrainingSettings()
    heatmapWeight = try c.decode(Double.self, forKey: .heatmapWeight)
    loss = try c.decodeIfPresent(Loss.self, forKey: .loss) ?? .paper
    selection = try c.decodeIfPresent(HeatmapSelection.self, forKey: .selection) ?? .all
    heatmapScale = try c.decodeIfPresent(Double.self, forKey: .heatmapScale)
    autoScaleDivisor = try c.decode(Double.self, forKey: .autoScaleDivisor)
    autoScaleBatches = try c.decode(Int.self, forKey: .autoScaleBatches)
    heatmapStabilizer = try c.decode(Double.self, forKey: .heatmapStabilizer)
    heatmapNormalization = try c.decodeIfPresent(HeatmapLoss.Normalization.self, forKey: .heatmapNormalization) ?? .standardDeviation
    gwrpDecay = try c.decodeIfPresent(Double.self, forKey: .gwrpDecay) ?? d.gwrpDecay
    gwrpScale = try c.decodeIfPresent(Double.self, forKey: .gwrpScale) ?? d.gwrpScale
    backgroundWeight = try c.decodeIfPresent(Double.self, forKey: .backgroundWeight) ?? d.backgroundWeight
    foregroundWeight = try c.decodeIfPresent(Double.self, forKey: .foregroundWeight) ?? d.foregroundWeight
    band = try c.decodeIfPresent([Double].self, forKey: .band)
    bandPenalty = try c.decodeIfPresent(GWRPHeatmapLoss.Penalty.self, forKey: .bandPenalty) ?? d.bandPenalty
    epochs = try c.decode(Int.self, forKey: .epochs)
    warmupEpochs = try c.decodeIfPresent(Int.self, forKey: .warmupEpochs) ?? 0
    batchSize = try c.decode(Int.self, forKey: .batchSize)
    optimizer = try c.decode(OptimizerSettings.self, forKey: .optimizer)
    seed = try c.decode(UInt64.self, forKey: .seed)
    augment = try c.decode(Bool.self, forKey: .augment)
    threads = try c.decode(Int.self, forKey: .threads)
    lrp = try c.decodeIfPresent(LRPOptions.self, forKey: .lrp) ?? d.lrp
    positiveWeights = try c.decodeIfPresent([Double].self, forKey: .positiveWeights)
    maskInput = try c.decodeIfPresent(MaskFill.self, forKey: .maskInput) ?? .none
    distillation = try c.decodeIfPresent(DistillationSettings.self, forKey: .distillation)
    bestBy = try c.decodeIfPresent(CheckpointRule.self, forKey: .bestBy) ?? .loss
    segmentation = try c.decodeIfPresent(Bool.self, forKey: .segmentation) ?? false
    frozen = try c.decodeIfPresent([String].self, forKey: .frozen) ?? []
    segmentationWeight = try c.decodeIfPresent(Double.self, forKey: .segmentationWeight) ?? 1
    backgroundExchange = try c.decodeIfPresent(Double.self, forKey: .backgroundExchange) ?? 0
    learningRateSchedule = try c.decodeIfPresent(LearningRateSchedule.self, forKey: .learningRateSchedule) ?? .constant
    recompute = try c.decodeIfPresent(TrainingSession.Recomputation.self, forKey: .recompute) ?? d.recompute
  }

  /// Problems with the settings, as messages naming the option: the one place settings
  /// are checked.
  public var problems: [String] {
    var found: [String] = []
    if !(0...1).contains(heatmapWeight) { found.append("--P must be in [0, 1], got \(heatmapWeight)") }
    if let e = heatmapScale, !(e > 0 && e.isFinite) { found.append("--E must be positive, got \(e)") }
    if !(autoScaleDivisor > 0 && autoScaleDivisor.isFinite) { found.append("the --E auto/D divisor must be positive, got \(autoScaleDivisor)") }
    if autoScaleBatches < 1 { found.append("--auto-batches must be at least 1, got \(autoScaleBatches)") }
    if !(heatmapStabilizer > 0 && heatmapStabilizer < 1) { found.append("--stabilizer must be in (0, 1), got \(heatmapStabilizer)") }
    if !(0...1).contains(gwrpDecay) { found.append("--decay must be in [0, 1], got \(gwrpDecay)") }
    if !(gwrpScale > 0 && gwrpScale.isFinite) { found.append("--E of the gwrp loss must be positive, got \(gwrpScale)") }
    if !(backgroundWeight >= 0 && backgroundWeight.isFinite) { found.append("--background-weight must not be negative, got \(backgroundWeight)") }
    if !(foregroundWeight >= 0 && foregroundWeight.isFinite) { found.append("--foreground-weight must not be negative, got \(foregroundWeight)") }
    if let band, !(band.count == 2 && band[0] > 0 && band[0] <= band[1] && band[1].isFinite) {
      found.append("--band must be C1,C2 with 0 < C1 ≤ C2, got \(band.map { "\($0)" }.joined(separator: ","))")
    }
    if let problem = lrp.problem { found.append("--epsilon: \(problem)") }
    if epochs < 1 { found.append("--epochs must be at least 1, got \(epochs)") }
    if warmupEpochs < 0 { found.append("--warmup must not be negative, got \(warmupEpochs)") }
    if let weights = positiveWeights, weights.isEmpty || !weights.allSatisfy({ $0 > 0 && $0.isFinite }) {
      found.append("--positive-weights must be positive numbers, one per label, got \(weights.map { "\($0)" }.joined(separator: ","))")
    }
    if batchSize < 2 { found.append("--batch must hold at least 2 samples (batch statistics), got \(batchSize)") }
    if !(optimizer.learningRate > 0 && optimizer.learningRate.isFinite) { found.append("--lr must be positive, got \(optimizer.learningRate)") }
    if !(0..<1).contains(optimizer.momentum) { found.append("--momentum must be in [0, 1), got \(optimizer.momentum)") }
    if !(optimizer.weightDecay >= 0) { found.append("--weight-decay must not be negative, got \(optimizer.weightDecay)") }
    if let c = optimizer.clipNorm, !(c > 0) { found.append("--clip must be positive (0 turns clipping off), got \(c)") }
    if !(0...1).contains(backgroundExchange) { found.append("--exchange-backgrounds must be in [0, 1], got \(backgroundExchange)") }
    if backgroundExchange > 0, maskInput != .none {
      found.append("--exchange-backgrounds with --mask-input: the fill replaces the background the exchange brings")
    }
    if threads < 1 { found.append("--threads must be at least 1, got \(threads)") }
    if let distillation {
      found += distillation.problems
      if maskInput != .none { found.append("--mask-input with --distill-from masks the teacher's input; the student sees the raw images") }
    }
    return found
  }
}

/// One epoch's record in the run's history.
public struct EpochRecord: Sendable, Codable, Equatable {
  public var epoch: Int
  public var steps: Int
  public var trainLoss: Double
  public var trainClassificationLoss: Double
  public var trainHeatmapLoss: Double
  public var trainAccuracy: Double
  public var validationLoss: Double?
  public var validationClassificationLoss: Double?
  public var validationHeatmapLoss: Double?
  public var validationAccuracy: Double?
  /// The validation set's macro F1 (predicted class: the largest logit).
  public var validationMacroF1: Double? = nil
  /// A multi-task classifier's segmentation loss L_S, training and validation.
  public var trainSegmentationLoss: Double? = nil
  public var validationSegmentationLoss: Double? = nil
  /// A segmentation model's mean IoU over the validation images (foreground: logit > 0).
  public var validationIoU: Double? = nil
  /// The validation heatmaps' share of |R| outside the masks (P > 0 only): per class the
  /// mean over samples, then the mean over classes, as `isnetc eval` reports it.
  public var validationBackgroundFraction: Double? = nil
  public var seconds: Double
  /// Of the epoch's training time, the seconds its steps waited for their batch (loaded
  /// and augmented on a background thread while the step before ran): near 0 when the
  /// input keeps up.
  public var inputWaitSeconds: Double? = nil
  /// Training samples left out because they could not be read.
  public var skippedSamples: Int
  /// The mean over the epoch's steps of F = Σ_fg |R| per explained heatmap (P > 0).
  public var foregroundRelevance: Double? = nil
  /// The zero-solution guard's finding after this epoch, with what to change (nil: none).
  public var warning: String? = nil
}

/// Everything a checkpoint says besides tensors (also written as `run.json`).
public struct RunState: Sendable, Codable, Equatable {
  public var model: String
  public var settings: TrainingSettings
  /// E as used (given, or chosen by `E auto`).
  public var heatmapScale: Double?
  /// The initial mean background sum `E auto` measured.
  public var initialMeanBackground: Double?
  /// The later loss's band [C1, C2] as used (given, or chosen by the authors' rule).
  public var band: [Double]? = nil
  /// F = Σ_fg |R| per explained heatmap of the initial model (the guard compares with it).
  public var initialForegroundRelevance: Double? = nil
  public var epochsDone: Int
  public var optimizerSteps: Int
  public var history: [EpochRecord]
  public var bestEpoch: Int?
  public var bestLoss: Double?

  /// The best epoch's criterion as a user reads it (`bestLoss` is stored so that lower is
  /// better: F1 negated); nil when the rule is the last epoch.
  public var bestValue: Double? {
    switch settings.bestBy {
    case .loss: bestLoss
    case .f1: bestLoss.map { -$0 }
    case .last: nil
    }
  }
  /// What "best" compares: the validation loss, or the training loss without a validation set.
  public var bestCriterion: String
  public var trainData: String?
  public var validationData: String?
}
