import ArgumentParser
import Datasets
import Foundation
import GraphIR
import ImageIO
import Runtime
import ModelLang
import Training

struct Train: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Train an ISNet (or, with --P 0, the standard classifier) on a dataset folder.",
    discussion: """
      Minimises (1 − P)·L_C + P·L_H (paper section 4.3): cross-entropy (BCE for multi-label \
      models) and the heatmap loss, which penalises the LRP block's relevance outside each \
      image's mask. The gradient flows through the classifier and its LRP block (ε of its \
      ε-rule: --epsilon). Defaults (docs/training.md has the evidence): every training \
      image's background (mask 0) exchanged for other images' of its batch, so that the \
      background does not predict the label (--exchange-backgrounds 1); the first 10 epochs \
      train the standard classifier (--warmup), then P 0.5 with the paper's heatmap loss on \
      each heatmap normalised by its own mean |H| (--heatmap-norm per-map) and E measured on \
      the warmed-up model (E auto), every class's heatmap, Adam with learning rate 3e-3 on a \
      cosine schedule (--lr-schedule), gradient-norm clipping at 1, batch 10, no \
      augmentation. --loss gwrp is the authors' later loss; --warmup 0 --heatmap-norm std \
      --P 0.7 --optimizer sgd --lr 1e-3 --momentum 0.99 --lr-schedule constant \
      --exchange-backgrounds 0 --augment give the paper's settings. A warning says when relevance collapses \
      towards the zero solution or accuracy stays at chance. Every data folder is checked \
      first, as by isnetc check-dataset.

      --E auto sets E to the initial model's mean background sum over the first batches \
      (auto/D divides it by D; the paper's rule of thumb is D = 10 to 100, which on the chest \
      benchmark collapsed to chance: docs/training.md).

      Every epoch writes RUN/checkpoint.safetensors (weights, optimizer state, run state), \
      RUN/weights.safetensors, RUN/run.json, RUN/curves.png (loss terms, accuracy and \
      macro F1, background relevance, per epoch) and, when the validation loss improves, \
      RUN/best.safetensors, each atomically. --resume RUN continues a run bit for bit.

      Explanation distillation (--distill-from, docs/training.md): first train a teacher \
      that never sees the background (--P 0 --mask-input zero), then a student whose only \
      loss is the distance of its LRP heatmaps from the teacher's, the teacher seeing each \
      image masked, the student the raw image. The student needs no mask at run time.

      Examples:
        isnetc train models/tiny.isnet --data data/train --val data/val --out run/
        isnetc train models/tiny.isnet --resume run/ --epochs 60
        isnetc train models/tiny.isnet --data data/train --val data/val --P 0 --mask-input zero --epochs 20 --out teacher/
        isnetc train models/tiny.isnet --data data/train --val data/val --distill-from models/tiny.isnet \\
          --teacher-weights teacher/best.safetensors --out student/
      """
  )

  @OptionGroup var modelOptions: ModelOptions
  @OptionGroup var lrp: LRPFlags

  @Option(help: ArgumentHelp("The training dataset folder (images/, masks/, labels.csv).", valueName: "DIR"))
  var data: String?

  @Option(help: ArgumentHelp("A validation dataset folder: evaluated after every epoch, picks the best checkpoint.", valueName: "DIR"))
  var val: String?

  @Option(help: "Initial weights (safetensors or a PyTorch .pth checkpoint); default: torchvision-style initialization from --seed.")
  var weights: String?

  // Every training option is optional: left out, it takes TrainingSettings()'s value, the
  // one place the defaults are declared.
  static let defaults = TrainingSettings()

  @Option(name: .customLong("P"), help: "The heatmap loss's weight P; 0 trains the standard classifier (default \(defaults.heatmapWeight)).")
  var heatmapWeight: Double?

  @Option(help: "The heatmap loss: gwrp (the authors' later loss: ranked-pooled background, foreground band) or paper (eqs. 5–10) (default \(defaults.loss.rawValue)).")
  var loss: TrainingSettings.Loss?

  @Option(help: "Which heatmaps the loss sees: all (every class), selective (the label's class), stochastic (the top class with probability 5/11, else another) (default \(defaults.selection.rawValue)).")
  var heatmaps: HeatmapSelection?

  @Option(name: .customLong("E"), help: "E of the heatmap loss: a number; for the paper's loss also auto or auto/D (defaults: paper auto, gwrp \(defaults.gwrpScale)).")
  var heatmapScale: HeatmapScaleOption?

  @Option(help: "Batches over which the initial model is measured (E auto, --band auto) (default \(defaults.autoScaleBatches)).")
  var autoBatches: Int?

  @Option(help: "paper loss: the stabilizer e, H / sqrt(Var(H) + e), f clamped to 1 − e (default \(defaults.heatmapStabilizer)).")
  var stabilizer: Double?

  @Option(help: "paper loss: the heatmaps' divisor, std (sqrt(Var(H) + e), the paper's), mean-abs (mean |H| of the batch's maps) or per-map (each map's own mean |H|) (default \(defaults.heatmapNormalization.rawValue)).")
  var heatmapNorm: HeatmapLoss.Normalization?

  @Option(help: "gwrp loss: the ranked pooling's decay d in [0, 1]; 1 averages the background, 0 takes its maximum (default \(defaults.gwrpDecay)).")
  var decay: Double?

  @Option(help: "gwrp loss: A, the background term's weight (default \(defaults.backgroundWeight)).")
  var backgroundWeight: Double?

  @Option(help: "gwrp loss: B, the foreground band term's weight (default \(defaults.foregroundWeight)).")
  var foregroundWeight: Double?

  @Option(help: ArgumentHelp("gwrp loss: the band C1,C2 for the foreground relevance Σ|R|, or auto: the authors' rule on the initial model (default auto).", valueName: "C1,C2|auto"))
  var band: BandOption?

  @Option(help: "gwrp loss: the penalty above the band, hybrid (quadratic, then linear beyond C1 + C2) or quadratic (default \(defaults.bandPenalty.rawValue)).")
  var bandPenalty: GWRPHeatmapLoss.Penalty?

  @Option(
    help: ArgumentHelp(
      "Multi-label models: each label's weight of its positive term in BCE, comma-separated (default: all 1).", valueName: "W,W,…"))
  var positiveWeights: String?

  @Option(help: "Replace the background (mask 0) of the images: none, zero or noise (uniform over the input's range). Trains a teacher on masked images; with --distill-from, the teacher's input (default none; with --distill-from zero).")
  var maskInput: MaskFill?

  @Option(help: ArgumentHelp("Explanation distillation: the teacher's model file; the student (MODEL) learns to match its heatmaps.", valueName: "TEACHER.isnet"))
  var distillFrom: String?

  @Option(help: ArgumentHelp("The teacher's weights (with --distill-from).", valueName: "FILE"))
  var teacherWeights: String?

  @Option(help: "Distillation: whose heatmaps are matched: stochastic (the teacher's top class half of the time, else another), label, top, all (default stochastic).")
  var explain: DistillationClasses?

  @Option(help: ArgumentHelp("Distillation: ε of the LRP rule drawn per sample, log-uniform in [LOW, HIGH], shared by teacher and student; --epsilon fixes it instead (default 0.01,0.1).", valueName: "LOW,HIGH"))
  var epsilonRange: String?

  @Option(help: "Distillation: the weight of a cross-entropy term on the labels; 0 trains by the explanations alone (default \(DistillationSettings(teacherModel: "", teacherWeights: "").crossEntropyWeight)).")
  var distillCe: Double?

  @Flag(inversion: .prefixedNo, help: "Distillation: copy the teacher's last layer into the student and keep it fixed (default on).")
  var freezeHeadFromTeacher: Bool?

  @Flag(inversion: .prefixedNo, help: "Distillation: compare the maps' 2×, 4×, … average-pooled versions too (default on).")
  var pyramid: Bool?

  @Flag(inversion: .prefixedNo, help: "Distillation: differentiate the batch statistics the student's LRP block reads, the true gradient (default \(DistillationSettings(teacherModel: "", teacherWeights: "").exactStatistics ? "on" : "off"); the ISNet loss keeps the reference's detached statistics).")
  var exactStatistics: Bool?

  @Option(help: "Distillation: each map divided by its own mean |R| (separate), or each pair by the geometric mean of their mean |R| (geometric, the authors') (default \(DistillationSettings(teacherModel: "", teacherWeights: "").normalization.rawValue)).")
  var distillNorm: DistillationLoss.Normalization?

  @Option(help: "The learning rate over the epochs: constant, or cosine (half a cosine from --lr towards 0 after the last epoch) (default \(Self.defaults.learningRateSchedule.rawValue) for an ISNet, constant with --P 0).")
  var lrSchedule: LearningRateSchedule?

  @Option(
    help: ArgumentHelp(
      "The probability that a training image's background (mask 0) is exchanged for other images' of the batch, so that the label does not predict the background (default \(Self.defaults.backgroundExchange) for an ISNet, 0 with --P 0).",
      valueName: "Q"))
  var exchangeBackgrounds: Double?

  @Option(help: "A multi-task model's weight W of its segmentation loss: (1 − P)·L_C + P·L_H + W·L_S (default 1).")
  var segmentationWeight: Double?

  @Option(
    help: ArgumentHelp(
      "Keep the parameters under this scope as loaded (repeatable): a pipeline's trained segmenter. They get no gradient and their batch norms run as in evaluation.",
      valueName: "SCOPE"))
  var freeze: [String] = []

  @Option(help: "Which epoch best.safetensors keeps: loss (lowest validation loss; for distillation L_D + W·L_C, L_D alone with --distill-ce 0 needing no labels), f1 (highest validation macro F1) or last (default \(defaults.bestBy.rawValue)).")
  var bestBy: TrainingSettings.CheckpointRule?

  @Option(help: "Epochs (default \(defaults.epochs); with --resume: the run's new total).")
  var epochs: Int?

  @Option(help: "Epochs trained as the standard classifier (P 0) before the heatmap loss joins, counted in --epochs (default \(defaults.warmupEpochs); 0 with --weights of a trained classifier).")
  var warmup: Int?

  @Option(help: "Samples per step (default \(defaults.batchSize)).")
  var batch: Int?

  @Option(help: "Optimizer: sgd or adam (default \(defaults.optimizer.kind.rawValue)).")
  var optimizer: OptimizerKind?

  @Option(help: "Learning rate (default \(defaults.optimizer.learningRate) for an ISNet, \(TrainingSettings.defaultOptimizer(isnet: false).learningRate) with --P 0, \(DistillationSettings.learningRate) for a distillation student).")
  var lr: Double?

  @Option(help: "SGD momentum (default \(defaults.optimizer.momentum)).")
  var momentum: Double?

  @Option(help: "Clip the gradient's global L2 norm to this; 0: no clipping (default \(defaults.optimizer.clipNorm ?? 0)).")
  var clip: Double?

  @Option(help: "Weight decay (L2); the paper uses none (default \(defaults.optimizer.weightDecay)).")
  var weightDecay: Double?

  @Flag(inversion: .prefixedNo, help: "The paper's augmentation of image and mask (default: \(defaults.augment ? "on" : "off")).")
  var augment: Bool?

  @Option(help: "Seed for initialization, shuffling, augmentation, dropout and the stochastic heatmap choice (default \(defaults.seed)).")
  var seed: UInt64?

  @Option(help: "Threads for the kernels (default \(defaults.threads)).")
  var threads: Int?

  @Option(help: "Relevance tensors the reverse recomputes instead of keeping, the same bits: none, norm-transposes (the batch-norm transposes' outputs), element-wise (also the ε-rule quotients and products and the batch norms' LRP views: element-wise passes, about 40% less memory for an every-class ISNet step), relevance (also the transposed convolutions': about a quarter less memory again, for 10–20% more time), or auto (relevance where the step would take more than half the machine's memory, else element-wise) (default \(defaults.recompute.rawValue)).")
  var recompute: TrainingSession.Recomputation?

  @Option(help: ArgumentHelp("The run directory for checkpoints.", valueName: "RUN"))
  var out: String?

  @Option(help: ArgumentHelp("Continue the run in this directory from its last checkpoint.", valueName: "RUN"))
  var resume: String?

  @OptionGroup var preprocessing: PreprocessingFlags

  func validate() throws {
    if resume == nil {
      guard data != nil else { throw ValidationError("--data is needed (or --resume RUN)") }
      guard out != nil else { throw ValidationError("--out RUN is needed (or --resume RUN)") }
    } else if out != nil {
      throw ValidationError("--resume continues in its own directory; drop --out")
    }
    if resume != nil, trainingOptionsGiven {
      throw ValidationError("--resume continues with the run's own settings; only --epochs, --data and --val may be given")
    }
    if let problem = (try settings()).problems.first { throw ValidationError(problem) }
  }

  /// Whether any option that shapes a new run was given.
  var trainingOptionsGiven: Bool {
    let given: [Any?] = [
      heatmapWeight, loss, heatmaps, heatmapScale, warmup, positiveWeights, autoBatches, stabilizer, heatmapNorm, decay, backgroundWeight, foregroundWeight,
      band, bandPenalty, batch, optimizer, lr, momentum, clip, weightDecay, augment, seed, threads, recompute, weights, lrp.epsilon, lrp.inputRule,
      maskInput, distillFrom, teacherWeights, explain, epsilonRange, distillCe, freezeHeadFromTeacher, pyramid, distillNorm, exactStatistics, bestBy,
      freeze.isEmpty ? nil : freeze, segmentationWeight, exchangeBackgrounds, lrSchedule,
    ]
    return given.contains { $0 != nil }
  }

  func run() throws {
    let classifier = try modelOptions.compile()
    if resume == nil, classifier.outputKind != .segmentation, let settings = try? self.settings(), settings.distillation == nil, settings.heatmapWeight > 0, settings.epochs <= settings.warmupEpochs {
      printError("warning: all \(settings.epochs) epochs are the warm-up (--warmup \(settings.warmupEpochs)): this run trains the standard classifier only; give more --epochs or a shorter --warmup")
    }
    if (weightDecay ?? 0) > 0 {
      printError("warning: weight decay drives the ISNet towards the zero solution, whose heatmaps are empty (paper section 4.11); the paper trains without it")
    }
    let trainer: Trainer
    do {
      if let resume {
        let (state, _, _) = try Checkpoint.read(directory: resume)
        guard let trainData = data ?? state.trainData else { throw TrainingInputError("\(resume): the run does not say its data; give --data") }
        let needsMasks = state.settings.needsMasks(for: classifier)
        let train = try FolderSamples(directory: trainData, graph: classifier, needsMasks: needsMasks, options: preprocess)
        let validation = try (val ?? state.validationData).map { try FolderSamples(directory: $0, graph: classifier, needsMasks: needsMasks, options: preprocess) }
        try Self.check([train] + (validation.map { [$0] } ?? []), classifier: classifier)
        let teacher = try state.settings.distillation.map { try Self.teacher($0) }
        trainer = try Trainer.resume(classifier: classifier, directory: resume, train: train, validation: validation, epochs: epochs, teacher: teacher)
        Self.say("resuming \(resume) after epoch \(state.epochsDone) of \(trainer.state.settings.epochs)")
      } else {
        let settings = try segmenting(try self.settings(), classifier)
        let train = try FolderSamples(directory: data!, graph: classifier, needsMasks: settings.needsMasks(for: classifier), options: preprocess)
        let validation = try val.map { try FolderSamples(directory: $0, graph: classifier, needsMasks: settings.needsMasks(for: classifier), options: preprocess) }
        try Self.check([train] + (validation.map { [$0] } ?? []), classifier: classifier)
        let table = try weights.map(loadWeights) ?? Initialization.weights(for: classifier, seed: settings.seed)
        let teacher = try settings.distillation.map { try Self.teacher($0) }
        trainer = try Trainer(
          classifier: classifier, settings: settings, weights: table, weightsSource: weights ?? "initial weights", train: train,
          validation: validation, directory: out!, trainData: data, validationData: val, teacher: teacher)
      }
    } catch let error as ExitCode {
      throw error
    } catch {
      throw fail(error)
    }
    if trainer.state.settings.recompute == .auto, trainer.session.recomputation == .relevance {
      let gib = Double(trainer.session.memoryPlan.arenaFloats) * 4 / 1_073_741_824
      Self.say(String(format: "memory: keeping every relevance tensor, a step would take over half of this machine's memory, so the reverse recomputes them (%.1f GiB of activations, about 10%% slower; see --recompute)", gib))
    }
    let directory = resume ?? out!
    var progress: Progress?
    let heatmapTerm = trainer.state.settings.distillation == nil ? "L_H" : "L_D"
    let runStart = Date()
    var stepsThisRun = 0
    let final: RunState
    do {
      final = try trainer.run { event in
        switch event {
        case .autoScale(let background, let scale):
          Self.say(String(format: "E auto: initial mean background sum %.4g, E = %.4g", background, scale))
        case .autoBand(let lower, let upper):
          Self.say(String(format: "band auto: the initial model's Σ|R| gives C1 = %.4g, C2 = %.4g", lower, upper))
        case .skipped(let name, let reason):
          progress?.interrupt()
          printError("warning: skipping \(name): \(reason)")
        case .step(let r):
          if r.batch == 1 { progress = Progress(total: r.batches, label: "epoch \(r.epoch)/\(r.epochs)") }
          stepsThisRun += 1
          // The whole run's time left, at this run's mean step time (validation excluded).
          let left = Double((r.epochs - r.epoch) * r.batches + r.batches - r.batch) * Date().timeIntervalSince(runStart) / Double(stepsThisRun)
          progress?.update(r.batch, detail: String(format: "L_C %.4f  %@ %.4f  %.1f img/s  run ETA %dm%02ds", r.result.classificationLoss, heatmapTerm, r.result.heatmapLoss, r.imagesPerSecond, Int(left) / 60, Int(left) % 60))
        case .validating:
          progress?.finish()
          progress = nil
        case .epoch(let record, let isBest):
          progress?.finish()
          progress = nil
          Self.say(Self.describe(record, epochs: trainer.state.settings.epochs, isBest: isBest, heatmapTerm: heatmapTerm))
          if let warning = record.warning { printError("warning: epoch \(record.epoch): \(warning)") }
          // A picture that cannot be drawn does not stop the run.
          do { try Pictures.writeCurves(trainer.state, directory: directory) } catch { printError("warning: \(directory)/curves.png: \(error)") }
        }
      }
    } catch {
      progress?.finish()
      throw fail(error)
    }
    if let best = final.bestEpoch {
      let value = final.bestValue.map { String(format: " %.4f", $0) } ?? ""
      Self.say("done: \(directory)/best.safetensors is epoch \(best) (\(final.bestCriterion)\(value)); \(directory)/weights.safetensors is the last")
    }
  }

  /// The teacher of a distillation run, compiled and with its weights.
  static func teacher(_ settings: DistillationSettings) throws -> TeacherSource {
    let compilation = ModelCompiler.compile(path: settings.teacherModel, options: CompileOptions())
    guard let graph = compilation.graph else {
      printError(compilation.renderedDiagnostics, newline: false)
      throw ExitCode(1)
    }
    return TeacherSource(classifier: graph, weights: try loadWeights(settings.teacherWeights), source: settings.teacherWeights)
  }

  /// One line on standard output, unbuffered: a log file shows each epoch as it ends.
  static func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
  }

  var preprocess: PreprocessOptions { preprocessing.options }

  /// `isnetc check-dataset`'s checks of every folder, before epoch 1: a bad image, mask or
  /// label stops the run now, with the list, not in the middle of an epoch.
  static func check(_ sources: [FolderSamples], classifier: Graph) throws {
    // A segmenter reads masks, not labels: the labels are checked only for what they are.
    let classes = classifier.outputKind == .segmentation ? nil : classifier[classifier.outputs[0]].type.dims[0]
    for source in sources {
      let bar = Progress(total: source.count, label: "checking \(source.folder.directory)")
      let check = DatasetCheck(source.folder, classes: classes) { bar.update($0) }
      bar.finish()
      guard check.problems.isEmpty else {
        printError("error: \(source.folder.directory): " + check.report(names: source.folder.classNames), newline: false)
        throw ExitCode(1)
      }
    }
  }

  /// A segmentation model's settings: BCE + Dice against the masks, no heatmap loss (P 0
  /// unless given otherwise, which is refused), no warm-up, no distillation.
  func segmenting(_ settings: TrainingSettings, _ classifier: Graph) throws -> TrainingSettings {
    if let segmentationWeight, classifier.segmentation == nil {
      throw ValidationError("--segmentation-weight \(segmentationWeight): '\(classifier.name)' has no segmentation head (return logits, segmentation;)")
    }
    guard classifier.outputKind == .segmentation else {
      var s = settings
      if let segmentationWeight { s.segmentationWeight = segmentationWeight }
      return s
    }
    if let p = heatmapWeight, p > 0 { throw ValidationError("--P \(p): '\(classifier.name)' is a segmentation model; it trains on its masks (BCE + Dice) without a heatmap loss") }
    if distillFrom != nil { throw ValidationError("--distill-from: '\(classifier.name)' is a segmentation model; explanation distillation trains classifiers") }
    if maskInput != nil { throw ValidationError("--mask-input: a segmentation model must see the background it segments") }
    var s = settings
    s.segmentation = true
    s.heatmapWeight = 0
    s.warmupEpochs = 0
    standardRecipe(&s)
    return s
  }

  /// A run without the ISNet loss (P 0, a segmenter, a distillation student) keeps the
  /// standard recipe where its options are not given: no exchange, `learningRate` (Adam's
  /// 3e-4; a student: distillation's own), a constant rate.
  func standardRecipe(
    _ s: inout TrainingSettings, learningRate: Double = TrainingSettings.defaultOptimizer(isnet: false).learningRate
  ) {
    if exchangeBackgrounds == nil { s.backgroundExchange = 0 }
    if lr == nil { s.optimizer.learningRate = learningRate }
    if lrSchedule == nil { s.learningRateSchedule = TrainingSettings.defaultSchedule(isnet: false) }
  }

  /// The run's settings: each option given, else its default.
  func settings() throws -> TrainingSettings {
    var s = Self.defaults
    if let heatmapWeight { s.heatmapWeight = heatmapWeight }
    if let loss { s.loss = loss }
    if let heatmaps { s.selection = heatmaps }
    switch heatmapScale {
    case .value(let e)?:
      if s.loss == .paper { s.heatmapScale = e } else { s.gwrpScale = e }
    case .auto(let d)?:
      guard s.loss == .paper else { throw ValidationError("--E auto belongs to the paper's loss; the gwrp loss takes a number (default \(Self.defaults.gwrpScale))") }
      s.autoScaleDivisor = d
    case nil:
      break
    }
    if let autoBatches { s.autoScaleBatches = autoBatches }
    if let stabilizer { s.heatmapStabilizer = stabilizer }
    if let heatmapNorm { s.heatmapNormalization = heatmapNorm }
    if let decay { s.gwrpDecay = decay }
    if let backgroundWeight { s.backgroundWeight = backgroundWeight }
    if let foregroundWeight { s.foregroundWeight = foregroundWeight }
    switch band {
    case .values(let c1, let c2)?: s.band = [c1, c2]
    case .auto?: s.band = nil
    case nil: break
    }
    if let bandPenalty { s.bandPenalty = bandPenalty }
    if let epochs { s.epochs = epochs }
    if let warmup { s.warmupEpochs = warmup }
    if let positiveWeights {
      let values = positiveWeights.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
      guard values.allSatisfy({ $0 != nil }) else { throw ValidationError("--positive-weights: '\(positiveWeights)' is not a comma-separated list of numbers") }
      s.positiveWeights = values.map { $0! }
    }
    if let batch { s.batchSize = batch }
    if let optimizer { s.optimizer.kind = optimizer }
    if let lr { s.optimizer.learningRate = lr }
    if let lrSchedule { s.learningRateSchedule = lrSchedule }
    if let exchangeBackgrounds { s.backgroundExchange = exchangeBackgrounds }
    if let momentum { s.optimizer.momentum = momentum }
    if let clip { s.optimizer.clipNorm = clip > 0 ? clip : nil }
    if let weightDecay { s.optimizer.weightDecay = weightDecay }
    if let augment { s.augment = augment }
    if let seed { s.seed = seed }
    if let threads { s.threads = threads }
    if let recompute { s.recompute = recompute }
    s.lrp = lrp.options
    if let bestBy { s.bestBy = bestBy }
    s.frozen = freeze
    if s.heatmapWeight == 0 { standardRecipe(&s) }
    let distillOnly = [
      teacherWeights != nil ? "--teacher-weights" : nil, explain != nil ? "--explain" : nil, epsilonRange != nil ? "--epsilon-range" : nil,
      distillCe != nil ? "--distill-ce" : nil, freezeHeadFromTeacher != nil ? "--freeze-head-from-teacher" : nil, pyramid != nil ? "--pyramid" : nil,
      distillNorm != nil ? "--distill-norm" : nil, exactStatistics != nil ? "--exact-statistics" : nil,
    ].compactMap { $0 }
    if let distillFrom {
      guard let teacherWeights else { throw ValidationError("--distill-from needs the teacher's weights: --teacher-weights FILE") }
      var d = DistillationSettings(teacherModel: distillFrom, teacherWeights: teacherWeights)
      if let maskInput { d.teacherInput = maskInput }
      if let explain { d.classes = explain }
      if lrp.epsilon != nil {
        guard epsilonRange == nil else { throw ValidationError("--epsilon fixes ε, --epsilon-range draws it: give one") }
        d.epsilonRange = nil
      }
      if let epsilonRange {
        let values = epsilonRange.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard values.count == 2, let low = values[0], let high = values[1] else { throw ValidationError("--epsilon-range: '\(epsilonRange)' is not LOW,HIGH") }
        d.epsilonRange = [low, high]
      }
      if let distillCe { d.crossEntropyWeight = distillCe }
      if let freezeHeadFromTeacher { d.freezeHead = freezeHeadFromTeacher }
      if let pyramid { d.pyramid = pyramid }
      if let distillNorm { d.normalization = distillNorm }
      if let exactStatistics { d.exactStatistics = exactStatistics }
      s.distillation = d
      // The student learns from the teacher from its first step: no warm-up, no ISNet loss.
      s.warmupEpochs = 0
      s.heatmapWeight = 0
      standardRecipe(&s, learningRate: DistillationSettings.learningRate)
      if lrp.inputRule == nil { s.lrp.inputRule = DistillationSettings.inputRule }
      let isnetOnly = [heatmapWeight != nil ? "--P" : nil, loss != nil ? "--loss" : nil, heatmaps != nil ? "--heatmaps" : nil, heatmapScale != nil ? "--E" : nil, warmup != nil ? "--warmup" : nil]
      if let option = isnetOnly.compactMap({ $0 }).first { throw ValidationError("\(option) belongs to the ISNet loss; a distillation run (--distill-from) trains by the teacher's heatmaps alone") }
    } else {
      if let option = distillOnly.first { throw ValidationError("\(option) belongs to explanation distillation; add --distill-from TEACHER.isnet") }
      if let maskInput {
        s.maskInput = maskInput
        // A filled background leaves nothing to exchange.
        if maskInput != .none, exchangeBackgrounds == nil { s.backgroundExchange = 0 }
      }
    }
    let paperOnly = [stabilizer != nil ? "--stabilizer" : nil, heatmapNorm != nil ? "--heatmap-norm" : nil].compactMap { $0 }
    let gwrpOnly = [
      decay != nil ? "--decay" : nil, backgroundWeight != nil ? "--background-weight" : nil, foregroundWeight != nil ? "--foreground-weight" : nil,
      band != nil ? "--band" : nil, bandPenalty != nil ? "--band-penalty" : nil,
    ].compactMap { $0 }
    if s.loss == .gwrp, let option = paperOnly.first { throw ValidationError("\(option) belongs to the paper's loss; add --loss paper") }
    if s.loss == .paper, let option = gwrpOnly.first { throw ValidationError("\(option) belongs to the gwrp loss; drop --loss paper") }
    return s
  }

  /// L_H: the heatmap loss; L_D: a distillation run's distance from the teacher's heatmaps.
  static func describe(_ r: EpochRecord, epochs: Int, isBest: Bool, heatmapTerm: String = "L_H") -> String {
    var line = String(format: "epoch %d/%d: train loss %.4f (L_C %.4f, %@ %.4f, ", r.epoch, epochs, r.trainLoss, r.trainClassificationLoss, heatmapTerm, r.trainHeatmapLoss)
    if let loss = r.trainSegmentationLoss { line += String(format: "L_S %.4f, ", loss) }
    line += String(format: "accuracy %.3f)", r.trainAccuracy)
    if let v = r.validationLoss {
      line += String(format: ", validation loss %.4f (L_C %.4f, %@ %.4f, accuracy %.3f", v, r.validationClassificationLoss ?? .nan, heatmapTerm, r.validationHeatmapLoss ?? .nan, r.validationAccuracy ?? .nan)
      if let f1 = r.validationMacroF1 { line += String(format: ", macro F1 %.3f", f1) }
      if let loss = r.validationSegmentationLoss { line += String(format: ", L_S %.4f", loss) }
      if let iou = r.validationIoU { line += String(format: ", IoU %.3f", iou) }
      if let background = r.validationBackgroundFraction { line += String(format: ", background |R| %.3f", background) }
      line += ")"
    }
    if let f = r.foregroundRelevance { line += String(format: ", foreground Σ|R| %.3g", f) }
    line += String(format: ", %.1f s", r.seconds)
    if let wait = r.inputWaitSeconds { line += String(format: " (%.2f s waiting for input)", wait) }
    if r.skippedSamples > 0 { line += ", \(r.skippedSamples) unreadable samples skipped" }
    return line + (isBest ? "  [best]" : "")
  }
}

