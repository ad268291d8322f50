import ArgumentParser
import Foundation
import GraphIR
import Runtime
import TensorFiles
import Training

/// `isnetc step`: one training step's loss and gradients on a fixed batch, written as
/// safetensors: what an exported PyTorch module's step is compared with
/// (scripts/check_export_pytorch.py). No update is applied.
struct Step: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Run one training step on a fixed batch and write its losses, outputs and gradients.",
    discussion: """
      The batch is a safetensors file holding `input` [B,C,H,W] (float32, in the model's \
      range), `labels` [B] (int64 class indices; for a multi-label model `targets` [B,K]) and, \
      for P > 0, `mask` [B,H,W] or [B,C,H,W] (1 = foreground). The step runs as in `isnetc \
      train` (batch statistics, the LRP block, the ISNet loss in float64, the reverse-mode \
      program) and writes OUT with `loss`, `loss_classification`, `loss_heatmap` (float64), \
      `logits`, `heatmaps` (P > 0: all K per sample, whatever `--heatmaps` chose), `grad.NAME` for every trainable parameter and `after.NAME` \
      for the running statistics the step updated. No optimizer update is taken.

      Example:
        isnetc step models/tiny.isnet --weights w.safetensors --batch batch.safetensors --P 0.7 --E 10 -o step.safetensors
      """
  )

  @OptionGroup var modelOptions: ModelOptions

  @Option(help: "Weights (safetensors or a PyTorch .pth checkpoint).")
  var weights: String

  @Option(help: ArgumentHelp("The batch (safetensors: input, labels or targets, mask).", valueName: "FILE"))
  var batch: String

  // Defaults are isnetc train's (TrainingSettings()); the paper's E and the gwrp band have
  // none here (nothing is measured in one step).
  @Option(name: .customLong("P"), help: "The heatmap loss's weight P; 0 runs the classifier alone.")
  var heatmapWeight = TrainingSettings().heatmapWeight

  @Option(help: "The heatmap loss: paper or gwrp.")
  var loss = TrainingSettings().loss

  @Option(help: "Which heatmaps the loss sees: all, selective (the label's class) or stochastic.")
  var heatmaps = TrainingSettings().selection

  @Option(help: "The seed of the stochastic heatmap choice.")
  var selectionSeed: UInt64 = 0

  @Option(name: .customLong("E"), help: "The heatmap loss's E (required for the paper's loss; gwrp default \(TrainingSettings().gwrpScale)).")
  var heatmapScale: Double?

  @Option(help: "gwrp loss: the ranked pooling's decay d.")
  var decay = TrainingSettings().gwrpDecay

  @Option(help: "gwrp loss: A, the background term's weight.")
  var backgroundWeight = TrainingSettings().backgroundWeight

  @Option(help: "gwrp loss: B, the foreground band term's weight.")
  var foregroundWeight = TrainingSettings().foregroundWeight

  @Option(help: ArgumentHelp("gwrp loss: the band C1,C2 (required with --loss gwrp).", valueName: "C1,C2"))
  var band: BandOption?

  @Option(help: "gwrp loss: the penalty above the band, hybrid or quadratic.")
  var bandPenalty = TrainingSettings().bandPenalty

  @Option(help: ArgumentHelp("Explanation distillation instead of the ISNet loss: the teacher's model file.", valueName: "TEACHER.isnet"))
  var distillFrom: String?

  @Option(help: ArgumentHelp("Distillation: the teacher's weights.", valueName: "FILE"))
  var teacherWeights: String?

  @Option(help: "Distillation: the teacher's input, the image with its background replaced: zero or noise (drawn with the selection seed).")
  var maskInput = DistillationSettings(teacherModel: "", teacherWeights: "").teacherInput

  @Option(help: "Distillation: whose maps are matched: stochastic, label, top or all.")
  var explain = DistillationSettings(teacherModel: "", teacherWeights: "").classes

  @Option(help: ArgumentHelp("Distillation: ε per sample, log-uniform in [LOW, HIGH] (drawn with the selection seed), or none: the compiled ε.", valueName: "LOW,HIGH|none"))
  var epsilonRange = "0.01,0.1"

  @Option(help: "Distillation: the cross-entropy term's weight.")
  var distillCe = DistillationSettings(teacherModel: "", teacherWeights: "").crossEntropyWeight

  @Option(help: "Distillation: separate or geometric.")
  var distillNorm = DistillationSettings(teacherModel: "", teacherWeights: "").normalization

  @Flag(inversion: .prefixedNo, help: "Distillation: compare the maps' average pools too.")
  var pyramid = DistillationSettings(teacherModel: "", teacherWeights: "").pyramid

  @Option(help: "The heatmap loss's stabilizer e.")
  var stabilizer = TrainingSettings().heatmapStabilizer

  @Option(help: "The heatmaps' divisor before the background sum: std, mean-abs or per-map.")
  var heatmapNorm = TrainingSettings().heatmapNormalization

  @OptionGroup var lrp: LRPFlags

  @Option(help: "Threads for the kernels.")
  var threads = 2

  @Option(name: .shortAndLong, help: "The safetensors file to write.")
  var output: String

  func validate() throws {
    if !(0...1).contains(heatmapWeight) { throw ValidationError("--P must be in [0, 1], got \(heatmapWeight)") }
    if let heatmapScale, !(heatmapScale > 0) { throw ValidationError("--E must be positive, got \(heatmapScale)") }
    if loss == .paper, heatmapScale == nil, heatmapWeight > 0, distillFrom == nil { throw ValidationError("--E is needed for the paper's loss (no E auto in one step)") }
    var bandGiven = false
    if case .values = band { bandGiven = true }
    if loss == .gwrp, heatmapWeight > 0, distillFrom == nil, !bandGiven { throw ValidationError("--band C1,C2 is needed for the gwrp loss (no band auto in one step)") }
    if !(0...1).contains(decay) { throw ValidationError("--decay must be in [0, 1], got \(decay)") }
    if distillFrom != nil, teacherWeights == nil { throw ValidationError("--distill-from needs --teacher-weights") }
    if let problem = try distillation()?.problems.first { throw ValidationError(problem) }
  }

  /// The distillation settings the options describe (nil: the ISNet loss).
  func distillation() throws -> DistillationSettings? {
    guard let distillFrom, let teacherWeights else { return nil }
    var d = DistillationSettings(teacherModel: distillFrom, teacherWeights: teacherWeights, teacherInput: maskInput, classes: explain)
    if epsilonRange == "none" {
      d.epsilonRange = nil
    } else {
      let values = epsilonRange.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
      guard values.count == 2, let low = values[0], let high = values[1] else { throw ValidationError("--epsilon-range: '\(epsilonRange)' is not LOW,HIGH or none") }
      d.epsilonRange = [low, high]
    }
    d.crossEntropyWeight = distillCe
    d.normalization = distillNorm
    d.pyramid = pyramid
    return d
  }

  /// The heatmap term the options describe.
  var heatmapTerm: HeatmapTerm {
    switch loss {
    case .paper:
      return .paper(HeatmapLoss(scale: heatmapScale ?? 1, stabilizer: stabilizer, normalization: heatmapNorm))
    case .gwrp:
      let (lower, upper) = if case .values(let c1, let c2) = band { (c1, c2) } else { (1.0, 1.0) }
      return .gwrp(
        GWRPHeatmapLoss(
          decay: decay, scale: heatmapScale ?? TrainingSettings().gwrpScale, backgroundWeight: backgroundWeight,
          foregroundWeight: foregroundWeight, lower: lower, upper: upper, penalty: bandPenalty))
    }
  }

  func run() throws {
    let classifier = try modelOptions.compile()
    do {
      let fixture = try SafetensorsFile(path: batch)
      guard let shape = fixture.info("input")?.shape, shape.count == 4 else {
        throw RuntimeError("\(batch): no tensor 'input' [B, C, H, W]")
      }
      let samples = shape[0]
      let kind = classifier.outputKind
      let labels = fixture.info("labels") != nil ? try fixture.integers("labels").map(Int.init) : []
      let targets = fixture.info("targets") != nil ? try fixture.floats("targets") : nil
      if kind == .softmax, labels.count != samples {
        throw RuntimeError("\(batch): 'labels' must hold \(samples) class indices")
      }
      let distillation = try distillation()
      let masks = heatmapWeight > 0 || distillation != nil ? try fixture.floats("mask") : nil
      // The LRP block training builds for these settings.
      var settings = TrainingSettings(heatmapWeight: heatmapWeight, selection: heatmaps, lrp: lrp.options)
      settings.distillation = distillation
      let block = settings.blockOptions
      let program = try classifier.trainingProgram(heatmaps: heatmapWeight > 0 || distillation != nil ? block : nil)
      let table = try WeightFiles.load(path: weights)
      let session = try TrainingSession(program: program, weights: table, weightsSource: weights, batchSize: samples, threads: threads)
      var batch = Batch(images: try fixture.floats("input"), masks: masks, labels: labels, targets: targets, samples: samples)
      let step: StepResult
      if let distillation {
        let teacher = try Train.teacher(distillation)
        try Teacher.check(teacher: teacher.classifier, student: classifier)
        batch.teacherImages = teacherImages(batch, fill: distillation.teacherInput, classifier: classifier)
        let explainer = try Teacher(
          classifier: teacher.classifier, weights: teacher.weights, source: teacher.source, lrp: block, batchSize: samples, threads: threads)
        step = try DistillationObjective(settings: distillation, kind: kind, lrp: lrp.options).step(session, teacher: explainer, batch, seed: selectionSeed)
      } else {
        var objective = Objective(heatmapWeight: heatmapWeight, heatmapTerm: heatmapTerm, selection: heatmaps, kind: kind)
        objective.selectionSeed = selectionSeed
        step = try objective.step(session, batch)
      }
      var entries = [
        SafetensorsEntry(name: "loss", shape: [1], values: .float64([step.total])),
        SafetensorsEntry(name: "loss_classification", shape: [1], values: .float64([step.classificationLoss])),
        SafetensorsEntry(name: "loss_heatmap", shape: [1], values: .float64([step.heatmapLoss])),
        SafetensorsEntry(name: "logits", shape: [samples, step.logits.count / samples], values: .float32(step.logits)),
      ]
      if let teacherImages = batch.teacherImages {
        entries.append(SafetensorsEntry(name: "teacher_input", shape: shape, values: .float32(teacherImages)))
      }
      if let maps = step.heatmaps {
        entries.append(SafetensorsEntry(name: "heatmaps", shape: [samples] + program.graph[program.graph.outputs[1]].type.dims, values: .float32(maps)))
      }
      let shapes = Dictionary(uniqueKeysWithValues: program.graph.parameters.map { ($0.name, $0.shape) })
      for (name, gradient) in session.gradients {
        entries.append(SafetensorsEntry(name: "grad.\(name)", shape: shapes[name]!, values: .float32(gradient)))
      }
      for (name, tensor) in session.weights where name.contains("running") {
        entries.append(SafetensorsEntry(name: "after.\(name)", shape: tensor.shape, values: .float32(tensor.values)))
      }
      try SafetensorsWriter.write(entries, metadata: ["isnetc.model": classifier.name], to: output)
      print(String(format: "step: loss %.9g (L_C %.9g, L_H %.9g), %d gradients → %@", step.total, step.classificationLoss, step.heatmapLoss, session.gradients.count, output))
    } catch let error as ExitCode {
      throw error
    } catch {
      throw fail(error)
    }
  }
}

extension Step {
  /// Each sample's image with its background replaced as training does, the draws of
  /// sample b from MaskFill.seed(selection seed, epoch 0, b).
  func teacherImages(_ batch: Batch, fill: MaskFill, classifier: Graph) -> [Float] {
    let input = classifier[classifier.inputIDs[0]]
    guard case .input(let range) = input.op, let masks = batch.masks else { return batch.images }
    let perImage = batch.images.count / batch.samples
    let perMask = masks.count / batch.samples
    return (0..<batch.samples).flatMap { b in
      fill.apply(
        to: Array(batch.images[b * perImage..<(b + 1) * perImage]), mask: Array(masks[b * perMask..<(b + 1) * perMask]),
        channels: input.type.dims[0], range: Float(range.low)...Float(range.high), seed: MaskFill.seed(selectionSeed, epoch: 0, sample: b))
    }
  }
}
