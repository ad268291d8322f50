import Foundation
import GraphIR
import Runtime
import SeededRandom
import TensorFiles
import Testing
import TestSupport

@testable import Training

/// Explanation distillation's pieces: the loss (its value on known cases, its gradient
/// against finite differences and against a float64 numpy implementation), the class
/// choice, the per-sample ε draw and the teacher's masked input.
@Suite struct DistillationLossTests {
  func randomMaps(_ count: Int, seed: UInt64) -> [Double] {
    var random = SplitMix64(seed: seed)
    return (0..<count).map { _ in random.uniform(-1, 1) }
  }

  @Test func scalesWhilePooledSideIsAtLeastEight() {
    let loss = DistillationLoss()
    #expect(loss.factors(height: 64, width: 64) == [1, 2, 4, 8])
    #expect(loss.factors(height: 224, width: 224) == [1, 2, 4, 8, 16])
    #expect(loss.factors(height: 28, width: 28) == [1, 2])
    #expect(loss.factors(height: 7, width: 7) == [1])
    #expect(DistillationLoss(pyramid: false).factors(height: 64, width: 64) == [1])
  }

  /// Equal maps cost nothing; a map k times the teacher's costs |√k − 1/√k| at every scale
  /// (the normalisation by the geometric mean keeps the scale in the loss); against a
  /// zero student g = δ: the loss is large but finite, and so is its gradient.
  @Test func equalMapsCostNothingAndScaleIsPenalised() {
    let loss = DistillationLoss()
    let t = randomMaps(2 * 2 * 16 * 16, seed: 1)
    #expect(loss.evaluate(student: t, teacher: t, pairs: 2, channels: 2, height: 16, width: 16, gradient: false).loss == 0)
    for k in [0.25, 2.0, 9.0] {
      let value = loss.evaluate(student: t.map { $0 * k }, teacher: t, pairs: 2, channels: 2, height: 16, width: 16, gradient: false).loss
      let expected = abs(k.squareRoot() - 1 / k.squareRoot())
      #expect(abs(value - expected) <= 1e-9 * expected, "k = \(k): \(value), expected \(expected)")
    }
    let zero = loss.evaluate(student: t.map { _ in 0 }, teacher: t, pairs: 2, channels: 2, height: 16, width: 16, gradient: true)
    #expect(zero.loss.isFinite && zero.loss > 1e6)
    #expect(zero.gradient!.allSatisfy { $0.isFinite })
  }

  /// Each map divided by its own mean |R|: the student's scale costs nothing, its pattern
  /// does. Up to δ: m + δ instead of m moves ℓ by about δ/m relative (≈ 2e-8 for the
  /// map scaled by 0.01, mean |R| ≈ 0.005).
  @Test func separateNormalizationIsBlindToTheStudentsScale() {
    let loss = DistillationLoss(normalization: .separate)
    let t = randomMaps(2 * 16 * 16, seed: 6), other = randomMaps(2 * 16 * 16, seed: 7)
    func value(_ s: [Double]) -> Double { loss.evaluate(student: s, teacher: t, pairs: 1, channels: 2, height: 16, width: 16, gradient: false).loss }
    #expect(value(t.map { $0 * 7 }) <= 1e-9)
    #expect(abs(value(other.map { $0 * 0.01 }) - value(other)) <= 1e-7 * value(other))
    #expect(value(other) > 0.5)
  }

