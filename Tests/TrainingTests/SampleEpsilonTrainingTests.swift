import GraphIR
import Testing
import TestSupport

@testable import Runtime

/// `TrainingSession.sampleEpsilons`, on GradientCheckTests' small models (a DenseNet with a
/// Zᴮ layer folding its batch norm, a ResNet with residual additions). The classifier's
/// forward does not read ε, so each sample's heatmaps in a batch with per-sample ε are, bit
/// for bit, those of the batch under a graph compiled with that sample's ε (batch
/// statistics and all). Parameter gradients sum over the batch: with every sample at ε they
/// equal the compiled ε's, and with only one sample's output adjoints seeded they equal
/// the compiled ε of that sample (the others' LRP adjoints are zero under any ε).
@Suite struct SampleEpsilonTrainingTests {
  static let epsilons = [0.05, 0.1, 0.2]
  static let kinds = ["densenet", "resnet"]

  func setup(_ kind: String, epsilon: Double = GradientCheckTests.lrp.epsilon, inputRule: LRPOptions.InputRule = .zb) throws -> GradientCheckTests.Setup {
    try GradientCheckTests().setup(kind, heatmaps: LRPOptions(epsilon: epsilon, inputRule: inputRule))
  }

  /// The outputs' values for one sample of a batch of `samples`.
  func sample(_ b: Int, of values: [Float], samples: Int) -> [Float] {
    let per = values.count / samples
    return Array(values[(b * per)..<((b + 1) * per)])
  }

  @Test(arguments: kinds, LRPOptions.InputRule.allCases)
  func eachSampleGetsTheForwardOfItsCompiledEpsilon(_ kind: String, inputRule: LRPOptions.InputRule) throws {
    let mixed = try setup(kind, inputRule: inputRule)
    mixed.session.sampleEpsilons = Self.epsilons.map { Float($0) }
    let outputs = try mixed.session.forward(mixed.input, samples: mixed.samples)
    for (b, epsilon) in Self.epsilons.enumerated() {
      let compiled = try setup(kind, epsilon: epsilon, inputRule: inputRule)
      let expected = try compiled.session.forward(compiled.input, samples: compiled.samples)
      for (output, (actual, wanted)) in zip(outputs, expected).enumerated() {
        let differing = bitwiseDifferences(sample(b, of: actual, samples: mixed.samples), sample(b, of: wanted, samples: mixed.samples))
        #expect(differing == 0, "\(kind): output \(output) of sample \(b) (ε \(epsilon))")
      }
    }
  }

  @Test(arguments: kinds)
  func oneEpsilonForEverySampleGivesTheCompiledGradients(_ kind: String) throws {
    let epsilon = Self.epsilons[1]
    let compiled = try setup(kind, epsilon: epsilon)
    let expectedOutputs = try compiled.session.forward(compiled.input, samples: compiled.samples)
    try compiled.session.backward(seeds: compiled.seeds)
    // Compiled with another ε; the run-time values rule.
    let runTime = try setup(kind, epsilon: Self.epsilons[0])
    runTime.session.sampleEpsilons = Array(repeating: Float(epsilon), count: runTime.samples)
    let outputs = try runTime.session.forward(runTime.input, samples: runTime.samples)
    // backward differentiates the forward it follows, with the values that forward took.
    runTime.session.sampleEpsilons = nil
    try runTime.session.backward(seeds: runTime.seeds)
    #expect(bitwiseDifferences(outputs[1], expectedOutputs[1]) == 0)
    let (actual, expected) = (runTime.session.gradients, compiled.session.gradients)
    #expect(actual.keys.sorted() == expected.keys.sorted())
    for (name, gradient) in expected {
      #expect(bitwiseDifferences(actual[name]!, gradient) == 0, "\(kind): gradient of \(name)")
    }
  }

  @Test(arguments: kinds)
  func eachSeededSampleGetsTheGradientsOfItsCompiledEpsilon(_ kind: String) throws {
    let mixed = try setup(kind)
    mixed.session.sampleEpsilons = Self.epsilons.map { Float($0) }
    for (b, epsilon) in Self.epsilons.enumerated() {
      // Output adjoints of sample b only.
      let seeds = mixed.seeds.map { seed in
        let per = seed.count / mixed.samples
        return seed.indices.map { (b * per..<(b + 1) * per).contains($0) ? seed[$0] : 0 }
      }
      _ = try mixed.session.forward(mixed.input, samples: mixed.samples)
      try mixed.session.backward(seeds: seeds)
      let compiled = try setup(kind, epsilon: epsilon)
      _ = try compiled.session.forward(compiled.input, samples: compiled.samples)
      try compiled.session.backward(seeds: seeds)
      // Values, not bits: a zero term of another sample may carry either sign.
      for (name, gradient) in compiled.session.gradients {
        #expect(valueDifferences(mixed.session.gradients[name]!, gradient) == 0, "\(kind): gradient of \(name) seeded at sample \(b) (ε \(epsilon))")
      }
    }
  }

  @Test(arguments: [[0.1], [0.1, 0.1, -0.1], [0.1, .nan, 0.1], [0.1, 0.1, .infinity]] as [[Float]])
  func badSampleEpsilonsAreRefused(_ epsilons: [Float]) throws {
    let s = try setup("resnet")
    s.session.sampleEpsilons = epsilons
    do {
      _ = try s.session.forward(s.input, samples: s.samples)
      Issue.record("sampleEpsilons \(epsilons) was accepted")
    } catch {
      #expect(error.message.contains("sampleEpsilons"), "\(error.message)")
    }
    s.session.sampleEpsilons = nil
    _ = try s.session.forward(s.input, samples: s.samples)
    try s.session.backward(seeds: s.seeds)
  }
}
