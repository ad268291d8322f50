/// The training loop (paper section 4.11): seeded shuffling, the paper's augmentation on
/// image and mask alike, the ISNet loss through classifier and LRP block — or explanation
/// distillation from a frozen teacher (Distillation.swift) — the optimizer,
/// a validation pass in evaluation mode after every epoch, and an atomic checkpoint per
/// epoch (Checkpoint.swift) keeping the best by validation loss.
///
/// Deterministic: the order of epoch e, the augmentation of each sample and every dropout
/// mask derive from (seed, epoch, sample, step) alone, so a run resumed from its checkpoint
/// after epoch e takes the same steps, bit for bit, as one that never stopped (for the
/// same thread count).
///
/// A NaN or infinite loss or gradient stops the run with an error naming the step; the
/// last checkpoint (the previous epoch's) is left as it was.

import Evaluation
import Foundation
import GraphIR
import LRPTransform
import Runtime
import SeededRandom

/// One sample: the image [C, H, W] at the model's input size and range, its mask [H, W]
/// (1 = foreground) when the source has masks, its class.
public struct TrainingSample: Sendable {
  public var image: [Float]
  public var mask: [Float]?
  /// The class (single-label); for a multi-label sample, its first label (or 0).
  public var label: Int
  /// A multi-label sample's targets [K] in {0, 1}, and which are known (1) or not (0).
  public var targets: [Float]?
  public var known: [Float]?
  /// Explanation distillation: the image as the teacher sees it (background replaced).
  public var teacherImage: [Float]? = nil
  public init(image: [Float], mask: [Float]?, label: Int, targets: [Float]? = nil, known: [Float]? = nil) {
    self.image = image
    self.mask = mask
    self.label = label
    self.targets = targets
    self.known = known
  }
}

/// Where samples come from (a dataset folder, in `isnetc train`).
/// Where training samples come from. Sendable: the next batch is loaded on a background
/// thread while the current one trains.
public protocol SampleSource: Sendable {
  var count: Int { get }
  /// A name for messages (the file name).
  func name(_ index: Int) -> String
  func load(_ index: Int) throws -> TrainingSample
}

public struct StepReport: Sendable {
  public var epoch: Int
  public var epochs: Int
  public var batch: Int
  public var batches: Int
  public var step: Int
  public var result: StepResult
  public var gradientNorm: Double
  public var imagesPerSecond: Double
}

public enum TrainingEvent {
  case autoScale(meanBackground: Double, scale: Double)
  case autoBand(lower: Double, upper: Double)
  case skipped(name: String, reason: String)
  case step(StepReport)
  case validating(epoch: Int)
  case epoch(EpochRecord, isBest: Bool)
}

public struct TrainingFailure: Error, Sendable, CustomStringConvertible {
  public var description: String
  init(_ description: String) { self.description = description }
}

/// A distillation run's teacher: its compiled classifier and weights.
public struct TeacherSource {
  public var classifier: Graph
  public var weights: WeightTable
  /// Where the weights came from, for messages.
  public var source: String
  public init(classifier: Graph, weights: WeightTable, source: String) {
    self.classifier = classifier
    self.weights = weights
    self.source = source
  }
}

public final class Trainer {
  public private(set) var state: RunState
  public let session: TrainingSession
  let classifier: Graph
  /// The graph the session trains: the classifier with its LRP block when P > 0.
  let trained: Graph
  let optimizer: Optimizer
  let train: SampleSource
  let validation: SampleSource?
  let directory: String
  /// The frozen teacher of a distillation run.
  let teacher: Teacher?
  /// The input's declared range (the noise fill draws from it).
  let inputRange: ClosedRange<Float>
  /// Training samples that failed to load (reported once, then left out).
  private var unreadable: Set<Int> = []

  /// A new run in `directory` (created if needed).
  public convenience init(
    classifier: Graph, settings: TrainingSettings, weights: WeightTable, weightsSource: String,
    train: SampleSource, validation: SampleSource?, directory: String, trainData: String? = nil, validationData: String? = nil,
    teacher: TeacherSource? = nil
  ) throws {
    let state = RunState(
      model: classifier.name, settings: settings, heatmapScale: settings.heatmapScale, initialMeanBackground: nil,
      epochsDone: 0, optimizerSteps: 0, history: [], bestEpoch: nil, bestLoss: nil,
      bestCriterion: Self.criterionName(settings, validation: validation != nil), trainData: trainData, validationData: validationData)
    try self.init(
      classifier: classifier, state: state, weights: weights, weightsSource: weightsSource, optimizerState: [:], train: train, validation: validation,
      directory: directory, teacher: teacher)
  }

