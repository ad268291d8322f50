import Foundation
import GraphIR
import LRPTransform
import Runtime
import TensorFiles
import Testing
import TestSupport

@testable import Training

/// One training step against the reference's (tiny in the project; deep when
/// ISNETC_REFERENCE_DIR names the full fixtures): logits and heatmaps with batch statistics,
/// the losses, every parameter's gradient through classifier and LRP block, and the
/// updated running statistics.
///
/// Bounds. Values computed by sums alone (logits, running statistics, losses) are held to
/// float32 rounding along the classifier's longest chain of sums plus the batch-statistics
/// sums (`Float32Bound`). Heatmaps and gradients are ill-conditioned in float32: the
/// ε-rule's 1/z'² and ReLU gates within rounding of zero (in deep, one BN output of
/// denselayer22 is 1.3e-7) amplify rounding by up to about 10⁵, so which OpenBLAS kernels
/// run (they differ by CPU) moves them far more than a chain bound. The test measures that
/// condition on the CPU running it: the same step with every weight moved by one float32
/// ulp (random signs, four draws); rounding of the whole step perturbs like a few ulps, so
/// heatmaps and gradients are held to 4× the measured change (never less than the chain
/// bound).
@Suite struct ReferenceStepTests {
  static var externalDirectory: String? { ProcessInfo.processInfo.environment["ISNETC_REFERENCE_DIR"] }

  func runStep(_ name: String, weights weightsPath: String, train trainPath: String, perturbation: Double = 0, seed: UInt64 = 0) throws -> (session: TrainingSession, fixture: SafetensorsFile, step: StepResult) {
    let program = try compileModel(name).withLRPBlock().reverseMode()
    let fixture = try SafetensorsFile(path: trainPath)
    let shape = fixture.info("input")!.shape
    let weights = perturbed(try WeightFiles.load(path: weightsPath), by: perturbation, seed: seed)
    let session = try TrainingSession(program: program, weights: weights, weightsSource: weightsPath, batchSize: shape[0], threads: testThreads)
    let objective = Objective(heatmapWeight: 0.7, heatmapLoss: HeatmapLoss(scale: 10, stabilizer: 1e-4, normalization: .standardDeviation), kind: .softmax)
    let batch = Batch(
      images: try fixture.floats("input"), masks: try fixture.floats("mask"),
      labels: try fixture.integers("labels").map(Int.init), samples: shape[0])
    let step = try objective.step(session, batch)
    return (session, fixture, step)
  }

  /// Max |a − e| relative to max |e|.
  func relative(_ actual: [Float], _ expected: [Float]) -> Double {
    let scale = expected.map { abs(Double($0)) }.max() ?? 0
    let worst = zip(actual, expected).map { abs(Double($0) - Double($1)) }.max() ?? 0
    return worst / max(scale, 1e-30)
  }

  static func group(_ parameter: String) -> String {
    parameter.hasSuffix(".weight") && parameter.contains("conv") ? "conv weights" : parameter.hasPrefix("classifier") ? "classifier" : parameter.hasSuffix(".weight") ? "bn γ" : "bn β"
  }

  /// Per group, ‖ours − reference‖₂ / ‖reference‖₂ over the group's tensors (L2: a gate
  /// flipped at one element moves that element's gradient by a jump, not the whole group).
  func groupErrors(_ gradients: [String: [Float]], against reference: [String: [Float]]) -> [String: Double] {
    var byGroup: [String: ([String: [Float]], [String: [Float]])] = [:]
    for (parameter, expected) in reference {
      guard let ours = gradients[parameter] else { continue }
      byGroup[Self.group(parameter), default: ([:], [:])].0[parameter] = ours
      byGroup[Self.group(parameter), default: ([:], [:])].1[parameter] = expected
    }
    return byGroup.mapValues { globalError($0.0, $0.1) }
  }

  /// The fixture's gradients by parameter name.
  func referenceGradients(_ fixture: SafetensorsFile) throws -> [String: [Float]] {
    var table: [String: [Float]] = [:]
    for tensor in fixture.names where tensor.hasPrefix("grad.") { table[String(tensor.dropFirst(5))] = try fixture.floats(tensor) }
    return table
  }

  /// ‖ours − reference‖₂ / ‖reference‖₂ over every gradient.
  func globalError(_ ours: [String: [Float]], _ reference: [String: [Float]]) -> Double {
    var difference = 0.0, norm = 0.0
    for (name, expected) in reference {
      guard let actual = ours[name] else { continue }
      for (a, e) in zip(actual, expected) {
        difference += (Double(a) - Double(e)) * (Double(a) - Double(e))
        norm += Double(e) * Double(e)
      }
    }
    return (difference / norm).squareRoot()
  }

