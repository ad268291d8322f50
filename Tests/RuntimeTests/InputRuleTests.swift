import GraphIR
import Runtime
import Testing
import TestSupport

/// `LRPOptions.inputRule`: the paper's Zᴮ first layer, or the ε-rule up to the input, where
/// the relevance is x ⊙ c (gradient × input for the last step).
@Suite struct InputRuleTests {
  /// Logits and heatmaps of `samples` random inputs of `classifier` (zeroing every
  /// `zeroEvery`-th input value when given).
  static func run(
    _ classifier: Graph, _ options: LRPOptions, weights: WeightTable, samples: Int = 2, zeroEvery: Int? = nil, extraOutput: (Graph) -> NodeID? = { _ in nil }
  ) throws -> (input: [Float], logits: [Float], heatmaps: [Float], extra: [Float]) {
    var graph = try classifier.lowered(for: .explain(options))
    let extra = extraOutput(graph)
    if let extra { graph.outputs.append(extra) }
    let session = try InferenceSession(graph: graph, weights: weights, weightsSource: classifier.name, batchSize: samples, threads: testThreads)
    guard case .input(let range) = classifier[classifier.inputIDs[0]].op else { throw RuntimeError("no input range") }
    var random = SplitMix64(seed: 17)
    var input = (0..<(samples * classifier[classifier.inputIDs[0]].type.elementCount!)).map { _ in random.float(Float(range.low), Float(range.high)) }
    if let zeroEvery { for i in stride(from: 0, to: input.count, by: zeroEvery) { input[i] = 0 } }
    let logits = try session.run(input, samples: samples)
    let heatmaps = session.values(of: graph.outputs[1], samples: samples)
    return (input, logits, heatmaps, extra.map { session.values(of: $0, samples: samples) } ?? [])
  }

  @Test func theEpsilonInputRuleChangesOnlyTheHeatmaps() throws {
    let tiny = try compileModel("tiny", classes: 3)
    let weights = Initialization.weights(for: tiny, seed: 4)
    let zb = try Self.run(tiny, LRPOptions(), weights: weights)
    let epsilon = try Self.run(tiny, LRPOptions(inputRule: .epsilon), weights: weights)
    #expect(zb.logits == epsilon.logits)
    #expect(zb.heatmaps.count == epsilon.heatmaps.count)
    let differing = zip(zb.heatmaps, epsilon.heatmaps).filter { $0 != $1 }.count
    #expect(differing > zb.heatmaps.count / 2, "only \(differing) of \(zb.heatmaps.count) values differ")
  }

  /// A zero input value receives exactly zero relevance under the ε input rule (x ⊙ c), for
  /// every class; under Zᴮ (bounds [0, 1]) it generally does not.
  @Test func aZeroInputValueReceivesNoRelevance() throws {
    let tiny = try compileModel("tiny", classes: 3)
    let weights = Initialization.weights(for: tiny, seed: 4)
    let perSample = tiny[tiny.inputIDs[0]].type.elementCount!
    let classes = 3
    func relevanceAtZeros(_ rule: LRPOptions.InputRule) throws -> [Float] {
      let r = try Self.run(tiny, LRPOptions(inputRule: rule), weights: weights, zeroEvery: 7)
      var values: [Float] = []
      for (i, x) in r.input.enumerated() where x == 0 {
        let (b, j) = (i / perSample, i % perSample)
        for k in 0..<classes { values.append(r.heatmaps[(b * classes + k) * perSample + j]) }
      }
      return values
    }
    let epsilon = try relevanceAtZeros(.epsilon)
    #expect(epsilon.count >= 2 * (perSample / 7) * classes)
    #expect(epsilon.allSatisfy { $0 == 0 })
    #expect(try relevanceAtZeros(.zb).contains { $0 != 0 })
  }

  /// The ε-rule conserves relevance through a layer without bias as ε → 0: each class's
  /// input relevance sums to the relevance at the first ReLU.
  @Test func theEpsilonRuleConservesRelevanceThroughABiasFreeFirstLayer() throws {
    let classifier = try compileSource(
      """
      isnet 1;
      model m(input: f32[3, 12, 12] in [-1, 1], classes: int = 3) {
        x = conv(input, out: 6, k: 3, pad: 1, bias: false) @ "conv0"; x = relu(x);
        x = conv(x, out: 5, k: 3, stride: 2, pad: 1) @ "conv1"; x = relu(x);
        return linear(flatten(x), out: classes) @ "fc";
      }
      """)
    let firstReLU = try #require(classifier.nodes.indices.first { classifier.nodes[$0].op == .relu })
    var options = LRPOptions(epsilon: 1e-9, inputRule: .epsilon)
    // The relevance at the first ReLU: the block's lrp_multiply of that activation.
    func relevanceAtReLU(_ graph: Graph) -> NodeID? {
      graph.nodes.indices.first { graph.nodes[$0].op == .lrpMultiply && graph.nodes[$0].inputs[0].index == firstReLU }.map(NodeID.init)
    }
    let samples = 2
    let r = try Self.run(classifier, options, weights: Initialization.weights(for: classifier, seed: 9), samples: samples, extraOutput: relevanceAtReLU)
    let classes = r.logits.count / samples
    let perInput = r.heatmaps.count / (samples * classes)
    let perReLU = r.extra.count / (samples * classes)
    #expect(perReLU == 6 * 12 * 12)
    let bound = Float32Bound.network(try classifier.lowered(for: .explain(options)))
    for row in 0..<(samples * classes) {
      let input = r.heatmaps[(row * perInput)..<((row + 1) * perInput)]
      let relu = r.extra[(row * perReLU)..<((row + 1) * perReLU)]
      let (inputSum, reluSum) = (input.reduce(0.0) { $0 + Double($1) }, relu.reduce(0.0) { $0 + Double($1) })
      let magnitude = max(input.reduce(0.0) { $0 + abs(Double($1)) }, relu.reduce(0.0) { $0 + abs(Double($1)) })
      #expect(magnitude > 0)
      #expect(abs(inputSum - reluSum) <= bound * magnitude, "row \(row): Σ R input \(inputSum), Σ R at the first ReLU \(reluSum)")
    }
    // The input rule changes only the last step: the relevance at the ReLU is the same.
    options.inputRule = .zb
    let zb = try Self.run(classifier, options, weights: Initialization.weights(for: classifier, seed: 9), samples: samples, extraOutput: relevanceAtReLU)
    #expect(zb.extra == r.extra)
  }
}