  /// What `best.safetensors` is chosen by, in words.
  static func criterionName(_ settings: TrainingSettings, validation: Bool) -> String {
    switch settings.bestBy {
    case .last: "the last epoch"
    case .f1: settings.segmentation ? "validation IoU" : "validation macro F1"
    case .loss where settings.distillation != nil:
      // The loss is L_D, plus W·L_C when the cross-entropy term is on.
      (validation ? "validation " : "training ") + (settings.distillation!.crossEntropyWeight > 0 ? "loss (L_D + W·L_C)" : "distillation loss L_D")
    case .loss: validation ? "validation loss" : "training loss"
    }
  }

  /// Continues the run whose checkpoint is in `directory`; `epochs` raises its total.
  public static func resume(classifier: Graph, directory: String, train: SampleSource, validation: SampleSource?, epochs: Int?, teacher: TeacherSource? = nil) throws -> Trainer {
    var (state, weights, optimizerState) = try Checkpoint.read(directory: directory)
    guard state.model == classifier.name else {
      throw TrainingFailure("\(directory): the run trained model '\(state.model)', not '\(classifier.name)'")
    }
    if let epochs { state.settings.epochs = epochs }
    return try Trainer(
      classifier: classifier, state: state, weights: weights, weightsSource: "\(directory)/\(Checkpoint.fileName)",
      optimizerState: optimizerState, train: train, validation: validation, directory: directory, teacher: teacher)
  }

  init(
    classifier: Graph, state: RunState, weights: WeightTable, weightsSource: String, optimizerState: WeightTable,
    train: SampleSource, validation: SampleSource?, directory: String, teacher teacherSource: TeacherSource?
  ) throws {
    if let problem = state.settings.problems.first { throw TrainingFailure(problem) }
    if state.settings.bestBy == .f1, validation == nil { throw TrainingFailure("--best-by f1 needs a validation set (--val)") }
    if let weights = state.settings.positiveWeights {
      let classes = classifier[classifier.outputs[0]].type.dims[0]
      guard classifier.outputKind == .sigmoid, weights.count == classes else {
        throw TrainingFailure("--positive-weights: \(weights.count) weights for a \(classifier.outputKind == .sigmoid ? "model with \(classes) labels" : "single-label (softmax) model, which has no positive terms")")
      }
    }
    if classifier.outputKind == .sigmoid, state.settings.selection == .selective, state.settings.heatmapWeight > 0 {
      throw TrainingFailure("--heatmaps selective explains each sample's one label; a multi-label (sigmoid) model has several: use all or stochastic")
    }
    let settings = state.settings
    var weights = weights
    var frozen: Set<String> = []
    if let distillation = settings.distillation {
      guard let teacherSource else { throw TrainingFailure("a distillation run needs its teacher (--distill-from, --teacher-weights)") }
      try Teacher.check(teacher: teacherSource.classifier, student: classifier)
      if distillation.freezeHead {
        frozen = try Self.copyHead(from: teacherSource, into: &weights, student: classifier)
      }
      teacher = try Teacher(
        classifier: teacherSource.classifier, weights: teacherSource.weights, source: teacherSource.source, lrp: settings.blockOptions,
        batchSize: settings.batchSize, threads: settings.threads)
    } else {
      teacher = nil
    }
    if case .input(let r) = classifier[classifier.inputIDs[0]].op { inputRange = Float(r.low)...Float(r.high) } else { inputRange = 0...1 }
    self.state = state
    self.classifier = classifier
    self.train = train
    self.validation = validation
    self.directory = directory
    trained = try Self.trainingGraph(classifier, heatmapWeight: settings.trainsHeatmaps ? 1 : 0, lrp: settings.blockOptions)
    let constants = try Self.frozenParameters(classifier, scopes: settings.frozen)
    frozen.formUnion(constants)
    let program: AdjointProgram
    do {
      program = try classifier.trainingProgram(
        heatmaps: settings.trainsHeatmaps ? settings.blockOptions : nil, differentiatingStatistics: settings.distillation?.exactStatistics ?? false,
        constants: constants)
    } catch {
      throw TrainingFailure("\(classifier.name): \(error)")
    }
    session = try TrainingSession(program: program, weights: weights, weightsSource: weightsSource, batchSize: settings.batchSize, threads: settings.threads,
      recompute: settings.recompute)
    optimizer = Optimizer(settings: settings.optimizer)
    optimizer.frozen = frozen
    try optimizer.restore(optimizerState, steps: state.optimizerSteps, source: weightsSource)
    try optimizer.validate(against: session, source: weightsSource)
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
  }

  /// The parameters under `scopes` (`--freeze`): every one must hold some.
  static func frozenParameters(_ classifier: Graph, scopes: [String]) throws -> Set<String> {
    var names: Set<String> = []
    for scope in scopes {
      let under = classifier.parameters.map(\.name).filter { $0.hasPrefix(scope + ".") }
      guard !under.isEmpty else {
        let tops = Set(classifier.parameters.map { String($0.name.split(separator: ".").first ?? "") }).sorted()
        throw TrainingFailure("--freeze \(scope): no parameter of '\(classifier.name)' lies under scope '\(scope)'; its top-level scopes are \(tops.joined(separator: ", "))")
      }
      names.formUnion(under)
    }
    return names
  }