  /// Central differences in float64 at random maps, step h = 1e-5: the loss is piecewise
  /// smooth (|S − T| kinks are at least ~1e-4 away at these random points, so no step
  /// crosses one); the rounding error of the difference is about |L|·u/h ≈ 1e-11 and the
  /// truncation error h²·|L'''| is smaller still, so 1e-9 + 1e-6·|g| is a strict bound.
  @Test(arguments: [true, false], DistillationLoss.Normalization.allCases)
  func gradientMatchesFiniteDifferences(pyramid: Bool, normalization: DistillationLoss.Normalization) {
    let loss = DistillationLoss(pyramid: pyramid, normalization: normalization)
    let (c, h, w, pairs) = (2, 18, 17, 2)  // odd sides: the pools drop a remainder
    let s = randomMaps(pairs * c * h * w, seed: 2), t = randomMaps(pairs * c * h * w, seed: 3)
    let shallow = DistillationLoss(pyramid: pyramid, minimumSide: 4, normalization: normalization)
    for loss in [loss, shallow] {
      let g = loss.evaluate(student: s, teacher: t, pairs: pairs, channels: c, height: h, width: w, gradient: true).gradient!
      for i in stride(from: 0, to: s.count, by: 37) {
        var plus = s, minus = s
        plus[i] += 1e-5
        minus[i] -= 1e-5
        let f = { (x: [Double]) in loss.evaluate(student: x, teacher: t, pairs: pairs, channels: c, height: h, width: w, gradient: false).loss }
        let difference = (f(plus) - f(minus)) / 2e-5
        #expect(abs(difference - g[i]) <= 1e-9 + 1e-6 * abs(g[i]), "[\(i)]: gradient \(g[i]), difference \(difference)")
      }
    }
  }

  /// Against scripts/distillation_loss_reference.py on the reference step's heatmaps
  /// (student: class 0 of both samples, teacher: class 1; 3 × 64 × 64, four scales). Both
  /// sum n ≤ 12,288 terms in float64 in different orders: within 2·γ_n ≈ 2.7e-12 relative
  /// (u = 2⁻⁵³), plus a few u from the quotients and square roots; 1e-10 holds with margin.
  @Test func matchesTheNumpyImplementationOnTheReferenceStep() throws {
    let fixture = try SafetensorsFile(path: Repository.path("Tests/Fixtures/train/tiny.train.safetensors"))
    let heatmaps = try fixture.doubles("heatmaps")  // [2, 3, 3, 64, 64]
    let perClass = 3 * 64 * 64
    func maps(_ k: Int) -> [Double] {
      var out: [Double] = []
      for b in 0..<2 { out += heatmaps[((b * 3 + k) * perClass)..<((b * 3 + k + 1) * perClass)] }
      return out
    }
    let (s, t) = (maps(0), maps(1))
    let (value, gradient) = DistillationLoss().evaluate(student: s, teacher: t, pairs: 2, channels: 3, height: 64, width: 64, gradient: true)
    let g = try #require(gradient)
    func close(_ a: Double, _ b: Double) -> Bool { abs(a - b) <= 1e-10 * abs(b) }
    #expect(close(value, 0.96739508015417686))
    #expect(close(g.reduce(0) { $0 + $1 * $1 }.squareRoot(), 36.006185061430855))
    #expect(close(g.reduce(0) { $0 + abs($1) }, 4602.7731040817289))
    let entries: [Int: Double] = [
      0: 0.41150666624964383, 4095: 0.048651017574478393, 5000: 0.0093993895373952752, 12345: -0.12828498191770768,
      20000: 0.16311151620974546, 24575: 0.22096848886022682,
    ]
    for (i, expected) in entries {
      let value = g[i]
      #expect(close(value, expected), "gradient[\(i)]: \(value), numpy \(expected)")
    }
  }
}

