/// What a training run is: the ISNet loss's settings (paper section 4.3), the optimizer's,
/// and the loop's. Stored in every checkpoint, so a resumed run continues with exactly the
/// settings it started with.

public struct TrainingSettings: Sendable, Codable, Equatable {
  /// P: the heatmap loss's weight in (1 − P)·L_C + P·L_H. 0 trains the standard classifier
  /// (no LRP block at all).
  public var heatmapWeight: Double
  /// E, the heatmap loss's scale; nil: chosen before the first step (`autoScaleDivisor`).
  public var heatmapScale: Double?
  /// `E auto` = the mean background sum u of the initial model over `autoScaleBatches`
  /// training batches, divided by this.
  public var autoScaleDivisor: Double
  public var autoScaleBatches: Int
  /// e in the heatmap loss (normalisation and clamp).
  public var heatmapStabilizer: Double
  /// Step 1 of the heatmap loss.
  public var heatmapNormalization: HeatmapLoss.Normalization {
    get { storedHeatmapNormalization ?? .standardDeviation }
    set { storedHeatmapNormalization = newValue }
  }
  /// Absent from runs stored before the choice existed: those used the paper's.
  private var storedHeatmapNormalization: HeatmapLoss.Normalization?
  public var epochs: Int
  public var batchSize: Int
  public var optimizer: OptimizerSettings
  /// Seeds the shuffling, the augmentation and dropout.
  public var seed: UInt64
  /// The paper's augmentation (translation, rotation, flip), applied to image and mask.
  public var augment: Bool
  public var threads: Int

  enum CodingKeys: String, CodingKey {
    case heatmapWeight, heatmapScale, autoScaleDivisor, autoScaleBatches, heatmapStabilizer, epochs, batchSize, optimizer, seed, augment, threads
    case storedHeatmapNormalization = "heatmapNormalization"
  }

  public init(
    heatmapWeight: Double = 0.7, heatmapScale: Double? = nil, autoScaleDivisor: Double = 1, autoScaleBatches: Int = 5,
    heatmapStabilizer: Double = 1e-4, heatmapNormalization: HeatmapLoss.Normalization = .standardDeviation, epochs: Int = 10, batchSize: Int = 10, optimizer: OptimizerSettings = OptimizerSettings(),
    seed: UInt64 = 0, augment: Bool = true, threads: Int = 2
  ) {
    self.heatmapWeight = heatmapWeight
    self.heatmapScale = heatmapScale
    self.autoScaleDivisor = autoScaleDivisor
    self.autoScaleBatches = autoScaleBatches
    self.heatmapStabilizer = heatmapStabilizer
    self.storedHeatmapNormalization = heatmapNormalization
    self.epochs = epochs
    self.batchSize = batchSize
    self.optimizer = optimizer
    self.seed = seed
    self.augment = augment
    self.threads = threads
  }

  /// Problems with the settings, as messages naming the option.
  public var problems: [String] {
    var found: [String] = []
    if !(0...1).contains(heatmapWeight) { found.append("P must be in [0, 1], got \(heatmapWeight)") }
    if let e = heatmapScale, !(e > 0) { found.append("E must be positive, got \(e)") }
    if !(autoScaleDivisor > 0) { found.append("the E auto divisor must be positive, got \(autoScaleDivisor)") }
    if autoScaleBatches < 1 { found.append("E auto needs at least 1 batch") }
    if !(heatmapStabilizer > 0 && heatmapStabilizer < 1) { found.append("the stabilizer e must be in (0, 1), got \(heatmapStabilizer)") }
    if epochs < 1 { found.append("epochs must be at least 1, got \(epochs)") }
    if batchSize < 2 { found.append("the batch must hold at least 2 samples (batch statistics), got \(batchSize)") }
    if !(optimizer.learningRate > 0) { found.append("the learning rate must be positive, got \(optimizer.learningRate)") }
    if !(0..<1).contains(optimizer.momentum) { found.append("momentum must be in [0, 1), got \(optimizer.momentum)") }
    if optimizer.weightDecay < 0 { found.append("weight decay must not be negative, got \(optimizer.weightDecay)") }
    if let c = optimizer.clipNorm, !(c > 0) { found.append("the clipping norm must be positive, got \(c)") }
    if threads < 1 { found.append("threads must be at least 1") }
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
  /// The validation heatmaps' share of |R| outside the masks (P > 0 only): per class the
  /// mean over samples, then the mean over classes, as `isnetc eval` reports it.
  public var validationBackgroundFraction: Double? = nil
  public var seconds: Double
  /// Training samples left out because they could not be read.
  public var skippedSamples: Int
}

/// Everything a checkpoint says besides tensors (also written as `run.json`).
public struct RunState: Sendable, Codable, Equatable {
  public var model: String
  public var settings: TrainingSettings
  /// E as used (given, or chosen by `E auto`).
  public var heatmapScale: Double?
  /// The initial mean background sum `E auto` measured.
  public var initialMeanBackground: Double?
  public var epochsDone: Int
  public var optimizerSteps: Int
  public var history: [EpochRecord]
  public var bestEpoch: Int?
  public var bestLoss: Double?
  /// What "best" compares: the validation loss, or the training loss without a validation set.
  public var bestCriterion: String
  public var trainData: String?
  public var validationData: String?
}