  /// The classifier with its LRP block (P > 0), or alone (P = 0: the standard classifier).
  public static func trainingGraph(_ classifier: Graph, heatmapWeight: Double, lrp: LRPOptions = LRPOptions()) throws -> Graph {
    guard heatmapWeight > 0 else { return classifier }
    do { return try classifier.lowered(for: .explain(lrp)) } catch { throw TrainingFailure("\(classifier.name): \(error)") }
  }

  var inputDims: [Int] { classifier[classifier.inputIDs[0]].type.dims }

  /// A classifier with a segmentation head beside its logits.
  var multiTask: Bool { classifier.segmentation != nil }

  /// The run's background fills.
  var maskedInput: MaskedInput {
    MaskedInput(own: state.settings.maskInput, teacher: state.settings.distillation?.teacherInput, range: inputRange, channels: inputDims[0])
  }

  /// The linear layer that produces a classifier's logits, by name.
  static func head(of graph: Graph) throws -> String {
    let output = graph[graph.outputs[0]]
    guard case .linear = output.op, let name = output.name else {
      throw TrainingFailure("--freeze-head-from-teacher: the logits of '\(graph.name)' are not a named linear layer's output")
    }
    return name
  }

  /// Copies the teacher's last layer into the student's weights; returns the student's
  /// parameter names it set, to keep frozen.
  static func copyHead(from teacher: TeacherSource, into weights: inout WeightTable, student: Graph) throws -> Set<String> {
    let (from, to) = (try head(of: teacher.classifier), try head(of: student))
    var names: Set<String> = []
    for suffix in ["weight", "bias"] {
      let source = teacher.weights["\(from).\(suffix)"]
      guard let target = weights["\(to).\(suffix)"] else { continue }
      guard let source, source.shape == target.shape else {
        throw TrainingFailure("--freeze-head-from-teacher: the teacher's '\(from).\(suffix)' \(source.map { "has shape \($0.shape)" } ?? "is missing"), the student's '\(to).\(suffix)' has \(target.shape)")
      }
      weights["\(to).\(suffix)"] = source
      names.insert("\(to).\(suffix)")
    }
    return names
  }

  /// The distillation objective of a distillation run.
  var distillationObjective: DistillationObjective? {
    state.settings.distillation.map { DistillationObjective(settings: $0, kind: classifier.outputKind, lrp: state.settings.lrp) }
  }

  /// The ISNet loss with the run's E and band (placeholders until measured on the initial
  /// model: what is measured does not depend on them).
  var objective: Objective {
    let s = state.settings
    let term: HeatmapTerm
    switch s.loss {
    case .paper:
      term = .paper(HeatmapLoss(scale: state.heatmapScale ?? 1, stabilizer: s.heatmapStabilizer, normalization: s.heatmapNormalization))
    case .gwrp:
      let band = state.band ?? [1, 1]
      term = .gwrp(
        GWRPHeatmapLoss(
          decay: s.gwrpDecay, scale: s.gwrpScale, backgroundWeight: s.backgroundWeight, foregroundWeight: s.foregroundWeight,
          lower: band[0], upper: band[1], penalty: s.bandPenalty))
    }
    var objective = Objective(
      heatmapWeight: s.heatmapWeight, heatmapTerm: term, selection: s.selection, kind: classifier.outputKind, positiveWeights: s.positiveWeights)
    objective.segmentationWeight = s.segmentationWeight
    return objective
  }

  /// The seed of a step's stochastic heatmap choice.
  static func selectionSeed(_ seed: UInt64, step: Int) -> UInt64 {
    (seed ^ 0xA076_1D64_78BD_642F) &+ UInt64(truncatingIfNeeded: step) &* 0xE703_7ED1_A0B4_28DB
  }

  // MARK: - The loop

