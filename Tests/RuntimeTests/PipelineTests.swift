import Evaluation
import GraphIR
import ImageIO
import Runtime
import Testing
import TestSupport

/// The one pipeline every command uses: each purpose is its pass, ε is validated in one
/// place with one message, and the ε chosen reaches the heatmaps (and so eval's background
/// fraction).
@Suite struct PipelineTests {
  @Test func eachPurposeIsItsPass() throws {
    let tiny = try compileModel("tiny")
    #expect(try tiny.lowered(for: .deploy) == tiny.deploymentGraph())
    #expect(try tiny.lowered(for: .explain(LRPOptions(epsilon: 0.1))) == (try tiny.withLRPBlock(LRPOptions(epsilon: 0.1))))
    #expect(try tiny.trainingProgram(heatmaps: LRPOptions()).text == (try tiny.withLRPBlock().reverseMode().text))
    #expect(try tiny.trainingProgram(heatmaps: nil).text == (try tiny.reverseMode().text))
  }

  /// The ε input rule through every purpose: the LRP block without Zᴮ, and a training
  /// program in which the input (read by the first convolution and an lrp_multiply) gets
  /// no adjoint.
  @Test func theEpsilonInputRuleReachesEveryPurpose() throws {
    let tiny = try compileModel("tiny")
    let options = LRPOptions(inputRule: .epsilon)
    let graph = try tiny.lowered(for: .explain(options))
    #expect(graph == (try tiny.withLRPBlock(options)))
    #expect(graph != (try tiny.lowered(for: .explain(LRPOptions()))))
    #expect(!graph.nodes.contains { ["zb_preactivation", "zb_relevance"].contains($0.op.name) })
    let input = graph.inputIDs[0]
    #expect(graph.consumers[input.index].map { graph[$0].op.name }.sorted() == ["conv", "lrp_multiply"])
    let program = try tiny.trainingProgram(heatmaps: options)
    #expect(program.text == (try graph.reverseMode().text))
    #expect(!program.adjoints.contains { $0.node == input })
    #expect(program.gradients.contains("features.conv0.weight"))
  }

  @Test(arguments: [0, -0.5, Double.nan, Double.infinity])
  func badEpsilonIsRefusedWithOneMessage(_ epsilon: Double) throws {
    let tiny = try compileModel("tiny")
    let expected = "the LRP ε must be positive and finite, got \(epsilon)"
    #expect(LRPOptions(epsilon: epsilon).problem == expected)
    #expect(throws: PipelineError.self) { try tiny.lowered(for: .explain(LRPOptions(epsilon: epsilon))) }
    do { _ = try tiny.trainingProgram(heatmaps: LRPOptions(epsilon: epsilon)) } catch { #expect(error.message == expected) }
  }

  /// The demo's ISNet on one sample: a larger ε absorbs more relevance in the ε-rule, and the
  /// share outside the mask moves with it.
  @Test func epsilonReachesTheBackgroundFraction() throws {
    let classifier = try compileModel("tiny")
    let path = Repository.path("demo/isnet.safetensors")
    let weights = try WeightFiles.load(path: path)
    let dims = classifier[classifier.inputIDs[0]].type.dims
    let image = try loadImage(path: Repository.path("demo/samples/images/biased-00001.png"), channels: dims[0], height: dims[1], width: dims[2])
    let mask = try loadImage(path: Repository.path("demo/samples/masks/biased-00001.png"), channels: 1, height: dims[1], width: dims[2])
    func fraction(_ epsilon: Double) throws -> Double {
      let graph = try classifier.lowered(for: .explain(LRPOptions(epsilon: epsilon)))
      let session = try InferenceSession(graph: graph, weights: weights, weightsSource: path, batchSize: 1, threads: testThreads)
      let logits = try session.run(image, samples: 1)
      let maps = session.values(of: graph.outputs[1], samples: 1)
      let perClass = maps.count / logits.count
      return backgroundRelevanceFraction(heatmap: Array(maps[perClass..<(2 * perClass)]), channels: dims[0], mask: mask)!
    }
    let paper = try fraction(0.01), large = try fraction(1)
    print("background fraction at ε 0.01: \(paper), at ε 1: \(large)")
    #expect(abs(paper - large) > 0.01)
  }
}