@Suite struct DistillationChoiceTests {
  @Test func classesFollowTheTeacher() {
    // Teacher's top class: 2, 0, 1, 2 …
    let samples = 400
    let logits: [Float] = (0..<samples).flatMap { b -> [Float] in
      let top = [2, 0, 1, 2][b % 4]
      return (0..<3).map { $0 == top ? 5 : 0 }
    }
    let tops = (0..<samples).map { [2, 0, 1, 2][$0 % 4] }
    let labels = (0..<samples).map { $0 % 3 }
    #expect(DistillationClasses.top.choose(teacherLogits: logits, labels: labels, classes: 3, seed: 1) == tops)
    #expect(DistillationClasses.label.choose(teacherLogits: logits, labels: labels, classes: 3, seed: 1) == labels)
    #expect(DistillationClasses.all.choose(teacherLogits: logits, labels: labels, classes: 3, seed: 1) == nil)
    let drawn = DistillationClasses.stochastic.choose(teacherLogits: logits, labels: labels, classes: 3, seed: 1)!
    #expect(drawn == DistillationClasses.stochastic.choose(teacherLogits: logits, labels: labels, classes: 3, seed: 1)!)
    #expect(drawn != DistillationClasses.stochastic.choose(teacherLogits: logits, labels: labels, classes: 3, seed: 2)!)
    let kept = zip(drawn, tops).filter { $0 == $1 }.count
    // Binomial(400, ½): 200 ± 4.5σ (σ = 10).
    #expect((155...245).contains(kept), "the top class kept \(kept) of 400 times")
    #expect(drawn.allSatisfy { (0..<3).contains($0) })
  }

  @Test func epsilonsAreLogUniformInTheRangeAndSeeded() {
    let e = DistillationSettings.epsilons(range: [0.01, 0.1], samples: 2000, seed: 4)
    #expect(e == DistillationSettings.epsilons(range: [0.01, 0.1], samples: 2000, seed: 4))
    #expect(e.allSatisfy { $0 >= 0.01 * (1 - 1e-6) && $0 <= 0.1 * (1 + 1e-6) })
    // Log-uniform: half of the draws below the geometric mean √(0.01·0.1) ≈ 0.0316.
    let below = e.filter { Double($0) < (0.001).squareRoot() }.count
    #expect((900...1100).contains(below), "\(below) of 2000 below the geometric mean")
    #expect(DistillationSettings.epsilons(range: [0.05, 0.05], samples: 3, seed: 1).allSatisfy { abs($0 - 0.05) <= 1e-8 })
  }

  @Test func maskFillReplacesOnlyTheBackground() {
    let (c, plane) = (3, 16)
    var random = SplitMix64(seed: 5)
    let image = (0..<(c * plane)).map { _ in Float(random.uniform(0.2, 0.8)) }
    let mask: [Float] = (0..<plane).map { $0 < 6 ? 1 : 0 }
    #expect(MaskFill.none.apply(to: image, mask: mask, channels: c, range: 0...1, seed: 1) == image)
    let zero = MaskFill.zero.apply(to: image, mask: mask, channels: c, range: 0...1, seed: 1)
    let noise = MaskFill.noise.apply(to: image, mask: mask, channels: c, range: -1...2, seed: 1)
    #expect(noise == MaskFill.noise.apply(to: image, mask: mask, channels: c, range: -1...2, seed: 1))
    #expect(noise != MaskFill.noise.apply(to: image, mask: mask, channels: c, range: -1...2, seed: 2))
    for i in image.indices {
      if mask[i % plane] > 0 {
        #expect(zero[i] == image[i] && noise[i] == image[i])
      } else {
        #expect(zero[i] == 0)
        #expect(noise[i] >= -1 && noise[i] <= 2)
      }
    }
    // Per channel and pixel: the three channels of a background pixel differ.
    #expect(Set([noise[10], noise[plane + 10], noise[2 * plane + 10]]).count == 3)
  }
}

/// The distillation loss's gradient through the student's LRP block (second order: the
/// heatmaps are themselves built from the weights) against finite differences, with each
/// sample's own ε, by GradientCheckTests' method.
@Suite struct DistillationGradientTests {
  struct Variant: CustomTestStringConvertible, Sendable {
    var model: String
    var classes: DistillationClasses
    var rule: LRPOptions.InputRule
    var normalization: DistillationLoss.Normalization
    /// The batch statistics differentiated (the true function) or detached (frozen for
    /// the differences, as GradientCheckTests does).
    var exact: Bool
    var testDescription: String { "\(model), \(classes), \(rule) input, \(normalization), \(exact ? "exact" : "detached") statistics" }
  }

