import GraphIR
import LRPTransform
import Testing
import TestSupport

/// Every graph the LRP derivation or reverse mode refuses, with the reason it gives.
@Suite struct RefusalTests {
  static func model(_ body: String, input: String = "f32[2, 4, 4] in [0, 1]") throws -> Graph {
    try compileSource("isnet 1;\nmodel m(input: \(input)) {\n\(body)\n}\n")
  }

  static func lrpRefusal(_ graph: Graph) -> String? {
    do {
      _ = try graph.withLRPBlock()
      return nil
    } catch {
      return error.message
    }
  }

  static func reverseModeRefusal(_ graph: Graph) -> String? {
    do {
      _ = try graph.reverseMode()
      return nil
    } catch {
      return error.message
    }
  }

  static let plain = #"x = relu(bn(conv(input, out: 2, k: 1, bias: false) @ "c") @ "n"); return linear(flatten(x), out: 2) @ "fc";"#

  @Test func lrpNeedsAnImageInput() throws {
    let graph = try Self.model(#"return linear(input, out: 2) @ "fc";"#, input: "f32[4] in [0, 1]")
    #expect(Self.lrpRefusal(graph) == "the LRP block needs one image input [C, H, W]")
  }

  @Test func lrpNeedsOneOutput() throws {
    var graph = try Self.model(Self.plain)
    graph.outputs.append(graph.outputs[0])
    #expect(Self.lrpRefusal(graph) == "the LRP block needs one output, the logits [K]")
  }

  @Test func lrpRefusesADeploymentGraph() throws {
    let message = Self.lrpRefusal(try Self.model(Self.plain).deploymentGraph())
    #expect(message?.contains("has deployment fusions; derive the LRP block from the classifier") == true, "\(message ?? "accepted")")
  }

  @Test func lrpRefusesAGraphWithAnLRPBlock() throws {
    var graph = try Self.model(Self.plain).withLRPBlock()
    graph.outputs = [graph.outputs[0]]
    #expect(Self.lrpRefusal(graph)?.hasPrefix("the graph already holds an LRP block") == true)
  }

  @Test func lrpRefusesALayerFeedingBothALayerAndAnActivation() throws {
    let graph = try Self.model(
      #"x = relu(conv(input, out: 2, k: 1) @ "c0"); p = avgpool(x, k: 2); a = conv(p, out: 2, k: 1) @ "c1"; return linear(flatten(concat(a, relu(p))), out: 2) @ "fc";"#)
    #expect(Self.lrpRefusal(graph)?.contains("reaches both another layer and a batch norm, addition or ReLU") == true)
  }

  @Test func zBetaNeedsTheFirstConvolutionReadByItsNormAlone() throws {
    let graph = try Self.model(
      #"c = conv(input, out: 2, k: 1, bias: false) @ "c"; x = relu(bn(c) @ "n"); return linear(flatten(add(x, c)), out: 2) @ "fc";"#)
    #expect(Self.lrpRefusal(graph) == "the first convolution is read by more than its batch norm; the Zᴮ rule needs it alone (c)")
  }

  @Test func zBetaNeedsTheInputReadByTheFirstConvolutionAlone() throws {
    let graph = try Self.model(#"x = relu(conv(input, out: 2, k: 1) @ "c"); return linear(flatten(concat(x, input)), out: 2) @ "fc";"#)
    #expect(Self.lrpRefusal(graph) == "the input feeds more than the first convolution; the Zᴮ rule needs it to feed that convolution alone (input)")
  }

  @Test func reverseModeNeedsOutputs() throws {
    var graph = try Self.model(Self.plain)
    graph.outputs = []
    #expect(Self.reverseModeRefusal(graph) == "graph 'm' has no outputs")
  }

  @Test func reverseModeRefusesFusedEpilogues() throws {
    let message = Self.reverseModeRefusal(try Self.model(#"return linear(flatten(relu(conv(input, out: 2, k: 1) @ "c")), out: 2) @ "fc";"#).deploymentGraph())
    #expect(message == "conv has a fused epilogue: train the classifier graph, not its deployment form")
  }

  @Test func reverseModeRefusesAFusedBatchNormReLU() throws {
    let graph = try Self.model(#"x = relu(bn(add(input, input)) @ "n"); return linear(flatten(x), out: 2) @ "fc";"#)
    #expect(Self.reverseModeRefusal(graph.deploymentGraph()) == "bn has a fused ReLU: train the classifier graph, not its deployment form")
  }

  @Test func reverseModeRefusesGroupedConvolutions() throws {
    let graph = try Self.model(#"return linear(flatten(conv(input, out: 2, k: 1, groups: 2) @ "c"), out: 2) @ "fc";"#)
    #expect(Self.reverseModeRefusal(graph) == "grouped convolutions (groups 2) have no gradient kernel yet")
  }
}
