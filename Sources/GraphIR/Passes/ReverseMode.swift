/// Reverse-mode differentiation: Graph → AdjointProgram (AdjointProgram.swift).
///
/// Training an ISNet differentiates the ISNet loss through the classifier *and* the LRP
/// block (paper section 4.3, eq. 11; the weights appear in both, so the gradient is second
/// order in them). The loss supplies the adjoints of the graph's outputs (logits and
/// heatmaps); this pass walks the nodes in reverse order and emits, for each value whose
/// adjoint is live, one step per operand and trainable parameter it depends on.
///
/// Detachments, as the reference implementation trains (DESIGN.md §3): the LRP block reads
/// each ε-rule pre-activation z through an affine map whose batch-norm statistics (the
/// batch's mean and unbiased variance in training), batch-norm shifts β and layer biases are
/// constants. Such a z therefore gets a `view` adjoint: through a batch norm it reaches γ
/// (by x̂) and the input (by γ/σ), never β; through a convolution or linear layer it reaches
/// the weight and the input, never the bias. Where everything upstream up to the
/// activations has the same derivative in both streams (concatenations, pools and bias-free
/// convolutions of ReLU outputs, DenseNet's case), the view is merged into the value's
/// adjoint at once, so no work is done twice. Running statistics are never differentiated.
///
/// `differentiatingStatistics` (explanation distillation: a loss on the heatmaps' scale)
/// keeps β and biases detached but makes the LRP block's batch statistics μ and σᵤ
/// functions of the batch norm's input x, as autograd through the block does. Three readers:
/// the batch norm's view step (its derivative now includes ∂μ/∂x and ∂σᵤ/∂x), and one
/// `statistics` step per batch_norm_transpose (γ/σᵤ) and per Zᴮ layer with a folded norm
/// (W' and b' read μ and σᵤ), each adding into the adjoint of x. That adjoint is the one the
/// view step of the same norm writes (x's view where it has one, its value otherwise): the
/// block reads x with biases detached, and x's statistics are read the same way, so a bias
/// before a norm, which the statistics cancel, stays without a gradient from the block.
/// The LRP block's nodes follow the classifier's, so the reverse order runs every such step
/// before x's own.

public struct ReverseModeError: Error, Sendable, CustomStringConvertible, Equatable {
  public var node: NodeID?
  public var message: String
  public init(node: NodeID?, _ message: String) {
    self.node = node
    self.message = message
  }
  public var description: String { node.map { "\($0): \(message)" } ?? message }
}

extension Graph {
  /// The adjoint program of this graph for a loss of its outputs (all of them seeded).
  /// `differentiatingStatistics`: differentiate the LRP block's batch statistics (see the
  /// file comment) instead of treating them as constants.
  /// `constants`: parameter names held constant (a frozen sub-model).
  public func reverseMode(differentiatingStatistics: Bool = false, constants: Set<String> = []) throws(ReverseModeError) -> AdjointProgram {
    var pass = ReverseModePass(graph: self, differentiatingStatistics: differentiatingStatistics, constants: constants)
    return try pass.run()
  }
}

private struct ReverseModePass {
  let graph: Graph
  let differentiatingStatistics: Bool
  let constants: Set<String>
  /// The batch-norm node of each name (the LRP block reads statistics by name).
  var normNodes: [String: NodeID] = [:]
  /// Nodes whose value depends on a trainable parameter.
  var trainable: [Bool]
  /// Nodes whose view derivative equals their value derivative (see the file comment).
  var viewInvariant: [Bool]
  var live: Set<AdjointRef> = []
  var steps: [AdjointStep] = []
  var gradients: Set<String> = []

  init(graph: Graph, differentiatingStatistics: Bool, constants: Set<String>) {
    self.graph = graph
    self.differentiatingStatistics = differentiatingStatistics
    self.constants = constants
    trainable = Array(repeating: false, count: graph.nodes.count)
    viewInvariant = Array(repeating: false, count: graph.nodes.count)
    for (index, node) in graph.nodes.enumerated() {
      let readsTrainable = graph.parameterNames(of: NodeID(index)).contains { $0.role.isTrainable && !constants.contains($0.name) }
      trainable[index] = readsTrainable || node.inputs.contains { trainable[$0.index] }
      viewInvariant[index] =
        Self.sameDerivativeInBothStreams(node.op)
        && node.inputs.allSatisfy { Self.isRegionBoundary(graph[$0].op) || viewInvariant[$0.index] }
      if case .batchNorm = node.op, let name = node.name { normNodes[name] = NodeID(index) }
    }
  }