  /// ε near 0.3, as GradientCheckTests' ε-input-rule check: at 0.1 the float32 finite
  /// differences of the DenseNet's first layer scatter across step sizes (ε-rule signs
  /// crossed), hiding agreement or disagreement alike. The separate normalisation divides
  /// each map by its own mean |R|, which on the DenseNet amplifies those crossings (its
  /// conv0 differences scatter from −0.04 to −0.13 around the analytic −0.10), so it is
  /// checked on the VGG and ResNet nets, whose differences are steady.
  @Test(arguments: [
    Variant(model: "densenet", classes: .stochastic, rule: .epsilon, normalization: .geometric, exact: false),
    Variant(model: "densenet", classes: .stochastic, rule: .epsilon, normalization: .geometric, exact: true),
    Variant(model: "vgg", classes: .stochastic, rule: .epsilon, normalization: .separate, exact: false),
    Variant(model: "vgg", classes: .all, rule: .zb, normalization: .separate, exact: true),
    Variant(model: "resnet", classes: .stochastic, rule: .epsilon, normalization: .separate, exact: true),
  ])
  func gradientThroughTheStudentsLRPBlockMatchesFiniteDifferences(_ v: Variant) throws {
    let lrp = LRPOptions(epsilon: 0.3, inputRule: v.rule)
    let checker = GradientCheckTests()
    let probe = try checker.setup(v.model, heatmaps: lrp)
    let dims = probe.session.graph[probe.session.graph.inputIDs[0]].type.dims
    let heatmapCount = probe.seeds[1].count
    var random = SplitMix64(seed: 21)
    // A teacher's maps: fixed, with the heatmaps' shape and sign structure of real ones.
    let teacherMaps = (0..<heatmapCount).map { _ in Float(random.uniform(-0.05, 0.1)) }
    let teacherLogits = (0..<probe.seeds[0].count).map { _ in Float(random.uniform(-1, 1)) }
    var settings = DistillationSettings(teacherModel: "t.isnet", teacherWeights: "t.safetensors", classes: v.classes, epsilonRange: nil)
    settings.normalization = v.normalization
    let objective = DistillationObjective(settings: settings, kind: .softmax, lrp: lrp)
    let batch = Batch(images: probe.input, masks: nil, labels: [0, 1, 2], samples: probe.samples)
    let rows = try checker.check(v.model, heatmaps: lrp, differentiatingStatistics: v.exact, objective: { outputs in
      let (result, seeds) = try objective.evaluate(
        student: (outputs[0], outputs[1]), teacher: (teacherLogits, teacherMaps), batch: batch, dims: dims, seed: 9, gradient: true)
      return (result.total, seeds)
    }, prepare: { $0.sampleEpsilons = [0.3, 0.4, 0.35] })
    #expect(rows.count >= 4)
    for (name, analytic, difference, error) in rows {
      #expect(error <= 2e-2, "\(v.testDescription): \(name): gradient·v \(analytic), finite difference \(difference)")
    }
  }
}

/// A distillation run end to end: the teacher stays as it was (its maps of a batch are the
/// same bits before and after the student trains), the student's head is the teacher's and
/// stays fixed, the rest of the student moves, the same seed gives the same bits and a
/// resumed run continues exactly.
@Suite struct DistillationTrainerTests {
  let support = TrainerTests()

  func settings(epochs: Int, freezeHead: Bool = true) -> TrainingSettings {
    var s = TrainingSettings(epochs: epochs, warmupEpochs: 0, batchSize: 4, seed: 5, threads: testThreads)
    s.heatmapWeight = 0
    s.distillation = DistillationSettings(teacherModel: "teacher.isnet", teacherWeights: "teacher.safetensors", freezeHead: freezeHead)
    return s
  }

