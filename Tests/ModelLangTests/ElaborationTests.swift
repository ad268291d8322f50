import GraphIR
import ModelLang
import Testing
import TestSupport

@Suite struct ElaborationTests {
  @Test func labelsInterpolateAndScopesNest() throws {
    let graph = try compileSource("""
      block unit(x, width: int, k: int = 3, pad: int = k / 2) {
        return relu(conv(x, out: width, k: k, pad: pad) @ "conv");
      }
      model m(input: f32[2, 8, 8] in [-1, 1], classes: int = 4) -> sigmoid {
        x = input;
        scope "body" {
          repeat i in 0..<3 { x = unit(x, width: 4 * (i + 1)) @ "stage{i + 1}.{i * 10}"; }
        }
        x = unit(x, width: 2, k: 1);   // unlabelled: no scope of its own
        return linear(flatten(x), out: classes) @ "fc";
      }
      """)
    #expect(graph.outputKind == .sigmoid)
    #expect(graph.nodes.compactMap(\.name) == [
      "input", "body.stage1.0.conv", "body.stage2.10.conv", "body.stage3.20.conv", "conv", "fc",
    ])
    #expect(graph.nodes[0].op == .input(InputAttributes(low: -1, high: 1)))
    #expect(graph.parameters.first { $0.name == "body.stage3.20.conv.weight" }?.shape == [12, 8, 3, 3])
    #expect(graph.parameters.first { $0.name == "conv.weight" }?.shape == [2, 12, 1, 1])
    #expect(graph[graph.outputs[0]].type.dims == [4])
  }

  @Test func repeatIsInclusiveOrExclusiveAndRestoresItsVariable() throws {
    let graph = try compileSource("""
      model m(input: f32[4] in [0, 1]) {
        i = 100; x = input;
        repeat i in 1...2 { x = relu(x) @ "a{i}"; }
        repeat j in 3..<3 { x = relu(x) @ "never{j}"; }
        return linear(x, out: i) @ "fc";
      }
      """)
    #expect(graph.nodes.compactMap(\.name) == ["input", "a1", "a2", "fc"])
    #expect(graph[graph.outputs[0]].type.dims == [100])
  }

  @Test func arithmeticFollowsIntAndFloatRules() throws {
    let graph = try compileSource("""
      model m(input: f32[4], classes: int = 7 / 2 * 2 + 7 % 4 - -1) {
        return dropout(linear(input, out: classes, bias: false) @ "fc", p: 1 / 4.0);
      }
      """)
    #expect(graph[graph.outputs[0]].type.dims == [10])
    #expect(graph.nodes.last?.op == .dropout(DropoutAttributes(probability: 0.25)))
    #expect(graph.nodes[0].op == .input(InputAttributes(low: 0, high: 1)))
  }

  @Test func globalAveragePoolFlattens() throws {
    let graph = try compileSource("""
      model m(input: f32[3, 5, 6]) { return linear(global_avgpool(input), out: 2) @ "fc"; }
      """)
    #expect(graph.nodes.map(\.op.name) == ["input", "adaptive_avgpool", "flatten", "linear"])
  }

  @Test func importsResolveRelativeToTheImporter() throws {
    let compilation = compileSources([
      "models/m.isnet": "isnet 1; import \"lib/blocks.isnet\"; model m(input: f32[3, 4, 4]) { return linear(pool(input), out: 2) @ \"fc\"; }",
      "models/lib/blocks.isnet": "import \"../lib/./more.isnet\"; block pool(x) { return flatten(half(x)); }",
      "models/lib/more.isnet": "block half(x) { return avgpool(x, k: 2); }",
    ], main: "models/m.isnet")
    #expect(compilation.log.diagnostics.isEmpty)
    #expect(compilation.files.map(\.path) == ["models/m.isnet", "models/lib/blocks.isnet", "models/lib/more.isnet"])
    #expect(compilation.graph?.nodes.map(\.op.name) == ["input", "avgpool", "flatten", "linear"])
  }

  @Test func importCyclesAndMissingFilesAreErrors() {
    let compilation = compileSources([
      "m.isnet": "import \"a.isnet\";\nimport \"missing.isnet\";\nmodel m(input: f32[4]) { return input; }",
      "a.isnet": "import \"m.isnet\";",
    ])
    #expect(compilation.graph == nil)
    #expect(compilation.renderedDiagnostics == """
      a.isnet:1:8: error: import cycle: m.isnet -> a.isnet -> m.isnet
        import "m.isnet";
               ^
      m.isnet:2:8: error: cannot import 'missing.isnet': no such file
        import "missing.isnet";
               ^

      """)
  }

  @Test func classesOverrideReplacesTheDefault() throws {
    let source = "model m(input: f32[8], classes: int = 1000) { return linear(input, out: classes) @ \"fc\"; }"
    #expect(try compileSource(source, options: CompileOptions(classes: 3)).parameters.map(\.shape) == [[3, 8], [3]])
  }

  @Test func compilingTwiceGivesTheSameText() throws {
    let first = try compileModel("densenet121").text
    let second = try compileModel("densenet121").text
    #expect(first == second)
  }
}