  public func run(_ report: (TrainingEvent) -> Void) throws -> RunState {
    let settings = state.settings
    var objective = self.objective
    while state.epochsDone < settings.epochs {
      let epoch = state.epochsDone + 1
      // The warm-up trains the standard classifier (P = 0); the ISNet phase starts from it,
      // with E and the band measured on the model it starts from.
      let distillation = distillationObjective
      let warmingUp = distillation == nil && epoch <= settings.warmupEpochs
      if settings.heatmapWeight > 0, distillation == nil, !warmingUp, state.initialForegroundRelevance == nil {
        try measureStartingModel(report)
        objective = self.objective
        if epoch > 1 { state.bestLoss = nil }  // the ISNet phase picks its own best epoch
      }
      objective.heatmapWeight = warmingUp ? 0 : settings.heatmapWeight
      optimizer.learningRateScale = settings.learningRateSchedule.scale(epoch: epoch, of: settings.epochs)
      let start = ContinuousClock.now
      let batches = Self.batches(count: train.count, size: settings.batchSize, seed: settings.seed, epoch: epoch)
      var sums = (total: 0.0, classification: 0.0, heatmap: 0.0, correct: 0.0, samples: 0, steps: 0, foreground: 0.0, segmentation: 0.0)
      var next = batches.first.map { prefetch($0, epoch: epoch) }
      var waited = Duration.zero
      for (index, _) in batches.enumerated() {
        let stepStart = ContinuousClock.now
        let prepared = next!.wait()
        waited += ContinuousClock.now - stepStart
        next = index + 1 < batches.count ? prefetch(batches[index + 1], epoch: epoch) : nil
        guard let batch = try accept(prepared, report) else { continue }
        let step = state.optimizerSteps + 1
        session.dropoutSeed = settings.seed &+ UInt64(step) &* 0x9E37_79B9_7F4A_7C15
        objective.selectionSeed = Self.selectionSeed(settings.seed, step: step)
        let result: StepResult
        if let distillation, let teacher {
          result = try distillation.step(session, teacher: teacher, batch, seed: Self.selectionSeed(settings.seed, step: step))
        } else {
          result = try objective.step(session, batch)
        }
        let place = "step \(step) (epoch \(epoch), batch \(index + 1) of \(batches.count))"
        guard result.total.isFinite else {
          throw TrainingFailure("\(place): the loss is not finite (classification \(result.classificationLoss), heatmap \(result.heatmapLoss)); stopped, the last checkpoint in \(directory) is kept")
        }
        let norm: Double
        do {
          norm = try optimizer.step(session)
        } catch let error as NonFiniteGradient {
          throw TrainingFailure("\(place): \(error); stopped, the last checkpoint in \(directory) is kept")
        }
        state.optimizerSteps = optimizer.steps
        let n = Double(batch.samples)
        sums.total += result.total * n
        sums.classification += result.classificationLoss * n
        sums.heatmap += result.heatmapLoss * n
        sums.foreground += result.foregroundRelevance * n
        sums.segmentation += result.segmentationLoss * n
        sums.correct += Self.correct(result.logits, batch, segmentation: settings.segmentation)
        sums.samples += batch.samples
        sums.steps += 1
        let seconds = (ContinuousClock.now - stepStart).seconds
        report(.step(StepReport(epoch: epoch, epochs: settings.epochs, batch: index + 1, batches: batches.count, step: step, result: result, gradientNorm: norm, imagesPerSecond: n / max(seconds, 1e-9))))
      }
      guard sums.samples > 0 else { throw TrainingFailure("epoch \(epoch): no training sample could be read") }
      let samples = Double(sums.samples)
      var record = EpochRecord(
        epoch: epoch, steps: sums.steps, trainLoss: sums.total / samples, trainClassificationLoss: sums.classification / samples,
        trainHeatmapLoss: sums.heatmap / samples, trainAccuracy: sums.correct / samples, seconds: 0, skippedSamples: unreadable.count)
      if settings.trainsHeatmaps, !warmingUp { record.foregroundRelevance = sums.foreground / samples }
      if multiTask { record.trainSegmentationLoss = sums.segmentation / samples }
      record.inputWaitSeconds = waited.seconds
      if distillation == nil {
        record.warning = ZeroSolutionGuard().check(
        record, history: state.history, initialForeground: state.initialForegroundRelevance,
          classes: classifier[classifier.outputs[0]].type.dims[0], kind: classifier.outputKind, settings: settings)
      }
      if validation != nil {
        report(.validating(epoch: epoch))
        let v = try validate(objective)
        (record.validationLoss, record.validationClassificationLoss, record.validationHeatmapLoss) = (v.loss, v.classificationLoss, v.heatmapLoss)
        (record.validationAccuracy, record.validationBackgroundFraction) = (v.accuracy, v.backgroundFraction)
        (record.validationMacroF1, record.validationIoU) = settings.segmentation ? (nil, v.iou) : (v.macroF1, v.iou)
        if multiTask { record.validationSegmentationLoss = v.segmentationLoss }
      }
      record.seconds = (ContinuousClock.now - start).seconds
      let criterion: Double
      switch settings.bestBy {
      case .loss: criterion = record.validationLoss ?? record.trainLoss
      case .f1: criterion = -((settings.segmentation ? record.validationIoU : record.validationMacroF1) ?? 0)
      case .last: criterion = -Double(epoch)
      }
      let isBest = criterion.isFinite && (state.bestLoss.map { criterion < $0 } ?? true)
      if isBest { (state.bestEpoch, state.bestLoss) = (epoch, criterion) }
      state.history.append(record)
      state.epochsDone = epoch
      try Checkpoint.write(directory: directory, state: state, weights: session.weights, optimizerState: optimizer.state, isBest: isBest)
      report(.epoch(record, isBest: isBest))
    }
    return state
  }