/// `--band`: `C1,C2` (0 < C1 ≤ C2) or `auto`.
enum BandOption: ExpressibleByArgument {
  case values(Double, Double)
  case auto

  init?(argument: String) {
    if argument == "auto" {
      self = .auto
      return
    }
    let parts = argument.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
    guard parts.count == 2, let c1 = parts[0], let c2 = parts[1], c1 > 0, c1 <= c2, c2.isFinite else { return nil }
    self = .values(c1, c2)
  }
}

/// `--E`: a positive number, `auto` or `auto/D`.
enum HeatmapScaleOption: ExpressibleByArgument {
  case value(Double)
  case auto(divisor: Double)

  init?(argument: String) {
    if argument == "auto" {
      self = .auto(divisor: 1)
    } else if argument.hasPrefix("auto/"), let d = Double(argument.dropFirst(5)), d > 0, d.isFinite {
      self = .auto(divisor: d)
    } else if let e = Double(argument), e > 0, e.isFinite {
      self = .value(e)
    } else {
      return nil
    }
  }

  var defaultValueDescription: String {
    switch self {
    case .value(let e): "\(e)"
    case .auto(let d): d == 1 ? "auto" : "auto/\(d)"
    }
  }
}

extension LearningRateSchedule: ExpressibleByArgument {}
extension OptimizerKind: ExpressibleByArgument {}
extension HeatmapLoss.Normalization: ExpressibleByArgument {}
extension TrainingSettings.Loss: ExpressibleByArgument {}
extension HeatmapSelection: ExpressibleByArgument {}
extension GWRPHeatmapLoss.Penalty: ExpressibleByArgument {}
extension MaskFill: ExpressibleByArgument {}
extension DistillationLoss.Normalization: ExpressibleByArgument {}
extension DistillationClasses: ExpressibleByArgument {}
extension TrainingSettings.CheckpointRule: ExpressibleByArgument {}

struct TrainingInputError: Error, CustomStringConvertible {
  var description: String
  init(_ description: String) { self.description = description }
}
