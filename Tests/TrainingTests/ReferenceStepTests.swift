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
@Suite struct ReferenceStepTests {
  static var externalDirectory: String? { ProcessInfo.processInfo.environment["ISNETC_REFERENCE_DIR"] }

  func runStep(_ name: String, weights weightsPath: String, train trainPath: String) throws -> (session: TrainingSession, fixture: SafetensorsFile, step: StepResult) {
    let program = try compileModel(name).withLRPBlock().reverseMode()
    let fixture = try SafetensorsFile(path: trainPath)
    let shape = fixture.info("input")!.shape
    let session = try TrainingSession(
      program: program, weights: try WeightFiles.load(path: weightsPath), weightsSource: weightsPath,
      batchSize: shape[0], threads: 2)
    let objective = Objective(heatmapWeight: 0.7, heatmapLoss: HeatmapLoss(scale: 10, stabilizer: 1e-4), kind: .softmax)
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

  func check(_ name: String, weights: String, train: String, gradientTolerance: Double) throws {
    let (session, fixture, step) = try runStep(name, weights: weights, train: train)
    let logits = relative(step.logits, try fixture.floats("logits"))
    let heatmaps = relative(step.heatmaps ?? [], try fixture.floats("heatmaps"))
    let heatmapLoss = abs(step.heatmapLoss - (try fixture.doubles("loss_heatmap")[0]))
    let classificationLoss = abs(step.classificationLoss - (try fixture.doubles("loss_classification")[0]))
    var groups: [String: Double] = [:]
    let gradients = session.gradients
    var missing: [String] = []
    for tensor in fixture.names where tensor.hasPrefix("grad.") {
      let parameter = String(tensor.dropFirst(5))
      guard let ours = gradients[parameter] else { missing.append(parameter); continue }
      let error = relative(ours, try fixture.floats(tensor))
      let group = parameter.hasSuffix(".weight") && parameter.contains("conv") ? "conv weights" : parameter.hasPrefix("classifier") ? "classifier" : parameter.hasSuffix(".weight") ? "bn γ" : "bn β"
      groups[group] = max(groups[group] ?? 0, error)
    }
    var running = 0.0
    let weights = session.weights
    for tensor in fixture.names where tensor.hasPrefix("after.") {
      running = max(running, relative(weights[String(tensor.dropFirst(6))]!.values, try fixture.floats(tensor)))
    }
    print("\(name) step: logits \(logits), heatmaps \(heatmaps), loss_heatmap Δ \(heatmapLoss), loss_classification Δ \(classificationLoss), running stats \(running), gradients \(groups.sorted { $0.key < $1.key })")
    #expect(missing.isEmpty, "no gradient for \(missing)")
    #expect(logits <= 1e-5)
    #expect(heatmaps <= 3e-4)
    #expect(heatmapLoss <= 1e-5 * (try fixture.doubles("loss_heatmap")[0]))
    #expect(classificationLoss <= 1e-5)
    #expect(running <= 1e-5)
    for (group, error) in groups { #expect(error <= gradientTolerance, "\(group): \(error)") }
  }

  @Test func tinyStepMatchesTheReference() throws {
    try check(
      "tiny", weights: Repository.path("Tests/Fixtures/reference/tiny.weights.safetensors"),
      train: Repository.path("Tests/Fixtures/train/tiny.train.safetensors"), gradientTolerance: 1e-3)
  }

  @Test(.enabled(if: externalDirectory != nil)) func deepStepMatchesTheReference() throws {
    let dir = Self.externalDirectory!
    try check("deep", weights: "\(dir)/deep.weights.safetensors", train: "\(dir)/deep.train.safetensors", gradientTolerance: 1e-3)
  }
}
