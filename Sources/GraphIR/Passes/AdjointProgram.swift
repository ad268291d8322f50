/// The reverse-mode program of a graph (ReverseMode.swift): which adjoints exist, and the
/// ordered steps that fill them and the parameters' gradients. It refers to the forward
/// graph's nodes; a runtime executes each step with the derivative of that node's op.
///
/// Two adjoints per value are possible. `value` is the ordinary gradient. `view` is the
/// gradient of the value *as the LRP block's ε-rule reads it* (paper section 4.3, the
/// reference implementation's detachments): there a batch norm's statistics are constants
/// (the batch's mean and unbiased variance in training) and the biases and BN shifts of the
/// affine layer are detached, so the same value has a different derivative. The two meet
/// where a view reaches the activations a relevance rule multiplies by.
///
/// With `differentiatesStatistics` the LRP block's batch statistics (mean and unbiased σ)
/// are functions of the batch norm's input instead of constants: a batch norm's view step
/// carries their derivative, and every other LRP node that reads them (batch_norm_transpose,
/// a Zᴮ layer's folded norm) adds a `statistics` step into the adjoint of that input.

/// Which adjoint of a value (see the file comment).
public enum AdjointStream: String, Sendable, Hashable, CaseIterable {
  case value
  case view
}

/// One adjoint buffer: the gradient of a node's value in one stream.
public struct AdjointRef: Sendable, Hashable, Comparable, CustomStringConvertible {
  public var node: NodeID
  public var stream: AdjointStream

  public init(_ node: NodeID, _ stream: AdjointStream) {
    self.node = node
    self.stream = stream
  }

  public static func < (a: AdjointRef, b: AdjointRef) -> Bool {
    (a.node, a.stream == .value ? 0 : 1) < (b.node, b.stream == .value ? 0 : 1)
  }

  /// `d%5` for the value's adjoint, `v%5` for its view's.
  public var description: String { (stream == .value ? "d" : "v") + node.description }
}

/// Where a step adds its contribution.
public enum AdjointTarget: Sendable, Hashable {
  /// The adjoint of the node's input number `operand`.
  case operand(Int, AdjointRef)
  /// A trainable parameter's gradient: its full name and its role in the node's op.
  case parameter(name: String, role: ParameterRole)
  /// The adjoint of the input of the batch norm `of`, through the batch statistics the
  /// node reads from it (only when statistics are differentiated).
  case statistics(of: NodeID, AdjointRef)
}

/// `target += ∂node/∂(operand or parameter) applied to adjoint(node, source)`.
public struct AdjointStep: Sendable, Hashable {
  public var node: NodeID
  public var source: AdjointStream
  public var target: AdjointTarget

  public init(node: NodeID, source: AdjointStream, target: AdjointTarget) {
    self.node = node
    self.source = source
    self.target = target
  }
}

public struct AdjointProgram: Sendable, Hashable {
  /// The forward graph the steps differentiate.
  public var graph: Graph
  /// The outputs whose value adjoints the loss provides, in the graph's output order, then
  /// a multi-task classifier's segmentation head.
  public var seeds: [NodeID]
  /// In execution order: every contribution to an adjoint precedes the steps reading it.
  public var steps: [AdjointStep]
  /// Every adjoint a step writes or reads, sorted.
  public var adjoints: [AdjointRef]
  /// The parameters that receive gradients, in the graph's parameter order.
  public var gradients: [String]
  /// Whether the LRP block's batch statistics are differentiated (see the file comment);
  /// false: detached, as the reference implementation trains.
  public let differentiatesStatistics: Bool
  /// Parameters held constant (a frozen sub-model): no gradient, nothing differentiated
  /// through them alone, and their batch norms run as in evaluation.
  public let constants: Set<String>

  public init(
    graph: Graph, seeds: [NodeID], steps: [AdjointStep], adjoints: [AdjointRef], gradients: [String],
    differentiatesStatistics: Bool = false, constants: Set<String> = []
  ) {
    self.constants = constants
    self.graph = graph
    self.seeds = seeds
    self.steps = steps
    self.adjoints = adjoints
    self.gradients = gradients
    self.differentiatesStatistics = differentiatesStatistics
  }

  /// The stable text form (`isnetc compile --emit grad`): one line per step,
  /// `d%7 += conv'0(d%8)` (the derivative by operand 0) or
  /// `grad features.conv0.weight += conv'weight(d%8)`, and with statistics differentiated
  /// `d%3 += batch_norm_transpose'statistics%4(v%40)` (through the statistics of node 4).
  public var text: String {
    var lines = ["adjoint \(graph.name) {"]
    lines.append("  seed " + seeds.map { AdjointRef($0, .value).description }.joined(separator: ", "))
    if differentiatesStatistics { lines.append("  differentiate statistics") }
    if !constants.isEmpty { lines.append("  constant " + constants.sorted().joined(separator: ", ")) }
    for step in steps {
      let node = graph[step.node]
      let source = AdjointRef(step.node, step.source)
      let label = node.name.map { " @\($0)" } ?? ""
      switch step.target {
      case .operand(let index, let ref):
        lines.append("  \(ref) += \(node.op.name)'\(index)(\(source))\(label)")
      case .parameter(let name, let role):
        lines.append("  grad \(name) += \(node.op.name)'\(role.rawValue)(\(source))\(label)")
      case .statistics(let norm, let ref):
        lines.append("  \(ref) += \(node.op.name)'statistics\(norm)(\(source))\(label)")
      }
    }
    for name in gradients { lines.append("  gradient \(name)") }
    lines.append("}")
    return lines.joined(separator: "\n") + "\n"
  }
}
