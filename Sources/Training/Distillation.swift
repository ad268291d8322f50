/// Explanation distillation (Bassi et al., "Training with Explanations Alone"): a student
/// classifier learns only to make its LRP heatmaps match those of a frozen teacher that
/// sees each image with its background replaced (MaskFill), so it cannot have learned a
/// background shortcut. The authors train on that distance alone; by default a small
/// cross-entropy term joins it (`crossEntropyWeight`: without it the student did not learn
/// the classes on two of three benchmarks, docs/training.md). No mask is needed at run
/// time, and the deployed student is the plain classifier.
///
/// Per step: one ε per sample, drawn log-uniformly and shared by teacher and student (the
/// authors' "variable ε": the student matches a family of explanations, not one); the
/// teacher runs forward and its LRP block in evaluation mode on the masked images (a
/// constant); the student runs forward and its LRP block in training mode on the raw
/// images; for each sample one class is explained (by default the teacher's top class
/// half of the time, another class otherwise) and DistillationLoss compares the two maps.

import GraphIR
import Runtime
import SeededRandom
import Foundation

/// Which classes' heatmaps are matched.
public enum DistillationClasses: String, Sendable, Codable, CaseIterable {
  /// One per sample: the teacher's top class with probability ½, else a uniformly drawn
  /// other class (the authors' rule; labels unused).
  case stochastic
  /// The label's class.
  case label
  /// The teacher's top class.
  case top
  /// Every class (K pairs per sample).
  case all

  /// The class explained for each sample (nil: all of them), from the teacher's logits.
  /// The draw is a function of (seed, sample) alone.
  public func choose(teacherLogits logits: [Float], labels: [Int], classes: Int, seed: UInt64) -> [Int]? {
    let samples = logits.count / classes
    func top(_ b: Int) -> Int {
      let row = logits[b * classes..<(b + 1) * classes]
      return row.indices.max { row[$0] < row[$1] }! - row.startIndex
    }
    switch self {
    case .all: return nil
    case .label: return labels
    case .top: return (0..<samples).map(top)
    case .stochastic:
      return (0..<samples).map { b in
        var random = SplitMix64(seed: seed ^ (UInt64(b) &+ 1) &* 0xD1B5_4A32_D192_ED03)
        let best = top(b)
        if classes == 1 || random.bool() { return best }
        let other = random.int(0...(classes - 2))
        return other < best ? other : other + 1
      }
    }
  }
}

/// A distillation run's settings (stored in its checkpoint).
public struct DistillationSettings: Sendable, Codable, Equatable {
  /// The teacher's model file (.isnet) and weights, as given.
  public var teacherModel: String
  public var teacherWeights: String
  /// What replaces the background of the teacher's input.
  public var teacherInput: MaskFill
  public var classes: DistillationClasses
  /// ε of the LRP rule, per sample log-uniform in [low, high]; nil: the fixed `lrp.epsilon`.
  public var epsilonRange: [Double]?
  /// The weight of a cross-entropy term on the labels (0: explanations alone, the
  /// authors'; docs/training.md has why the default is not 0).
  public var crossEntropyWeight: Double
  /// Copy the teacher's last layer into the student and keep it fixed.
  public var freezeHead: Bool
  /// Compare average-pooled versions of the maps too (DistillationLoss).
  public var pyramid: Bool
  /// How each pair of maps is brought to a common scale.
  public var normalization: DistillationLoss.Normalization = .separate
  /// Differentiate the batch statistics the student's LRP block reads (the true gradient;
  /// the ISNet loss's reference detaches them).
  public var exactStatistics: Bool = false

  /// The LRP rule of the input layer the distillation defaults to: the ε-rule, whose
  /// relevance is 0 where the teacher's input is 0 (Zᴮ gives zeroed pixels relevance too).
  public static let inputRule = LRPOptions.InputRule.epsilon
  /// The learning rate a distillation run defaults to (Adam).
  public static let learningRate = 1e-3

  public init(
    teacherModel: String, teacherWeights: String, teacherInput: MaskFill = .zero, classes: DistillationClasses = .stochastic,
    epsilonRange: [Double]? = [0.01, 0.1], crossEntropyWeight: Double = 0.3, freezeHead: Bool = true, pyramid: Bool = true
  ) {
    self.teacherModel = teacherModel
    self.teacherWeights = teacherWeights
    self.teacherInput = teacherInput
    self.classes = classes
    self.epsilonRange = epsilonRange
    self.crossEntropyWeight = crossEntropyWeight
    self.freezeHead = freezeHead
    self.pyramid = pyramid
  }

  enum CodingKeys: String, CodingKey {
    case teacherModel, teacherWeights, teacherInput, classes, epsilonRange, crossEntropyWeight, freezeHead, pyramid, normalization
    case exactStatistics
  }

