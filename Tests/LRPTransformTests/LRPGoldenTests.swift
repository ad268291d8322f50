import GraphIR
import LRPTransform
import ModelLang
import Testing
import TestSupport

/// Whole-model LRP blocks as text: golden files reviewed by eye for a DenseNet and a ResNet
/// (each rule alone is shown by LRPRuleTests), and round trips through the text form's
/// parser for every model.
@Suite struct LRPGoldenTests {
  static let models = ["tiny", "deep", "densenet121", "vgg_small", "vgg_small_nobn", "resnet18"]

  @Test(arguments: ["tiny", "resnet18"]) func lrpBlockMatchesGolden(_ model: String) throws {
    let graph = try compileModel(model, classes: 3).withLRPBlock()
    #expect(graph.verify().isEmpty)
    try assertGolden(graph.text, at: "Tests/LRPTransformTests/Golden/\(model).lrp")
  }

  @Test(arguments: models) func lrpBlockRoundTrips(_ model: String) throws {
    let graph = try compileModel(model, classes: 3).withLRPBlock()
    let parsed = try Graph(parsing: graph.text)
    #expect(parsed == graph)
  }

  /// The training program (`isnetc compile --emit grad`): reverse mode over classifier and
  /// LRP block, with the LRP view's separate adjoints where batch norms are fused.
  @Test(arguments: ["tiny", "resnet18"]) func trainingProgramMatchesGolden(_ model: String) throws {
    let program = try compileModel(model, classes: 3).withLRPBlock().reverseMode()
    try assertGolden(program.text, at: "Tests/LRPTransformTests/Golden/\(model).grad")
  }

  /// The ε input rule: tiny's first convolution and batch norm take the ε-rule, the input's
  /// relevance is x ⊙ convᵀ(…); in the training program nothing flows into the input.
  @Test func epsilonInputRuleMatchesGolden() throws {
    let graph = try compileModel("tiny", classes: 3).withLRPBlock(LRPOptions(inputRule: .epsilon))
    #expect(graph.verify().isEmpty)
    #expect(try Graph(parsing: graph.text) == graph)
    try assertGolden(graph.text, at: "Tests/LRPTransformTests/Golden/tiny.epsilon-input.lrp")
    try assertGolden(try graph.reverseMode().text, at: "Tests/LRPTransformTests/Golden/tiny.epsilon-input.grad")
  }
}