  /// Measures the model the ISNet phase starts from (the initial weights, or the warmed-up
  /// classifier) and sets what depends on it: E auto, the band, the guard's reference.
  func measureStartingModel(_ report: (TrainingEvent) -> Void) throws {
    let settings = state.settings
      let initial = try measureInitialModel(report)
      state.initialForegroundRelevance = initial.foreground
      if settings.loss == .paper, state.heatmapScale == nil {
        state.initialMeanBackground = initial.meanBackground
        state.heatmapScale = initial.meanBackground / settings.autoScaleDivisor
        guard let scale = state.heatmapScale, scale > 0, scale.isFinite else {
          throw TrainingFailure("E auto: the initial mean background sum is \(initial.meanBackground); give --E explicitly")
        }
        report(.autoScale(meanBackground: initial.meanBackground, scale: scale))
      }
      if settings.loss == .gwrp {
        if let band = settings.band {
          state.band = band
        } else {
          let band = GWRPHeatmapLoss.band(totals: initial.totals)
          guard band.lower > 0, band.upper.isFinite else {
            throw TrainingFailure("--band auto: the initial model's relevance is \(band.lower)…\(band.upper); give --band C1,C2 explicitly")
          }
          state.band = [band.lower, band.upper]
          report(.autoBand(lower: band.lower, upper: band.upper))
        }
      }
  }

  /// The initial model over the first training batches (with augmentation, batch
  /// statistics, running statistics untouched, the run's heatmap selection): the mean
  /// background sum u of the paper's loss (E auto), each sample's Σ|R| (the band's rule)
  /// and the mean foreground relevance F (the guard's reference).
  func measureInitialModel(_ report: (TrainingEvent) -> Void) throws -> (meanBackground: Double, totals: [Double], foreground: Double) {
    let settings = state.settings
    session.updatesRunningStatistics = false
    defer { session.updatesRunningStatistics = true }
    // The same dropout draws whenever it is measured (at the start, or after a warm-up or a
    // resume): the session's seed of a fresh run.
    session.dropoutSeed = 0
    var objective = self.objective
    if case .paper = objective.heatmapTerm {} else {
      // u is the paper's measure; the later loss does not use it.
      objective.heatmapTerm = .paper(HeatmapLoss(scale: 1, stabilizer: settings.heatmapStabilizer, normalization: settings.heatmapNormalization))
    }
    var background = 0.0, foreground = 0.0, count = 0
    var totals: [Double] = []
    for indices in Self.batches(count: train.count, size: settings.batchSize, seed: settings.seed, epoch: 1).prefix(settings.autoScaleBatches) {
      guard let batch = try accept(prefetch(indices, epoch: 1).wait(), report) else { continue }
      objective.selectionSeed = Self.selectionSeed(settings.seed, step: 0)
      let result = try objective.step(session, batch, backward: false)
      background += result.meanBackground
      foreground += result.foregroundRelevance
      totals += result.relevanceTotals
      count += 1
    }
    guard count > 0 else { throw TrainingFailure("measuring the initial model (E auto, the band): no training batch could be read") }
    return (background / Double(count), totals, foreground / Double(count))
  }

  /// One validation pass's results.
  struct Validation {
    var loss, classificationLoss, heatmapLoss, accuracy, macroF1: Double
    var backgroundFraction: Double?
    /// A segmentation model's or multi-task classifier's mean IoU over the images.
    var iou: Double?
    var segmentationLoss: Double?
  }

