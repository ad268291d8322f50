import GraphIR
import ModelLang
import Testing
import TestSupport

/// What a model returns: class logits, a segmentation model's per-pixel logits
/// (`-> segmentation`), or a multi-task classifier's logits and segmentation
/// (`return logits, segmentation;`), with the errors for each wrong shape.
@Suite struct OutputHeadTests {
  @Test func aSegmentationModelReturnsOneLogitPerPixel() throws {
    let graph = try compileSource("""
      model s(input: f32[3, 8, 6] in [0, 1]) -> segmentation {
        return conv(relu(conv(input, out: 4, k: 3, pad: 1) @ "c0"), out: 1, k: 1) @ "out";
      }
      """)
    #expect(graph.outputKind == .segmentation && graph[graph.outputs[0]].type.dims == [1, 8, 6] && graph.segmentation == nil)
    #expect(try Graph(parsing: graph.text) == graph)
  }

  @Test func aMultiTaskModelReturnsLogitsAndASegmentation() throws {
    let graph = try compileSource("""
      model m(input: f32[3, 8, 8] in [0, 1], classes: int = 2) {
        x = relu(conv(input, out: 4, k: 3, pad: 1) @ "c0");
        return linear(global_avgpool(x), out: classes) @ "fc", conv(x, out: 1, k: 1) @ "seg";
      }
      """)
    let head = try #require(graph.segmentation)
    #expect(graph.outputs.count == 1 && graph[graph.outputs[0]].type.dims == [2] && graph[head].name == "seg")
    #expect(graph.text.contains("  segmentation \(head)\n  return"))
    #expect(try Graph(parsing: graph.text) == graph)
    // The passes keep the head: deployment renumbers it, the LRP block leaves it be.
    let deployed = graph.deploymentGraph()
    #expect(deployed.segmentation.map { deployed[$0].name } == "seg")
    let explained = try graph.withLRPBlock()
    #expect(explained.segmentation == head && explained.outputs.count == 2)
  }

  @Test func wrongHeadsAreRefused() {
    assertDiagnostics(
      """
      model m(input: f32[3, 8, 8] in [0, 1]) {
        x = relu(conv(input, out: 4, k: 3, pad: 1) @ "c0");
        return linear(global_avgpool(x), out: 2) @ "fc", 1️⃣x;
      }
      """,
      ["1️⃣": "a model's second returned value is its segmentation, one logit per pixel [1, 8, 8]; got [4, 8, 8]"])
    assertDiagnostics(
      """
      model s(input: f32[3, 8, 8] in [0, 1]) -> segmentation {
        return 1️⃣relu(conv(input, out: 2, k: 1) @ "c0");
      }
      """,
      ["1️⃣": "a segmentation model must return one logit per pixel [1, 8, 8], got [2, 8, 8]"])
    assertDiagnostics(
      """
      block two(x) { return x, 2️⃣x; }
      model m(input: f32[3, 8, 8] in [0, 1]) {
        x = two(input);
        return linear(global_avgpool(x), out: 2) @ "fc";
      }
      """,
      ["2️⃣": "block 'two' returns two values; only a model returns a segmentation beside its logits"])
  }
}