  @Test func teacherAndHeadStayFixedAndRunsAreDeterministic() throws {
    let graph = try support.classifier()
    let data = TrainerTests.ChestSamples(count: 10, seed: 2, size: 32)
    let teacherWeights = Initialization.weights(for: graph, seed: 8)
    let teacher = TeacherSource(classifier: graph, weights: teacherWeights, source: "teacher")
    let probe = try Teacher(classifier: graph, weights: teacherWeights, source: "teacher", lrp: LRPOptions(), batchSize: 4, threads: testThreads)
    let images = (0..<4).flatMap { data.samples[$0].image }
    let before = try probe.explain(images, samples: 4, epsilons: [0.01, 0.02, 0.05, 0.1])

    let (a, b, resumed) = (support.temporaryDirectory(), support.temporaryDirectory(), support.temporaryDirectory())
    func train(_ epochs: Int, _ directory: String) throws -> RunState {
      let trainer = try Trainer(
        classifier: graph, settings: settings(epochs: epochs), weights: Initialization.weights(for: graph, seed: 1), weightsSource: "initial",
        train: data, validation: data, directory: directory, teacher: teacher)
      return try trainer.run { _ in }
    }
    let state = try train(2, a)
    #expect(state.history.count == 2 && state.history.allSatisfy { $0.trainHeatmapLoss > 0 && $0.validationLoss != nil })
    #expect(state.bestCriterion == "validation loss (L_D + W·L_C)")
    let after = try probe.explain(images, samples: 4, epsilons: [0.01, 0.02, 0.05, 0.1])
    #expect(before.heatmaps == after.heatmaps && before.logits == after.logits)
    // The trainer's own teacher: the same maps as a fresh one after two epochs.
    let (_, trained, _) = try Checkpoint.read(directory: a)
    for suffix in ["weight", "bias"] {
      #expect(trained["classifier.\(suffix)"]!.values == teacherWeights["classifier.\(suffix)"]!.values, "the head's \(suffix) moved")
    }
    let initial = Initialization.weights(for: graph, seed: 1)
    #expect(trained["conv0.weight"]!.values != initial["conv0.weight"]!.values, "the student did not train")

    _ = try train(2, b)
    #expect(try support.checkpointBits(a) == (try support.checkpointBits(b)))
    _ = try train(1, resumed)
    let again = try Trainer.resume(classifier: graph, directory: resumed, train: data, validation: data, epochs: 2, teacher: teacher)
    _ = try again.run { _ in }
    #expect(try support.checkpointBits(a) == (try support.checkpointBits(resumed)))
  }

  @Test func badDistillationSetupsAreRefusedByName() throws {
    let graph = try support.classifier()
    let data = TrainerTests.ChestSamples(count: 4, seed: 2, size: 32)
    func start(_ s: TrainingSettings, teacher: TeacherSource?) throws {
      _ = try Trainer(
        classifier: graph, settings: s, weights: Initialization.weights(for: graph, seed: 1), weightsSource: "initial", train: data,
        validation: nil, directory: support.temporaryDirectory(), teacher: teacher)
    }
    #expect(throws: TrainingFailure.self) { try start(settings(epochs: 1), teacher: nil) }
    var bad = settings(epochs: 1)
    bad.distillation!.epsilonRange = [0.1, 0.01]
    let error = #expect(throws: TrainingFailure.self) { try start(bad, teacher: TeacherSource(classifier: graph, weights: [:], source: "t")) }
    #expect("\(error!)".contains("--epsilon-range"))
    var weights = Initialization.weights(for: graph, seed: 8)
    weights["classifier.weight"] = HostTensor(shape: [2, 2], values: [0, 0, 0, 0])
    let head = #expect(throws: TrainingFailure.self) { try start(settings(epochs: 1), teacher: TeacherSource(classifier: graph, weights: weights, source: "t")) }
    #expect("\(head!)".contains("classifier.weight"))
  }
}