  /// The ops of an affine region between activations, which the ε-rule's view reads.
  static func isRegionOp(_ op: Op) -> Bool {
    switch op {
    case .conv2d, .linear, .batchNorm, .pool, .flatten, .dropout, .concat, .add, .mul, .upsample:
      true
    case .input, .relu, .elementwise, .lrpSeed, .lrpEpsilonDivide, .lrpMultiply,
      .batchNormTranspose, .conv2dTranspose, .linearTranspose, .poolTranspose, .sliceChannels,
      .unflatten, .zbPreactivation, .zbRelevance:
      false
    }
  }

  static func isRegionBoundary(_ op: Op) -> Bool { !isRegionOp(op) }

  /// Region ops with no detached part: no bias, no batch statistics.
  static func sameDerivativeInBothStreams(_ op: Op) -> Bool {
    switch op {
    case .conv2d(let a): !a.hasBias
    case .linear(let a): !a.hasBias
    case .pool, .flatten, .dropout, .concat, .add, .mul, .upsample: true
    case .batchNorm: false
    case .input, .relu, .elementwise, .lrpSeed, .lrpEpsilonDivide, .lrpMultiply,
      .batchNormTranspose, .conv2dTranspose, .linearTranspose, .poolTranspose, .sliceChannels,
      .unflatten, .zbPreactivation, .zbRelevance:
      false
    }
  }

  mutating func run() throws(ReverseModeError) -> AdjointProgram {
    guard !graph.outputs.isEmpty else { throw ReverseModeError(node: nil, "graph '\(graph.name)' has no outputs") }
    let seeds = graph.outputs + (graph.segmentation.map { [$0] } ?? [])
    for output in seeds { live.insert(AdjointRef(output, .value)) }
    for index in graph.nodes.indices.reversed() {
      let id = NodeID(index)
      for stream in AdjointStream.allCases where live.contains(AdjointRef(id, stream)) {
        try differentiate(id, from: stream)
      }
    }
    let names = graph.parameters.map(\.name).filter { gradients.contains($0) }
    return AdjointProgram(
      graph: graph, seeds: seeds, steps: steps, adjoints: live.sorted(), gradients: names,
      differentiatesStatistics: differentiatingStatistics, constants: constants)
  }

  /// Emits the steps of one node's adjoint in one stream.
  mutating func differentiate(_ id: NodeID, from stream: AdjointStream) throws(ReverseModeError) {
    let node = graph[id]
    try checkDifferentiable(id)
    for operand in differentiableOperands(node) where trainable[node.inputs[operand].index] {
      var destination: AdjointStream = stream == .view && Self.isRegionOp(node.op) ? .view : .value
      if case .lrpEpsilonDivide = node.op, operand == 1 { destination = .view }
      let input = node.inputs[operand]
      let ref = AdjointRef(input, destination == .view ? viewDestination(input) : .value)
      live.insert(ref)
      steps.append(AdjointStep(node: id, source: stream, target: .operand(operand, ref)))
    }
    for parameter in graph.parameterNames(of: id) where receivesGradient(node.op, parameter.role, parameter.name, stream, id) {
      gradients.insert(parameter.name)
      steps.append(AdjointStep(node: id, source: stream, target: .parameter(name: parameter.name, role: parameter.role)))
    }
    if differentiatingStatistics, let norm = statisticsRead(by: node) {
      let input = graph[norm].inputs[0]
      if trainable[input.index] {
        let ref = AdjointRef(input, viewDestination(input))
        live.insert(ref)
        steps.append(AdjointStep(node: id, source: stream, target: .statistics(of: norm, ref)))
      }
    }
  }

