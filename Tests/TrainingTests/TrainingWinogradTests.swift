import GraphIR
import Runtime
import TensorFiles
import Testing
import TestSupport

@testable import Training

/// A standard training step (no LRP block) runs its 3×3 stride-1 convolutions and their
/// input adjoints as Winograd F(4×4, 3×3) by default: the same step as with direct
/// convolutions, to float32 rounding. Logits are held to the chain bound of each run (the
/// Winograd one ×(1 + 2·√6), ReferenceLogitsTests); gradients, which ReLU gates within
/// rounding of zero make ill-conditioned, to 4× what moving every weight by a few ulps
/// moves them (as ReferenceStepTests measures it).
@Suite struct TrainingWinogradTests {
  let weightsPath = Repository.path("Tests/Fixtures/reference/tiny.weights.safetensors")

  func step(winograd: Bool?, perturbation: Double = 0, seed: UInt64 = 0) throws -> (session: TrainingSession, step: StepResult) {
    let graph = try compileModel("tiny")
    let fixture = try SafetensorsFile(path: Repository.path("Tests/Fixtures/train/tiny.train.safetensors"))
    let shape = fixture.info("input")!.shape
    let weights = perturbed(try WeightFiles.load(path: weightsPath), by: perturbation, seed: seed)
    let session = try TrainingSession(
      program: try graph.reverseMode(), weights: weights, weightsSource: weightsPath, batchSize: shape[0], threads: testThreads, winograd: winograd)
    let objective = Objective(heatmapWeight: 0, heatmapLoss: HeatmapLoss(scale: 1, stabilizer: 1e-4, normalization: .standardDeviation), kind: .softmax)
    let batch = Batch(images: try fixture.floats("input"), masks: nil, labels: try fixture.integers("labels").map(Int.init), samples: shape[0])
    return (session, try objective.step(session, batch))
  }

  /// ‖a − b‖₂ / ‖b‖₂ over every gradient.
  func gradientError(_ a: [String: [Float]], _ b: [String: [Float]]) -> Double {
    var difference = 0.0, norm = 0.0
    for (name, expected) in b {
      for (x, e) in zip(a[name]!, expected) {
        difference += (Double(x) - Double(e)) * (Double(x) - Double(e))
        norm += Double(e) * Double(e)
      }
    }
    return (difference / norm).squareRoot()
  }

  @Test func standardStepMatchesDirectConvolutions() throws {
    let (direct, directStep) = try step(winograd: false)
    let (winograd, winogradStep) = try step(winograd: nil)
    #expect(direct.winogradLayerCount == 0)
    #expect(winograd.winogradLayerCount == 5, "tiny has five 3×3 stride-1 convolutions")
    let graph = try compileModel("tiny")
    let fixture = try SafetensorsFile(path: Repository.path("Tests/Fixtures/train/tiny.train.safetensors"))
    let shape = fixture.info("input")!.shape
    let chain = Float32Bound.sum(terms: Float32Bound.longestReduction(graph) + shape[0] * shape[2] * shape[3])
    let scale = directStep.logits.map { abs(Double($0)) }.max()!
    let logitError = zip(winogradStep.logits, directStep.logits).map { abs(Double($0) - Double($1)) }.max()! / scale
    #expect(logitError <= chain * (2 + 2 * 6.0.squareRoot()), "logits differ by \(logitError) of the largest")

    var noise = 0.0
    for seed in 1...4 as ClosedRange<UInt64> {
      noise = max(noise, gradientError(try step(winograd: false, perturbation: 1e-6, seed: seed).session.gradients, direct.gradients))
    }
    let error = gradientError(winograd.gradients, direct.gradients)
    print("tiny standard step, Winograd against direct: logits \(logitError), gradients (L2) \(error); a few-ulp weight perturbation moves them \(noise)")
    #expect(error <= max(chain, 4 * noise))
  }

  /// With an LRP block, the block's relevance passes through the 3×3s run as Winograd (as
  /// the inference session computes heatmaps) and the classifier's convolutions directly.
  @Test func onlyTheLRPBlocksWhereTheGraphHasOne() throws {
    let graph = try compileModel("tiny")
    let program = try graph.withLRPBlock().reverseMode()
    let session = try TrainingSession(
      program: program, weights: try WeightFiles.load(path: weightsPath), weightsSource: weightsPath, batchSize: 2, threads: testThreads)
    let transposes = program.graph.nodes.filter {
      if case .conv2dTranspose(let a) = $0.op { a.forward.kernel == Pair(square: 3) } else { false }
    }
    #expect(transposes.count == 5)
    #expect(session.winogradLayerCount == transposes.count)
  }
}