  /// Settings stored before one existed decode it at its default.
  public init(from decoder: Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    let d = DistillationSettings(teacherModel: "", teacherWeights: "")
    teacherModel = try c.decode(String.self, forKey: .teacherModel)
    teacherWeights = try c.decode(String.self, forKey: .teacherWeights)
    teacherInput = try c.decodeIfPresent(MaskFill.self, forKey: .teacherInput) ?? d.teacherInput
    classes = try c.decodeIfPresent(DistillationClasses.self, forKey: .classes) ?? d.classes
    epsilonRange = try c.decodeIfPresent([Double].self, forKey: .epsilonRange)
    crossEntropyWeight = try c.decodeIfPresent(Double.self, forKey: .crossEntropyWeight) ?? d.crossEntropyWeight
    freezeHead = try c.decodeIfPresent(Bool.self, forKey: .freezeHead) ?? d.freezeHead
    pyramid = try c.decodeIfPresent(Bool.self, forKey: .pyramid) ?? d.pyramid
    normalization = try c.decodeIfPresent(DistillationLoss.Normalization.self, forKey: .normalization) ?? d.normalization
    exactStatistics = try c.decodeIfPresent(Bool.self, forKey: .exactStatistics) ?? d.exactStatistics
  }

  public var problems: [String] {
    var found: [String] = []
    if let r = epsilonRange, !(r.count == 2 && r[0] > 0 && r[0] <= r[1] && r[1].isFinite) {
      found.append("--epsilon-range must be LOW,HIGH with 0 < LOW ≤ HIGH, got \(r.map { "\($0)" }.joined(separator: ","))")
    }
    if !(crossEntropyWeight >= 0 && crossEntropyWeight.isFinite) { found.append("--distill-ce must not be negative, got \(crossEntropyWeight)") }
    return found
  }

  /// Each sample's ε: 10^u, u uniform in [log10 low, log10 high], a function of (seed, sample).
  public static func epsilons(range: [Double], samples: Int, seed: UInt64) -> [Float] {
    let (low, high) = (log10(range[0]), log10(range[1]))
    return (0..<samples).map { b in
      var random = SplitMix64(seed: seed ^ (UInt64(b) &+ 1) &* 0x94D0_49BB_1331_11EB)
      return Float(pow(10, random.uniform(low, high)))
    }
  }
}

/// The frozen teacher: its classifier with the LRP block, run in evaluation mode.
public final class Teacher {
  public let graph: Graph
  let session: InferenceSession

  public init(classifier: Graph, weights: WeightTable, source: String, lrp: LRPOptions, batchSize: Int, threads: Int) throws {
    do {
      graph = try classifier.lowered(for: .explain(lrp))
    } catch { throw TrainingFailure("the teacher \(classifier.name): \(error)") }
    // The targets with direct forward convolutions, as a training step computes heatmaps.
    session = try InferenceSession(graph: graph, weights: weights, weightsSource: source, batchSize: batchSize, threads: threads, winograd: false)
  }

  /// For a block that explains one class per sample: chooses the classes from the
  /// teacher's logits (InferenceSession.explainedClasses).
  public var explainedClasses: ClassChooser? {
    get { session.explainedClasses }
    set { session.explainedClasses = newValue }
  }
  /// The classes the last `explain` explained (nil: every class).
  public var chosenClasses: [Int]? { session.chosenClasses }

  /// The teacher's logits [B, K] and heatmaps [B, K, C, H, W] (one class per sample:
  /// [B, 1, C, H, W]) of `images` (already masked).
  public func explain(_ images: [Float], samples: Int, epsilons: [Float]?) throws -> (logits: [Float], heatmaps: [Float]) {
    session.sampleEpsilons = epsilons
    let logits = try session.run(images, samples: samples)
    return (logits, session.values(of: graph.outputs[1], samples: samples))
  }

  /// Checks that the teacher can teach `student`: the same input and classes.
  public static func check(teacher: Graph, student: Graph) throws {
    let (ti, si) = (teacher[teacher.inputIDs[0]].type, student[student.inputIDs[0]].type)
    guard ti == si else { throw TrainingFailure("the teacher '\(teacher.name)' takes \(ti), the student '\(student.name)' \(si): their maps could not be compared") }
    let (tk, sk) = (teacher[teacher.outputs[0]].type, student[student.outputs[0]].type)
    guard tk == sk else { throw TrainingFailure("the teacher '\(teacher.name)' has outputs \(tk), the student '\(student.name)' \(sk)") }
  }
}

/// One distillation step's loss and its gradients by the student's outputs.
public struct DistillationObjective: Sendable {
  public var settings: DistillationSettings
  public var kind: OutputKind
  public var lrp: LRPOptions
  public var loss: DistillationLoss { DistillationLoss(pyramid: settings.pyramid, normalization: settings.normalization) }

  public init(settings: DistillationSettings, kind: OutputKind, lrp: LRPOptions) {
    self.settings = settings
    self.kind = kind
    self.lrp = lrp
  }