  /// Where a view reaching `input` adds: its own view, unless the view merges into the value
  /// there (an activation point, or a region with no detached part).
  func viewDestination(_ input: NodeID) -> AdjointStream {
    Self.isRegionBoundary(graph[input].op) || viewInvariant[input.index] ? .value : .view
  }

  /// The batch norm whose statistics an LRP node reads besides its operands: a
  /// batch_norm_transpose's (γ/σᵤ), a Zᴮ layer's folded norm (W' and b'). A batch norm's own
  /// view reads them too, but its view step differentiates them itself.
  func statisticsRead(by node: Node) -> NodeID? {
    let norm: NodeID? = switch node.op {
    case .batchNormTranspose: node.name.flatMap { normNodes[$0] }
    case .zbPreactivation(let a), .zbRelevance(let a): a.conv.epilogue.foldedNorm.flatMap { normNodes[$0.name] }
    default: nil
    }
    // A constant norm's statistics are its running ones: constants too.
    guard let norm, let name = graph[norm].name, !constants.contains("\(name).weight") else { return nil }
    return norm
  }

  /// The operands an op's derivative reaches (the others are routing or constant inputs).
  func differentiableOperands(_ node: Node) -> [Int] {
    switch node.op {
    case .input: []
    case .conv2d, .batchNorm, .relu, .elementwise, .pool, .linear, .flatten, .dropout, .lrpSeed,
      .batchNormTranspose, .conv2dTranspose, .linearTranspose, .sliceChannels, .unflatten, .upsample:
      [0]
    // A winner-take-all transpose's pooled value only locates each window's arg-max.
    case .poolTranspose: [0]
    case .concat, .add: Array(node.inputs.indices)
    case .lrpEpsilonDivide, .lrpMultiply, .mul: [0, 1]
    // The first layer's input is the image: never trainable.
    case .zbPreactivation: []
    case .zbRelevance: [1]
    }
  }

  /// Whether `role` of a parameter the node reads gets a gradient from `stream`.
  func receivesGradient(_ op: Op, _ role: ParameterRole, _ name: String, _ stream: AdjointStream, _ id: NodeID) -> Bool {
    guard role.isTrainable, !constants.contains(name) else { return false }
    switch op {
    // Biases and shifts are detached where the LRP block reads them (the view).
    case .conv2d, .linear, .batchNorm: return role == .weight || stream == .value
    case .batchNormTranspose, .conv2dTranspose, .linearTranspose: return role == .weight
    // Zᴮ reads the convolution's weight and its folded batch norm's γ (b' = γ(b − μ)/σ + β
    // with b, μ, σ and β constant); the convolution's own weight is named by the node.
    case .zbPreactivation, .zbRelevance: return role == .weight
    case .input, .relu, .elementwise, .pool, .flatten, .dropout, .concat, .add, .mul, .upsample,
      .lrpSeed, .lrpEpsilonDivide, .lrpMultiply, .poolTranspose, .sliceChannels, .unflatten:
      return false
    }
  }

  /// Rejects graphs the runtime's gradient kernels do not cover, naming the node.
  func checkDifferentiable(_ id: NodeID) throws(ReverseModeError) {
    let node = graph[id]
    func epilogue(_ e: Epilogue) throws(ReverseModeError) {
      if e.foldedNorm != nil || e.relu {
        throw ReverseModeError(node: id, "\(node.op.name) has a fused epilogue: train the classifier graph, not its deployment form")
      }
    }
    switch node.op {
    case .conv2d(let a):
      try epilogue(a.epilogue)
      if a.groups != 1 { throw ReverseModeError(node: id, "grouped convolutions (groups \(a.groups)) have no gradient kernel yet") }
    case .linear(let a): try epilogue(a.epilogue)
    case .batchNorm(let a) where a.fusedReLU:
      throw ReverseModeError(node: id, "\(node.op.name) has a fused ReLU: train the classifier graph, not its deployment form")
    case .conv2dTranspose(let a) where a.forward.groups != 1:
      throw ReverseModeError(node: id, "grouped convolutions have no gradient kernel yet")
    case .zbPreactivation(let a), .zbRelevance(let a):
      if a.conv.groups != 1 { throw ReverseModeError(node: id, "grouped convolutions have no gradient kernel yet") }
    default: break
    }
  }
}
