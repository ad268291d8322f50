/// A static dataflow graph: nodes in an array whose order is an execution order, each node
/// one op with one output value. A value is named by the node that produces it.

public struct NodeID: Sendable, Hashable, Comparable, CustomStringConvertible {
  public var index: Int
  public init(_ index: Int) { self.index = index }
  public static func < (a: NodeID, b: NodeID) -> Bool { a.index < b.index }
  public var description: String { "%\(index)" }
}

public struct Node: Sendable, Hashable {
  public var op: Op
  public var inputs: [NodeID]
  /// The scoped label (`features.denseblock1.denselayer1.conv1`); names the parameters.
  public var name: String?
  public var type: TensorType

  public init(op: Op, inputs: [NodeID], name: String?, type: TensorType) {
    self.op = op
    self.inputs = inputs
    self.name = name
    self.type = type
  }
}

/// How the output is read: class logits [K], one class per sample (softmax) or independent
/// labels (sigmoid); or a segmentation, one logit per pixel [1, H, W] of the input's
/// H × W (the foreground's probability is its sigmoid).
public enum OutputKind: String, Sendable, Hashable, CaseIterable {
  case softmax
  case sigmoid
  case segmentation

  /// The words the language's `->` takes, for messages.
  public static let spelled = "'softmax', 'sigmoid' or 'segmentation'"
}

public struct Graph: Sendable, Hashable {
  public var name: String
  public var outputKind: OutputKind
  public var nodes: [Node]
  public var outputs: [NodeID]
  /// A multi-task classifier's second head: one logit per pixel [1, H, W] beside its logits
  /// (`return logits, segmentation;`). Not among `outputs`, whose meaning the LRP block fixes
  /// (logits, heatmaps); the sessions keep it and training seeds it after them.
  public var segmentation: NodeID?

  public init(name: String, outputKind: OutputKind, nodes: [Node] = [], outputs: [NodeID] = []) {
    self.name = name
    self.outputKind = outputKind
    self.nodes = nodes
    self.outputs = outputs
  }

  public subscript(id: NodeID) -> Node { nodes[id.index] }

  public var inputIDs: [NodeID] {
    nodes.indices.filter { if case .input = nodes[$0].op { true } else { false } }.map(NodeID.init)
  }

  /// For every node, the nodes that read its value, in order.
  public var consumers: [[NodeID]] {
    var result = Array(repeating: [NodeID](), count: nodes.count)
    for (index, node) in nodes.enumerated() {
      for input in node.inputs { result[input.index].append(NodeID(index)) }
    }
    return result
  }
}

/// Appends nodes to a graph, inferring each output type as it goes.
public struct GraphBuilder: Sendable {
  public private(set) var graph: Graph

  public init(name: String, outputKind: OutputKind = .softmax) {
    graph = Graph(name: name, outputKind: outputKind)
  }

  public var nodeCount: Int { graph.nodes.count }

  public func type(of id: NodeID) -> TensorType { graph[id].type }

  /// Adds a graph input of the given per-sample shape and value range.
  public mutating func addInput(
    dims: [Int], range: InputAttributes, name: String
  ) throws(ShapeError) -> NodeID {
    try Op.input(range).validateAttributes()
    guard !dims.isEmpty, dims.allSatisfy({ $0 >= 1 && $0 <= maximumDimension }) else {
      throw ShapeError("input dimensions must be between 1 and \(maximumDimension), got \(shapeText(dims))")
    }
    guard dims.count == 3 || dims.count == 1 else {
      throw ShapeError("an input is an image [channels, height, width] or a vector [features], got \(shapeText(dims))")
    }
    return append(Node(op: .input(range), inputs: [], name: name, type: TensorType(dims: dims)))
  }

  /// Adds an op reading `inputs`; throws when the op does not accept their types.
  public mutating func add(_ op: Op, _ inputs: [NodeID], name: String? = nil) throws(ShapeError)
    -> NodeID
  {
    let type = try op.inferType(inputs.map { graph[$0].type })
    return append(Node(op: op, inputs: inputs, name: name, type: type))
  }

  public mutating func setOutputs(_ outputs: [NodeID]) { graph.outputs = outputs }
  public mutating func setSegmentation(_ node: NodeID?) { graph.segmentation = node }
  public mutating func setOutputKind(_ kind: OutputKind) { graph.outputKind = kind }

  private mutating func append(_ node: Node) -> NodeID {
    graph.nodes.append(node)
    return NodeID(graph.nodes.count - 1)
  }
}
