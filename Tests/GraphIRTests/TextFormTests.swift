import Testing

@testable import GraphIR

@Suite struct TextFormTests {
  /// (The element-wise functions have a test of their own, below.)
  /// The text parser's readers are exactly the names `Op.name` gives the ops outside the
  /// families, and the graphs below print (and parse back) every one of them.
  @Test func everyOpIsCovered() throws {
    let ops = try (everyOpGraph().nodes + everyLRPOpGraph().nodes).map(\.op)
    let names = Set(ops.compactMap { op -> String? in
      switch op {
      case .elementwise, .pool, .poolTranspose: nil
      default: op.name
      }
    })
    #expect(names == Set(Op.readers.keys))
  }

  /// Every pooling member and its transpose is printed and parsed by the graphs above.
  @Test func everyPoolingMemberIsCovered() throws {
    let names = Set(try (everyOpGraph().nodes + everyLRPOpGraph().nodes).map(\.op.name))
    for member in Pooling.members {
      #expect(names.contains(member.name) && names.contains(member.transposeName), "\(member.name)")
    }
  }

  /// Every element-wise function in a chain: its name printed, parsed back, its shape kept.
  @Test func everyElementwiseFunctionPrintsAndParses() throws {
    var b = GraphBuilder(name: "elementwise")
    var x = try b.addInput(dims: [2, 3, 4], range: InputAttributes(), name: "image")
    for function in ElementwiseFunction.allCases {
      x = try b.add(.elementwise(function), [x])
      #expect(b.type(of: x).dims == [2, 3, 4])
    }
    b.setOutputs([x])
    let text = b.graph.text
    for function in ElementwiseFunction.allCases { #expect(text.contains(" = \(function.name)(%")) }
    let parsed = try Graph(parsing: text)
    #expect(parsed == b.graph)
    #expect(parsed.text == text)
  }

  @Test func lrpOpsPrintParsePrint() throws {
    let graph = try everyLRPOpGraph()
    #expect(graph.verify().isEmpty)
    let parsed = try Graph(parsing: graph.text)
    #expect(parsed == graph)
    #expect(parsed.text == graph.text)
  }

  @Test func printParsePrintIsIdentity() throws {
    let graph = try everyOpGraph()
    let text = graph.text
    let parsed = try Graph(parsing: text)
    #expect(parsed == graph)
    #expect(parsed.text == text)
  }

  @Test func printsTheDocumentedForm() throws {
    let lines = try everyOpGraph().text.split(separator: "\n")
    #expect(lines.first == "graph every_op -> sigmoid {")
    #expect(lines[1] == "  %0 = input() @image {range=[-1.0,2.5]} : f32[N,3,17,15]")
    #expect(
      lines[2]
        == "  %1 = conv(%0) @stem.conv {out=8, kernel=[3,5], stride=[2,1], pad=[1,2], dilation=[1,2], groups=1, bias=true} : f32[N,8,9,11]"
    )
    #expect(lines[3] == "  %2 = bn(%1) @stem.bn {eps=0.001, momentum=0.01} : f32[N,8,9,11]")
    #expect(lines.suffix(2) == ["  return %19", "}"])
  }

  @Test func ignoresBlankAndCommentLines() throws {
    let text = "// a comment\n\ngraph g -> softmax {\n  %0 = input() @x {range=[0.0,1.0]} : f32[N,4]\n\n  // linear\n  %1 = linear(%0) @fc {out=2, bias=false} : f32[N,2]\n  return %1\n}\n"
    let graph = try Graph(parsing: text)
    #expect(graph.nodes.count == 2)
    #expect(graph.parameters.map(\.name) == ["fc.weight"])
  }

  /// Each malformed text with the line, column and message its parse must report.
  static let malformed: [(text: String, line: Int, column: Int, message: String)] = [
    ("", 1, 1, "empty graph text"),
    ("grap g -> softmax {", 1, 1, "expected 'graph'"),
    ("graph g -> argmax {", 1, 12, "unknown output kind 'argmax' (softmax or sigmoid)"),
    ("graph g -> softmax {\n  %0 = input() @x {range=[0.0,1.0]} : f32[N,4]\n", 1, 1, "graph has no 'return' line"),
    ("graph g -> softmax {\n  %1 = input() @x {range=[0.0,1.0]} : f32[N,4]\n  return %1\n}", 2, 4, "expected node %0 (nodes are numbered in order)"),
    ("graph g -> softmax {\n  %0 = inptu() @x {range=[0.0,1.0]} : f32[N,4]\n  return %0\n}", 2, 8, "unknown op 'inptu'"),
    ("graph g -> softmax {\n  %0 = input() @x {range=[0.0,1.0]} : f32[N,4]\n  %1 = relu(%2) : f32[N,4]\n  return %1\n}", 3, 14, "%2 is not defined before this line"),
    ("graph g -> softmax {\n  %0 = input() @x {range=[0.0,1.0], size=3} : f32[N,4]\n  return %0\n}", 2, 19, "input: unknown attribute 'size'"),
    ("graph g -> softmax {\n  %0 = input() @x {} : f32[N,4]\n  return %0\n}", 2, 20, "expected attribute name"),
    ("graph g -> softmax {\n  %0 = input() @x : f32[N,4]\n  return %0\n}", 2, 19, "input: missing attribute 'range'"),
    ("graph g -> softmax {\n  %0 = input() @x {range=[0.0,1.0]} : f16[N,4]\n  return %0\n}", 2, 39, "unknown element type 'f16'"),
    ("graph g -> softmax {\n  %0 = input() @x {range=[0.0,1.0]} : f32[N,4]\n  %1 = relu(%0) : f32[N,5]\n  return %1\n}", 4, 1, "invalid graph: %1: relu has type f32[N,5], but its inputs give f32[N,4]"),
    ("graph g -> softmax {\n  %0 = input() @x {range=[0.0,1.0]} : f32[N,4]\n  %1 = linear(%0) {out=2, bias=true} : f32[N,2]\n  return %1\n}", 4, 1, "invalid graph: %1: linear owns parameters but has no name"),
    ("graph g -> softmax {\n  %0 = input() @x {range=[0.0,1.0]} : f32[N,4]\n  return %0\n}\nextra", 5, 1, "text after the graph's '}'"),
    ("graph g -> softmax {\n  %0 = input() @x {range=[0.0,1.0]} : f32[N,4] junk\n  return %0\n}", 2, 48, "unexpected text at end of line"),
    ("graph g -> softmax {\n  %0 = input() @x {range=[0.0,1.0]} : f32[N,4]\n  %1 = conv(%0) @c {out=2, kernel=[3], stride=[1,1], pad=[0,0], dilation=[1,1], groups=1, bias=true} : f32[N,2]\n  return %1\n}", 3, 20, "conv: attribute 'kernel' must be [height,width] integers"),
  ]

  @Test(arguments: malformed.indices) func reportsMalformedText(_ index: Int) {
    let case_ = Self.malformed[index]
    #expect(throws: GraphTextError(line: case_.line, column: case_.column, message: case_.message)) {
      _ = try Graph(parsing: case_.text)
    }
  }
}