  /// Teacher, student forward, loss and (when `backward`) the student's backward. `seed`
  /// draws the ε and the stochastic classes.
  public func step(_ session: TrainingSession, teacher: Teacher, _ batch: Batch, seed: UInt64, backward: Bool = true) throws -> StepResult {
    let epsilons = settings.epsilonRange.map { DistillationSettings.epsilons(range: $0, samples: batch.samples, seed: seed) }
    let (taught, chosen) = try teach(teacher, batch, seed: seed, epsilons: epsilons)
    session.sampleEpsilons = epsilons
    session.explainedClasses = chosen.map { classes in { _ in classes } }
    defer { session.explainedClasses = nil }
    let outputs = try session.forward(batch.images, samples: batch.samples)
    let dims = session.graph[session.graph.inputIDs[0]].type.dims
    let (result, seeds) = try evaluate(
      student: (outputs[0], outputs[1]), teacher: taught, batch: batch, dims: dims, seed: seed, gradient: backward, selected: chosen)
    if backward { try session.backward(seeds: seeds) }
    return result
  }

  /// The teacher's logits and maps of the batch's teacher images and, when its block
  /// explains one class per sample, the classes it chose from its logits (the student's
  /// block then explains the same ones).
  public func teach(_ teacher: Teacher, _ batch: Batch, seed: UInt64, epsilons: [Float]?) throws -> (
    (logits: [Float], heatmaps: [Float]), chosen: [Int]?
  ) {
    guard let teacherImages = batch.teacherImages else { throw RuntimeError("internal error: a distillation batch without the teacher's images") }
    let (rule, labels, samples) = (settings.classes, batch.labels, batch.samples)
    teacher.explainedClasses = { logits in rule.choose(teacherLogits: logits, labels: labels, classes: logits.count / samples, seed: seed) ?? [] }
    defer { teacher.explainedClasses = nil }
    let taught = try teacher.explain(teacherImages, samples: samples, epsilons: epsilons)
    return (taught, teacher.chosenClasses)
  }

  /// The loss of the student's logits and heatmaps against the teacher's, with the
  /// adjoints of the student's two outputs when `gradient`. `selected`: both maps are
  /// already one per sample, of these classes.
  public func evaluate(
    student: (logits: [Float], heatmaps: [Float]), teacher: (logits: [Float], heatmaps: [Float]), batch: Batch, dims: [Int], seed: UInt64, gradient: Bool,
    selected: [Int]? = nil
  ) throws -> (StepResult, seeds: [[Float]]) {
    let samples = batch.samples
    let classes = student.logits.count / samples
    let perClass = dims.reduce(1, *)
    let maps = selected == nil ? classes : 1
    guard student.heatmaps.count == samples * maps * perClass, teacher.heatmaps.count == student.heatmaps.count else {
      throw RuntimeError("internal error: heatmaps of \(student.heatmaps.count) and \(teacher.heatmaps.count) values for \(samples) samples")
    }
    let chosen = selected ?? settings.classes.choose(teacherLogits: teacher.logits, labels: batch.labels, classes: classes, seed: seed)
    if let chosen, let bad = chosen.first(where: { !(0..<classes).contains($0) }) {
      throw RuntimeError("--explain label: label \(bad) is not one of the model's \(classes) classes")
    }
    // The explained maps, [pairs, C, H, W], and where each starts in the heatmaps.
    let starts: [Int]
    if selected != nil {
      starts = (0..<samples).map { $0 * perClass }
    } else {
      starts = chosen.map { c in (0..<samples).map { ($0 * classes + c[$0]) * perClass } } ?? (0..<samples * classes).map { $0 * perClass }
    }
    let s = starts.flatMap { student.heatmaps[$0..<$0 + perClass].map(Double.init) }
    let t = starts.flatMap { teacher.heatmaps[$0..<$0 + perClass].map(Double.init) }
    let (distillation, dS) = loss.evaluate(
      student: s, teacher: t, pairs: starts.count, channels: dims[0], height: dims[1], width: dims[2], gradient: gradient)
    // Cross-entropy on the labels: reported always, trained on only with a weight.
    let classification = Objective.classificationLoss(logits: student.logits, batch: batch, kind: kind, positiveWeights: nil)
    let w = settings.crossEntropyWeight
    var result = StepResult(
      total: distillation + w * classification.loss, classificationLoss: classification.loss,
      heatmapLoss: distillation, logits: student.logits, heatmaps: student.heatmaps, meanBackground: 0)
    if let masks = batch.masks {
      let explained = chosen == nil ? classes : 1
      (result.foregroundRelevance, result.relevanceTotals) = s.withUnsafeBufferPointer {
        Objective.relevanceSums($0, masks: masks.map(Double.init), batch: samples, classes: explained, perClass: perClass)
      }
    }
    guard gradient, let dS else { return (result, []) }
    var heatmapSeed = [Float](repeating: 0, count: student.heatmaps.count)
    for (pair, start) in starts.enumerated() {
      for i in 0..<perClass { heatmapSeed[start + i] = Float(dS[pair * perClass + i]) }
    }
    let logitSeed = classification.gradient.map { Float(w) * Float($0) }
    return (result, [logitSeed, heatmapSeed])
  }
}
