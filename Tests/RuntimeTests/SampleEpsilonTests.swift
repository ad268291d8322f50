import GraphIR
import Runtime
import Testing
import TestSupport

/// `InferenceSession.sampleEpsilons`: the ε-rule's ε chosen per sample at run time. Each
/// sample's heatmaps are, bit for bit, those of the graph compiled with its ε (the compiled
/// ε is a Double converted to Float by the kernels, so the run-time values are Float(ε)).
@Suite struct SampleEpsilonTests {
  static let epsilons = [0.01, 0.05, 0.1]

  struct Setup {
    var classifier: Graph
    var weights: WeightTable
    var input: [Float]
    var samples: Int { SampleEpsilonTests.epsilons.count }
  }

  static func setup() throws -> Setup {
    let classifier = try compileModel("tiny", classes: 3)
    var random = SplitMix64(seed: 5)
    let perSample = classifier[classifier.inputIDs[0]].type.elementCount!
    let input = (0..<(epsilons.count * perSample)).map { _ in random.float(0, 1) }
    return Setup(classifier: classifier, weights: Initialization.weights(for: classifier, seed: 2), input: input)
  }

  /// Heatmaps of every sample of `s.input`, per sample.
  static func heatmaps(_ s: Setup, options: LRPOptions, sampleEpsilons: [Float]?, fuse: Bool) throws -> [[Float]] {
    let graph = try s.classifier.lowered(for: .explain(options))
    let session = try InferenceSession(
      graph: graph, weights: s.weights, weightsSource: "tiny", batchSize: s.samples, threads: testThreads, fuseLRPChains: fuse)
    session.sampleEpsilons = sampleEpsilons
    _ = try session.run(s.input, samples: s.samples)
    let maps = session.values(of: graph.outputs[1], samples: s.samples)
    let perSample = maps.count / s.samples
    return (0..<s.samples).map { Array(maps[($0 * perSample)..<(($0 + 1) * perSample)]) }
  }

  /// With and without the fused multiply → divide → batch-norm-transpose kernel, and with
  /// both input rules (the Zᴮ layer's own division takes the sample's ε too).
  @Test(arguments: [true, false], LRPOptions.InputRule.allCases)
  func eachSampleGetsTheHeatmapsOfItsCompiledEpsilon(fuse: Bool, inputRule: LRPOptions.InputRule) throws {
    let s = try Self.setup()
    let perSample = try Self.heatmaps(
      s, options: LRPOptions(inputRule: inputRule), sampleEpsilons: Self.epsilons.map { Float($0) }, fuse: fuse)
    for (b, epsilon) in Self.epsilons.enumerated() {
      let compiled = try Self.heatmaps(s, options: LRPOptions(epsilon: epsilon, inputRule: inputRule), sampleEpsilons: nil, fuse: fuse)
      #expect(bitwiseDifferences(perSample[b], compiled[b]) == 0, "sample \(b), ε \(epsilon)")
    }
    // The ε matters: the samples' maps differ from the default ε's.
    let defaults = try Self.heatmaps(s, options: LRPOptions(inputRule: inputRule), sampleEpsilons: nil, fuse: fuse)
    #expect(valueDifferences(perSample[2], defaults[2]) > 0)
  }

  /// Clearing `sampleEpsilons` returns to the compiled ε.
  @Test func nilRestoresTheCompiledEpsilon() throws {
    let s = try Self.setup()
    let graph = try s.classifier.lowered(for: .explain(LRPOptions()))
    let session = try InferenceSession(graph: graph, weights: s.weights, weightsSource: "tiny", batchSize: s.samples, threads: testThreads)
    _ = try session.run(s.input, samples: s.samples)
    let before = session.values(of: graph.outputs[1], samples: s.samples)
    session.sampleEpsilons = [1, 1, 1]
    _ = try session.run(s.input, samples: s.samples)
    #expect(valueDifferences(session.values(of: graph.outputs[1], samples: s.samples), before) > 0)
    session.sampleEpsilons = nil
    _ = try session.run(s.input, samples: s.samples)
    #expect(bitwiseDifferences(session.values(of: graph.outputs[1], samples: s.samples), before) == 0)
  }

  /// Too few values, or one that is not a positive finite number: an error naming
  /// `sampleEpsilons`, and the session still runs once they are fixed.
  @Test(arguments: [[0.01, 0.02], [0.01, -0.1, 0.01], [0.01, 0.01, .nan], [0, 0.01, 0.01], [0.01, .infinity, 0.01], [0.01, 0.01, 0.01, -1]] as [[Float]])
  func badSampleEpsilonsAreRefused(_ epsilons: [Float]) throws {
    let s = try Self.setup()
    let graph = try s.classifier.lowered(for: .explain(LRPOptions()))
    let session = try InferenceSession(graph: graph, weights: s.weights, weightsSource: "tiny", batchSize: s.samples, threads: testThreads)
    session.sampleEpsilons = epsilons
    do {
      _ = try session.run(s.input, samples: s.samples)
      Issue.record("sampleEpsilons \(epsilons) was accepted")
    } catch {
      #expect(error.message.contains("sampleEpsilons"), "\(error.message)")
    }
    session.sampleEpsilons = [0.01, 0.01, 0.01]
    _ = try session.run(s.input, samples: s.samples)
  }
}