  /// Loss, accuracy, macro F1 and (P > 0) the background relevance fraction on the
  /// validation set in evaluation mode (running statistics, no dropout), as the deployed
  /// model would run.
  func validate(_ objective: Objective) throws -> Validation {
    guard let validation else { throw TrainingFailure("validation: no validation set") }
    let settings = state.settings
    var objective = objective
    let graph = try settings.trainsHeatmaps ? trained : classifier.lowered(for: .deploy)
    let distillation = distillationObjective
    // Heatmaps as the training step computes them: with an LRP block, direct forward
    // convolutions (TrainingSession's classifier), not the inference default's Winograd.
    let inference = try InferenceSession(
      graph: graph, weights: session.weights, weightsSource: "the epoch's weights", batchSize: settings.batchSize, threads: settings.threads,
      winograd: !graph.nodes.contains { $0.op.isLRPBlockOp })
    var sums = (total: 0.0, classification: 0.0, heatmap: 0.0, correct: 0.0, samples: 0, segmentation: 0.0)
    var confusion: ConfusionMatrix?
    var overlaps: [SegmentationLoss.Overlap] = []
    // Multi-label: per label, true positives, false positives and false negatives at 0.5.
    var labelCounts: [(tp: Int, fp: Int, fn: Int)] = []
    var background: [[Double]] = []
    var start = 0
    while start < validation.count {
      let indices = Array(start..<min(start + settings.batchSize, validation.count))
      start += indices.count
      var samples: [TrainingSample] = []
      for i in indices {
        do { samples.append(try validation.load(i)) } catch { throw TrainingFailure("validation: \(validation.name(i)): \(error)") }
      }
      // A teacher validates on masked images, as it trains; a student's teacher sees them
      // with the same fill in every epoch, so the validation loss compares like with like.
      for (k, i) in indices.enumerated() { maskedInput.apply(to: &samples[k], seed: MaskFill.seed(~settings.seed, epoch: 0, sample: i)) }
      let batch = try Self.assemble(samples, needsMasks: settings.needsMasks(for: classifier), names: indices.map { validation.name($0) })
      // The stochastic choices and ε depend on the batch's place alone: every epoch's
      // validation loss sees the same draws.
      let seed = Self.selectionSeed(~settings.seed, step: start)
      objective.selectionSeed = seed
      let epsilons = settings.distillation?.epsilonRange.map { DistillationSettings.epsilons(range: $0, samples: batch.samples, seed: seed) }
      inference.sampleEpsilons = epsilons
      // One class per sample: the teacher (distillation) or the selection chooses it from
      // the logits before the LRP block runs.
      var taught: (logits: [Float], heatmaps: [Float])?
      if let distillation, let teacher {
        let (maps, classes) = try distillation.teach(teacher, batch, seed: seed, epsilons: epsilons)
        taught = maps
        inference.explainedClasses = classes.map { c in { _ in c } }
      } else {
        inference.explainedClasses = objective.classChooser(batch)
      }
      let logits = try inference.run(batch.images, samples: batch.samples)
      inference.explainedClasses = nil
      let heatmaps = settings.trainsHeatmaps ? inference.values(of: graph.outputs[1], samples: batch.samples) : nil
      let selected = inference.chosenClasses
      let result: StepResult
      if let distillation, let taught, let heatmaps {
        (result, _) = try distillation.evaluate(
          student: (logits, heatmaps), teacher: taught, batch: batch, dims: inputDims, seed: seed, gradient: false, selected: selected)
      } else {
        let segmentation = graph.segmentation.map { inference.values(of: $0, samples: batch.samples) }
        (result, _) = try objective.loss(
          logits: logits, heatmaps: heatmaps, batch: batch, channels: inputDims[0], gradient: false, selected: selected,
          segmentation: segmentation)
        if let segmentation, let masks = batch.masks {
          overlaps += SegmentationLoss.overlaps(logits: segmentation, masks: masks, samples: batch.samples)
        }
      }
      let n = Double(batch.samples)
      sums.total += result.total * n
      sums.classification += result.classificationLoss * n
      sums.heatmap += result.heatmapLoss * n
      sums.segmentation += result.segmentationLoss * n
      sums.samples += batch.samples
      let classes = logits.count / batch.samples
      if settings.segmentation, let masks = batch.masks {
        // Pixel accuracy and IoU from one count.
        let counted = SegmentationLoss.overlaps(logits: logits, masks: masks, samples: batch.samples)
        sums.correct += counted.reduce(0) { $0 + $1.pixelAccuracy }
        overlaps += counted
        continue
      }
      sums.correct += Self.correct(logits, batch)
      if let targets = batch.targets {
        if labelCounts.isEmpty { labelCounts = Array(repeating: (0, 0, 0), count: classes) }
        for i in logits.indices where (batch.known?[i] ?? 1) != 0 {
          let (predicted, truth) = (logits[i] >= 0, targets[i] >= 0.5)
          if predicted && truth { labelCounts[i % classes].tp += 1 }
          if predicted && !truth { labelCounts[i % classes].fp += 1 }
          if !predicted && truth { labelCounts[i % classes].fn += 1 }
        }
      } else {
        if confusion == nil { confusion = ConfusionMatrix(classes: classes) }
        for (s, label) in batch.labels.enumerated() where (0..<classes).contains(label) {
          confusion?.add(truth: label, predicted: Self.argmax(logits[s * classes..<(s + 1) * classes]))
        }
      }
      if let heatmaps, let masks = batch.masks {
        if background.isEmpty { background = Array(repeating: [], count: classes) }
        Self.addBackgroundFractions(
          heatmaps, masks: masks, samples: batch.samples, classes: classes, channels: inputDims[0], selected: selected, to: &background)
      }
    }
    let n = Double(max(sums.samples, 1))
    let perClass = background.compactMap { $0.isEmpty ? nil : $0.reduce(0, +) / Double($0.count) }
    return Validation(
      loss: sums.total / n, classificationLoss: sums.classification / n, heatmapLoss: sums.heatmap / n,
      accuracy: sums.correct / n, macroF1: confusion?.macroF1 ?? Self.macroF1(labelCounts),
      backgroundFraction: perClass.isEmpty ? nil : perClass.reduce(0, +) / Double(perClass.count),
      iou: overlaps.isEmpty ? nil : overlaps.reduce(0) { $0 + $1.iou } / n,
      segmentationLoss: multiTask ? sums.segmentation / n : nil)
  }