  func check(_ name: String, weights: String, train: String) throws {
    let (session, fixture, step) = try runStep(name, weights: weights, train: train)
    let classifier = try compileModel(name)
    let shape = fixture.info("input")!.shape  // [B, C, H, W]
    // The classifier's chain, plus batch statistics: sums over B·H·W values per channel.
    let chain = Float32Bound.sum(terms: Float32Bound.longestReduction(classifier) + shape[0] * shape[2] * shape[3])
    let logits = relative(step.logits, try fixture.floats("logits"))
    let heatmaps = relative(step.heatmaps ?? [], try fixture.floats("heatmaps"))
    let expectedHeatmapLoss = try fixture.doubles("loss_heatmap")[0]
    let heatmapLoss = abs(step.heatmapLoss - expectedHeatmapLoss)
    let classificationLoss = abs(step.classificationLoss - (try fixture.doubles("loss_classification")[0]))
    let gradients = session.gradients
    let missing = fixture.names.filter { $0.hasPrefix("grad.") && gradients[String($0.dropFirst(5))] == nil }
    let reference = try referenceGradients(fixture)
    let groups = groupErrors(gradients, against: reference)
    var running = 0.0
    let updated = session.weights
    for tensor in fixture.names where tensor.hasPrefix("after.") {
      running = max(running, relative(updated[String(tensor.dropFirst(6))]!.values, try fixture.floats(tensor)))
    }
    print("\(name) step: logits \(logits), heatmaps \(heatmaps), loss_heatmap Δ \(heatmapLoss), loss_classification Δ \(classificationLoss), running stats \(running), gradients \(groups.sorted { $0.key < $1.key }), all gradients (L2) \(globalError(gradients, reference)), chain bound \(chain)")
    #expect(missing.isEmpty, "no gradient for \(missing)")
    #expect(logits <= chain)
    #expect(running <= chain)
    // Cross-entropy moves by at most 2·max|Δlogit| (its gradient is p − onehot).
    let largestLogit = try fixture.floats("logits").map { abs(Double($0)) }.max() ?? 0
    #expect(classificationLoss <= 2 * chain * largestLogit)
    // Each draw moves every weight by about eight float32 ulps (random signs): enough to
    // flip the gates that lie within rounding of zero, as another summation order may.
    var selfNoise: [String: Double] = [:]
    var globalNoise = 0.0, heatmapNoise = 0.0
    for seed in 1...4 as ClosedRange<UInt64> {
      let (perturbed, _, moved) = try runStep(name, weights: weights, train: train, perturbation: 1e-6, seed: seed)
      selfNoise.merge(groupErrors(perturbed.gradients, against: gradients), uniquingKeysWith: max)
      globalNoise = max(globalNoise, globalError(perturbed.gradients, gradients))
      heatmapNoise = max(heatmapNoise, relative(moved.heatmaps ?? [], step.heatmaps ?? []))
      print("\(name) step, weights moved by eight ulps (draw \(seed)): heatmaps move \(heatmapNoise), gradients (largest so far) \(selfNoise.sorted { $0.key < $1.key }), all (L2) \(globalNoise)")
    }
    let heatmapBound = max(chain, 4 * heatmapNoise)
    #expect(heatmaps <= heatmapBound)
    // The heatmap loss is a smooth function of the heatmaps (the reference sums it in float32).
    #expect(heatmapLoss <= heatmapBound * expectedHeatmapLoss)
    let global = globalError(gradients, reference)
    for (group, error) in groups {
      let bound = max(chain, 4 * selfNoise[group]!)
      #expect(error <= bound, "\(group): \(error) against the reference, \(selfNoise[group]!) from a one-ulp perturbation")
    }
    let globalBound = max(chain, 4 * globalNoise)
    #expect(global <= globalBound, "all gradients (L2): \(global) against the reference, \(globalNoise) from a one-ulp perturbation")
  }

  @Test func tinyStepMatchesTheReference() throws {
    try check(
      "tiny", weights: Repository.path("Tests/Fixtures/reference/tiny.weights.safetensors"),
      train: Repository.path("Tests/Fixtures/train/tiny.train.safetensors"))
  }

  @Test(.enabled(if: externalDirectory != nil)) func deepStepMatchesTheReference() throws {
    let dir = Self.externalDirectory!
    try check("deep", weights: "\(dir)/deep.weights.safetensors", train: "\(dir)/deep.train.safetensors")
  }
}
