import Testing

@testable import GraphIR

@Suite struct VerifierTests {
  @Test func acceptsWellFormedGraph() throws {
    #expect(try everyOpGraph().verify().isEmpty)
  }

  @Test func reportsStaleType() throws {
    var graph = try everyOpGraph()
    graph.nodes[3].type = TensorType(dims: [8, 9, 14])
    #expect(graph.verify().first?.description == "%3: relu has type f32[N,8,9,14], but its inputs give f32[N,8,9,11]")
  }

  @Test func reportsForwardReference() throws {
    var graph = try everyOpGraph()
    graph.nodes[3].inputs = [NodeID(5)]
    #expect(graph.verify().first?.description == "%3: relu reads a value that is not defined before it")
  }

  @Test func reportsDuplicateParameters() throws {
    var graph = try everyOpGraph()
    graph.nodes[4].name = "stem.conv"
    graph.nodes[4].op = .conv2d(Conv2DAttributes(outChannels: 8, kernel: Pair(square: 3), padding: Pair(square: 1), groups: 4, hasBias: true))
    #expect(graph.verify().map(\.description) == [
      "%4: parameter 'stem.conv.weight' is also defined by %1",
      "%4: parameter 'stem.conv.bias' is also defined by %1",
    ])
  }

  @Test func reportsUnnamedParameterOwnerAndBadName() throws {
    var graph = try everyOpGraph()
    graph.nodes[2].name = nil
    graph.nodes[3].name = "a..b"
    #expect(graph.verify().map(\.description) == [
      "%2: bn owns parameters but has no name",
      "%3: name 'a..b' is not dot-separated segments of letters, digits and '_'",
    ])
  }

  @Test func reportsMissingOutputsAndBadInput() throws {
    var graph = try everyOpGraph()
    graph.outputs = []
    graph.nodes[0].type = TensorType(dims: [3, 0, 15])
    let messages = graph.verify().map(\.description)
    #expect(messages.first == "%0: input shape [3, 0, 15] must be [C, H, W] or [F] with sizes from 1 to 16777216")
    #expect(messages.last == "graph has no outputs")
  }
}