  /// Appends each sample's background relevance fraction to its class's list; `heatmaps`:
  /// [samples, classes, channels, H, W] (with `selected`: [samples, 1, …] of those classes),
  /// `masks`: [samples, H, W]. All-zero maps are left out.
  static func addBackgroundFractions(
    _ heatmaps: [Float], masks: [Float], samples: Int, classes: Int, channels: Int, selected: [Int]? = nil, to lists: inout [[Double]]
  ) {
    let plane = masks.count / samples
    let perClass = channels * plane
    let maps = selected == nil ? classes : 1
    for s in 0..<samples {
      let mask = Array(masks[s * plane..<(s + 1) * plane])
      for m in 0..<maps {
        let start = (s * maps + m) * perClass
        let k = selected?[s] ?? m
        if let f = backgroundRelevanceFraction(heatmap: Array(heatmaps[start..<start + perClass]), channels: channels, mask: mask) {
          lists[k].append(f)
        }
      }
    }
  }

  // MARK: - Batches

  /// Epoch `epoch`'s batches of sample indices: a seeded shuffle, cut into `size`s; a last
  /// batch of one sample is dropped (batch statistics need two).
  public static func batches(count: Int, size: Int, seed: UInt64, epoch: Int) -> [[Int]] {
    var order = Array(0..<count)
    var random = SplitMix64(seed: seed ^ 0x5DEE_CE66_D1CE_4E5B ^ (UInt64(truncatingIfNeeded: epoch) &* 0x9E37_79B9_7F4A_7C15))
    random.shuffle(&order)
    return stride(from: 0, to: count, by: size).map { Array(order[$0..<min($0 + size, count)]) }.filter { $0.count >= 2 }
  }

  /// The samples of one batch, loaded and augmented (off the training thread), and the
  /// ones that could not be read.
  struct PreparedBatch: Sendable {
    var samples: [TrainingSample] = []
    var names: [String] = []
    var failures: [(index: Int, name: String, reason: String)] = []
  }

  /// Loads and augments the samples at `indices`, leaving out `skip`, then exchanges their
  /// backgrounds (`exchange`) and applies the masked-input fill. Pure: the result depends on
  /// the indices, the seed and the epoch only, never on when or where it runs.
  static func prepare(
    _ indices: [Int], skip: Set<Int>, source: SampleSource, augmentation: Augmentation?, exchange: BackgroundExchange?, seed: UInt64,
    epoch: Int, dims: [Int], fill: MaskedInput
  ) -> PreparedBatch {
    var prepared = PreparedBatch()
    var loaded: [Int] = []
    for index in indices where !skip.contains(index) {
      var sample: TrainingSample
      do {
        sample = try source.load(index)
      } catch {
        prepared.failures.append((index, source.name(index), "\(error)"))
        continue
      }
      if let augmentation {
        let p = augmentation.parameters(seed: seed, epoch: epoch, sample: index)
        let moved = Augmentation.apply(p, image: sample.image, channels: dims[0], height: dims[1], width: dims[2], mask: sample.mask ?? [])
        sample.image = moved.image
        if sample.mask != nil { sample.mask = moved.mask }
      }
      prepared.samples.append(sample)
      prepared.names.append(source.name(index))
      loaded.append(index)
    }
    exchange?.apply(to: &prepared.samples, indices: loaded, seed: seed, epoch: epoch, channels: dims[0])
    for (k, index) in loaded.enumerated() { fill.apply(to: &prepared.samples[k], seed: MaskFill.seed(seed, epoch: epoch, sample: index)) }
    return prepared
  }

  /// Starts preparing `indices` on a background thread: decoding and augmentation of the
  /// next batch overlap the current step.
  func prefetch(_ indices: [Int], epoch: Int) -> BatchPrefetch {
    let (source, skip, settings, dims) = (train, unreadable, state.settings, inputDims)
    let augmentation = settings.augment ? Augmentation.paper(size: dims[2]) : nil
    let fill = maskedInput
    let exchange = settings.backgroundExchange > 0 ? BackgroundExchange(probability: settings.backgroundExchange) : nil
    return BatchPrefetch {
      Self.prepare(
        indices, skip: skip, source: source, augmentation: augmentation, exchange: exchange, seed: settings.seed, epoch: epoch, dims: dims,
        fill: fill)
    }
  }

  /// Takes a prepared batch in: unreadable samples are reported once and left out from
  /// now on; nil when fewer than two samples remain.
  func accept(_ prepared: PreparedBatch, _ report: (TrainingEvent) -> Void) throws -> Batch? {
    for failure in prepared.failures where !unreadable.contains(failure.index) {
      unreadable.insert(failure.index)
      report(.skipped(name: failure.name, reason: failure.reason))
    }
    guard prepared.samples.count >= 2 else { return nil }
    return try Self.assemble(prepared.samples, needsMasks: state.settings.needsMasks(for: classifier), names: prepared.names)
  }

  static func assemble(_ samples: [TrainingSample], needsMasks: Bool, names: [String]) throws -> Batch {
    var masks: [Float]? = nil
    if needsMasks {
      var all: [Float] = []
      for (sample, name) in zip(samples, names) {
        guard let mask = sample.mask else { throw TrainingFailure("\(name): no mask (the heatmap loss, P > 0, and the masked input need one per sample)") }
        all += mask
      }
      masks = all
    }
    let multiLabel = samples.allSatisfy { $0.targets != nil }
    var batch = Batch(
      images: samples.flatMap(\.image), masks: masks, labels: samples.map(\.label),
      targets: multiLabel ? samples.flatMap { $0.targets! } : nil,
      known: multiLabel ? samples.flatMap { $0.known ?? Array(repeating: 1, count: $0.targets!.count) } : nil,
      samples: samples.count)
    if samples.allSatisfy({ $0.teacherImage != nil }) { batch.teacherImages = samples.flatMap { $0.teacherImage! } }
    return batch
  }

  /// The mean over labels of F1 = 2·TP / (2·TP + FP + FN) (a label never present nor
  /// predicted counts 0, as ConfusionMatrix counts an absent class).
  static func macroF1(_ counts: [(tp: Int, fp: Int, fn: Int)]) -> Double {
    guard !counts.isEmpty else { return 0 }
    let f1 = counts.map { c in 2 * c.tp + c.fp + c.fn == 0 ? 0 : Double(2 * c.tp) / Double(2 * c.tp + c.fp + c.fn) }
    return f1.reduce(0, +) / Double(counts.count)
  }

  /// Samples answered right: the top class (single-label), or every known label on the
  /// right side of probability 0.5 (multi-label: exact match).
  /// Samples classified right (multi-label: every known label right); a segmentation
  /// batch's (its masks given): the sum of each sample's pixel accuracy.
  static func correct(_ logits: [Float], _ batch: Batch, segmentation: Bool = false) -> Double {
    let classes = logits.count / max(batch.samples, 1)
    if segmentation, let masks = batch.masks {
      return SegmentationLoss.overlaps(logits: logits, masks: masks, samples: batch.samples).reduce(0) { $0 + $1.pixelAccuracy }
    }
    guard let targets = batch.targets else {
      return Double(batch.labels.indices.filter { s in argmax(logits[s * classes..<(s + 1) * classes]) == batch.labels[s] }.count)
    }
    return Double((0..<batch.samples).filter { s in
      (0..<classes).allSatisfy { k in
        let i = s * classes + k
        return (batch.known?[i] ?? 1) == 0 || (logits[i] >= 0) == (targets[i] >= 0.5)
      }
    }.count)
  }

  /// The index within `row` of its largest value (the first of equals).
  static func argmax(_ row: ArraySlice<Float>) -> Int {
    row.indices.max { row[$0] < row[$1] }! - row.startIndex
  }
}


/// The background fills of a run: of the trained classifier's own input, and of the
/// teacher's (distillation).
struct MaskedInput: Sendable {
  var own: MaskFill
  var teacher: MaskFill?
  var range: ClosedRange<Float>
  var channels: Int

  /// Sets the teacher's image (from the sample as it is) and replaces the sample's own
  /// background, both with the draws of `seed`. Masks are loaded whenever a fill other
  /// than `none` is set.
  func apply(to sample: inout TrainingSample, seed: UInt64) {
    func filled(_ fill: MaskFill) -> [Float] {
      guard let mask = sample.mask else { return sample.image }
      return fill.apply(to: sample.image, mask: mask, channels: channels, range: range, seed: seed)
    }
    if let teacher { sample.teacherImage = filled(teacher) }
    sample.image = filled(own)
  }
}

/// One batch being prepared on a background thread; `wait` hands it over. The result is
/// written before the semaphore is signalled and read after it is waited on, which orders
/// the two accesses.
final class BatchPrefetch: @unchecked Sendable {
  private let ready = DispatchSemaphore(value: 0)
  private var result: Trainer.PreparedBatch?

  init(_ work: @escaping @Sendable () -> Trainer.PreparedBatch) {
    DispatchQueue.global(qos: .userInitiated).async {
      self.result = work()
      self.ready.signal()
    }
  }

  func wait() -> Trainer.PreparedBatch {
    ready.wait()
    return result!
  }
}
