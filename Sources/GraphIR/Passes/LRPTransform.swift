/// The LRP transform: a classifier graph → the same graph plus its LRP block, a second
/// network that shares the classifier's weights and turns each of the K logits into a
/// heatmap over the input (paper sections 4.1 and 4.4–4.7). Outputs: logits [K] and
/// heatmaps [K, C, H, W] per sample.
///
/// The rules are found from the graph's structure, not from the architecture's name:
///
/// - *Activation points* carry relevance: ReLU outputs, the input, and the output of an
///   ε-layer (convolution, linear, average pooling) that feeds another ε-layer directly
///   (DenseNet's global pool before the classifier: two ε steps, as in the reference).
/// - Between activation points the graph is affine: convolutions, linear layers, batch
///   norms, average and max pooling (max pooling with its arg-max fixed is a selection),
///   concatenations, additions, flatten and dropout. For every pre-activation z that ends
///   such a region (a ReLU's input, the logits, a boundary ε-layer's output) the ε-rule
///   takes s = R / (z + ε·sign(z)) (eq. 2), and s travels back through the transposed linear
///   parts of the region (no biases: the reference detaches them): convᵀ, Wᵀ, γ/σ for batch
///   norm (eqs. 14–15: BN fusion), slices for concatenations, arg-max routing that sums
///   for max pooling (section 4.4.1). At an activation point a, R_a += a ⊙ c. A product
///   x ⊙ g is linear in x with the gate g held constant (as attention gates are treated in
///   LRP): c reaches x as g ⊙ c, and none reaches g's branch.
/// - Contributions meeting at one value are summed. That is eq. 21: a DenseNet producer's
///   relevance is the sum over every consumer batch norm of its channel slice, each with
///   that consumer's own z and ε — and residual additions split relevance in proportion to
///   each input's share of z. Summing adjoints where they meet makes a dense block's
///   skips cost one pass, not one per consumer.
/// - The first layer (a convolution, optionally followed by batch norm, read by a ReLU)
///   uses the Zᴮ rule with the input's declared range (section 4.4.3), or, with
///   `LRPOptions.inputRule` `.epsilon`, the ε-rule like every other layer: the input is then
///   an ordinary activation point, R_x = x ⊙ c (gradient × input there).
/// - Dropout is the identity (section 4.4.4).
///
/// The forward values the rules read (a, z, arg-max) are the forward pass's own: in
/// evaluation mode they equal what the reference recomputes, so nothing is computed twice.


public struct LRPOptions: Sendable, Hashable, Codable {
  /// The rule of the layer that reads the input.
  public enum InputRule: String, Sendable, Hashable, Codable, CaseIterable {
    /// The paper's Zᴮ rule with the input's declared range (section 4.4.3).
    case zb
    /// The ε-rule, as every other layer: relevance at the input is x ⊙ c.
    case epsilon
  }

  /// The ε of the ε-rule (and of the Zᴮ layer's stabiliser): the paper's 0.01.
  public static let defaultEpsilon = 0.01
  public var epsilon: Double
  /// The first layer's rule: Zᴮ by default, as the paper.
  public var inputRule: InputRule
  /// One explained class per sample, chosen at run time, instead of every class: the block
  /// computes one heatmap per sample (Faster-ISNet's selective heatmaps, distillation's
  /// matched class). Not stored: a run sets it from what its loss reads.
  public var onePerSample: Bool
  public init(epsilon: Double = defaultEpsilon, inputRule: InputRule = .zb, onePerSample: Bool = false) {
    self.epsilon = epsilon
    self.inputRule = inputRule
    self.onePerSample = onePerSample
  }

  private enum CodingKeys: String, CodingKey { case epsilon, inputRule }

  /// Options stored before `inputRule` existed (training runs' run.json) read as Zᴮ, the
  /// rule they were trained with.
  public init(from decoder: Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    epsilon = try c.decode(Double.self, forKey: .epsilon)
    inputRule = try c.decodeIfPresent(InputRule.self, forKey: .inputRule) ?? .zb
    onePerSample = false
  }

  /// What is wrong with these options, in the words every command reports, or nil.
  public var problem: String? {
    epsilon > 0 && epsilon.isFinite ? nil : "the LRP ε must be positive and finite, got \(epsilon)"
  }
}

extension Graph {
  /// Whether the graph's LRP block explains one class per sample, chosen at run time.
  public var explainsOneClassPerSample: Bool {
    nodes.contains { if case .lrpSeed(let a) = $0.op { a.onePerSample } else { false } }
  }

  /// The relevance rows per sample of the graph's LRP block (one per explained class), 0
  /// without a block.
  public var relevanceRowsPerSample: Int {
    nodes.first { if case .lrpSeed = $0.op { true } else { false } }.map { $0.type.dims[0] } ?? 0
  }
}

public struct LRPError: Error, Sendable, CustomStringConvertible, Equatable {
  public var node: NodeID?
  public var message: String
  public var description: String { node.map { "\($0): \(message)" } ?? message }
}

extension Graph {
  /// The classifier with its LRP block appended: outputs [logits, heatmaps].
  public func withLRPBlock(_ options: LRPOptions = LRPOptions()) throws(LRPError) -> Graph {
    var transform = try LRPBuilder(classifier: self, options: options)
    return try transform.build()
  }
}

private struct LRPBuilder {
  let classifier: Graph
  let options: LRPOptions
  let consumers: [[NodeID]]
  var graph: Graph
  /// Relevance accumulated at activation points, and adjoints (c = transposed linear
  /// parts applied to s) accumulated at values inside affine regions.
  var relevance: [Int: NodeID] = [:]
  var adjoint: [Int: NodeID] = [:]
  var activation: [Bool]
  /// Nodes the Zᴮ rule has taken care of.
  var handled: Set<Int> = []

  init(classifier: Graph, options: LRPOptions) throws(LRPError) {
    self.classifier = classifier
    self.options = options
    consumers = classifier.consumers
    graph = classifier
    activation = Array(repeating: false, count: classifier.nodes.count)
    try checkPreconditions()
    for index in classifier.nodes.indices { activation[index] = try isActivationPoint(index) }
  }

  private func fail(_ index: Int?, _ message: String) -> LRPError {
    let where_ = index.map { i in classifier.nodes[i].name.map { " (\($0))" } ?? "" } ?? ""
    return LRPError(node: index.map(NodeID.init), message: message + where_)
  }

  private func checkPreconditions() throws(LRPError) {
    guard classifier.inputIDs.count == 1, classifier[classifier.inputIDs[0]].type.rank == 3 else {
      throw fail(nil, "the LRP block needs one image input [C, H, W]")
    }
    guard classifier.outputs.count == 1, classifier[classifier.outputs[0]].type.rank == 1 else {
      throw fail(nil, "the LRP block needs one output, the logits [K]")
    }
    for (index, node) in classifier.nodes.enumerated() {
      let deployed = "has deployment fusions; derive the LRP block from the classifier, not its deployment graph"
      switch node.op {
      case .conv2d(let a) where !a.epilogue.isEmpty:
        throw fail(index, "\(node.op.name) \(deployed)")
      case .linear(let a) where !a.epilogue.isEmpty:
        throw fail(index, "\(node.op.name) \(deployed)")
      case .batchNorm(let a) where a.fusedReLU:
        throw fail(index, "\(node.op.name) \(deployed)")
      case _ where node.op.isLRPBlockOp:
        throw fail(index, "the graph already holds an LRP block")
      default:
        continue
      }
    }
  }

  /// What each classifier op is to the LRP rules (one exhaustive switch: a new op must be
  /// placed here before the transform builds).
  private enum Role { case activation, epsilonLayer, plumbing, affine, lrpBlock }

  private static func role(_ op: Op) -> Role {
    switch op {
    // Element-wise functions pass relevance through unchanged, as ReLU does.
    case .input, .relu, .elementwise: .activation
    // One LRP step each (the ε-rule); their output is a pre-activation z.
    case .conv2d, .linear: .epsilonLayer
    // Move values without a step of their own.
    case .flatten, .dropout, .concat: .plumbing
    // As the member's rule says: average pooling is an ε-layer, max pooling plumbing.
    case .pool(let pooling): pooling.lrpRule == .epsilonLayer ? .epsilonLayer : .plumbing
    // Affine, inside a step: batch norm is fused into the step, additions split it, a
    // product is linear in its first input (the gate, its second, is a constant), and
    // resampling is linear.
    case .batchNorm, .add, .mul, .upsample: .affine
    case .lrpSeed, .lrpEpsilonDivide, .lrpMultiply, .batchNormTranspose, .conv2dTranspose,
      .linearTranspose, .poolTranspose, .sliceChannels, .unflatten, .zbPreactivation,
      .zbRelevance:
      .lrpBlock
    }
  }

  private static func isEpsilonLayer(_ op: Op) -> Bool { role(op) == .epsilonLayer }
  /// The activation points with an input: ReLU and the element-wise functions.
  private static func isNonlinearity(_ op: Op) -> Bool { role(op) == .activation && op.arity != .exactly(0) }
  private static func isPlumbing(_ op: Op) -> Bool { role(op) == .plumbing }

  private func isActivationPoint(_ index: Int) throws(LRPError) -> Bool {
    let op = classifier.nodes[index].op
    if Self.role(op) == .activation { return true }
    guard Self.isEpsilonLayer(op), !classifier.outputs.contains(NodeID(index)) else { return false }
    // Follow the value through plumbing to the ops that use it.
    var layers = false
    var others = false
    var stack = consumers[index].map(\.index)
    var seen: Set<Int> = []
    while let next = stack.popLast() {
      guard seen.insert(next).inserted else { continue }
      let consumer = classifier.nodes[next].op
      if Self.isPlumbing(consumer) {
        stack += consumers[next].map(\.index)
      } else if Self.isEpsilonLayer(consumer) {
        layers = true
      } else {
        others = true
      }
    }
    if layers && others {
      throw fail(index, "\(op.name)'s output reaches both another layer and a batch norm, addition or ReLU; the LRP rules for such a mix are not defined")
    }
    return layers
  }

  mutating func build() throws(LRPError) -> Graph {
    let output = classifier.outputs[0].index
    let seed = append(.lrpSeed(LRPSeedAttributes(onePerSample: options.onePerSample)), [id(output)], name: nil)
    adjoint[output] = append(.lrpEpsilonDivide(EpsilonAttributes(epsilon: options.epsilon)), [seed, id(output)], name: nil)

    for index in classifier.nodes.indices.reversed() where !handled.contains(index) {
      let node = classifier.nodes[index]
      if Self.isNonlinearity(node.op) {
        guard let r = relevance[index] else { continue }
        try stepThroughNonlinearity(index, relevance: r)
        continue
      }
      if case .input = node.op { continue }
      if activation[index], let r = relevance[index] {
        // A boundary ε-layer: its own output is the z of the step above it.
        let value = append(.lrpEpsilonDivide(EpsilonAttributes(epsilon: options.epsilon)), [r, id(index)], name: nil)
        accumulate(.adjoint, index, value)
      }
      guard let c = adjoint[index] else { continue }
      try transpose(index, c)
    }
    let input = classifier.inputIDs[0].index
    guard let heatmaps = relevance[input] else {
      throw fail(input, "no relevance reaches the input")
    }
    graph.outputs = [classifier.outputs[0], heatmaps]
    if let problem = graph.verify().first {
      throw LRPError(node: problem.node, message: "internal error: the LRP graph is invalid: \(problem.message)")
    }
    return graph
  }

  /// R at a ReLU's (or element-wise function's) output → s at its input z; or, for the
  /// first layer under the Zᴮ input rule, the Zᴮ rule. Under the ε input rule the first
  /// layer takes this same ε step and its transpose reaches the input as x ⊙ c (`send`).
  private mutating func stepThroughNonlinearity(_ index: Int, relevance r: NodeID) throws(LRPError) {
    let z = classifier.nodes[index].inputs[0].index
    if options.inputRule == .zb, let first = firstLayer(feeding: z) {
      try zBeta(first: first, relevance: r)
      return
    }
    let value = append(.lrpEpsilonDivide(EpsilonAttributes(epsilon: options.epsilon)), [r, id(z)], name: nil)
    accumulate(.adjoint, z, value)
  }

  /// The convolution (and batch norm) between the input and the ReLU whose input is `z`,
  /// when `z` is the first layer's pre-activation.
  private func firstLayer(feeding z: Int) -> (conv: Int, norm: Int?)? {
    let input = classifier.inputIDs[0].index
    let node = classifier.nodes[z]
    if case .conv2d = node.op, node.inputs[0].index == input { return (z, nil) }
    if case .batchNorm = node.op, case .conv2d = classifier.nodes[node.inputs[0].index].op,
      classifier.nodes[node.inputs[0].index].inputs[0].index == input
    {
      return (node.inputs[0].index, z)
    }
    return nil
  }

  private mutating func zBeta(first: (conv: Int, norm: Int?), relevance r: NodeID) throws(LRPError) {
    let input = classifier.inputIDs[0].index
    guard case .conv2d(var conv) = classifier.nodes[first.conv].op,
      case .input(let range) = classifier.nodes[input].op
    else { return }
    if first.norm != nil && consumers[first.conv].count != 1 {
      throw fail(first.conv, "the first convolution is read by more than its batch norm; the Zᴮ rule needs it alone")
    }
    if consumers[input].count != 1 {
      throw fail(input, "the input feeds more than the first convolution; the Zᴮ rule needs it to feed that convolution alone")
    }
    if let norm = first.norm {
      guard case .batchNorm(let bn) = classifier.nodes[norm].op, let name = classifier.nodes[norm].name else { return }
      conv.epilogue.foldedNorm = FoldedNorm(name: name, epsilon: bn.epsilon)
      handled.insert(norm)
    }
    handled.insert(first.conv)
    let attributes = ZBetaAttributes(conv: conv, inputDims: classifier.nodes[input].type.dims, low: range.low, high: range.high)
    let name = classifier.nodes[first.conv].name
    let z = append(.zbPreactivation(attributes), [id(input)], name: name)
    let s = append(.lrpEpsilonDivide(EpsilonAttributes(epsilon: options.epsilon)), [r, z], name: nil)
    let value = append(.zbRelevance(attributes), [id(input), s], name: name)
    accumulate(.relevance, input, value)
  }

  /// Sends the adjoint `c` of node `index`'s value to its inputs through the transpose of
  /// its linear part.
  private mutating func transpose(_ index: Int, _ c: NodeID) throws(LRPError) {
    let node = classifier.nodes[index]
    let inputs = node.inputs.map(\.index)
    let inputDims = inputs.first.map { classifier.nodes[$0].type.dims } ?? []
    switch node.op {
    case .conv2d(let a):
      send(append(.conv2dTranspose(ConvTransposeAttributes(forward: a, inputDims: inputDims)), [c], name: node.name), to: inputs[0])
    case .linear(let a):
      send(append(.linearTranspose(LinearTransposeAttributes(inFeatures: inputDims[0], outFeatures: a.outFeatures)), [c], name: node.name), to: inputs[0])
    case .batchNorm(let a):
      send(append(.batchNormTranspose(a), [c], name: node.name), to: inputs[0])
    case .pool(let pooling):
      // Winner-take-all routes by the arg-max, which the pooled output locates.
      let operands = pooling.lrpRule == .winnerTakesAll ? [c, id(index)] : [c]
      send(append(.poolTranspose(PoolTransposeAttributes(forward: pooling, inputDims: inputDims)), operands, name: nil), to: inputs[0])
    case .flatten:
      send(append(.unflatten(UnflattenAttributes(dims: inputDims)), [c], name: nil), to: inputs[0])
    case .dropout:
      send(c, to: inputs[0])
    case .concat:
      var start = 0
      for input in inputs {
        let count = classifier.nodes[input].type.dims[0]
        let slice = inputs.count == 1 ? c : append(.sliceChannels(SliceAttributes(start: start, count: count)), [c], name: nil)
        send(slice, to: input)
        start += count
      }
    case .add:
      for input in inputs { send(c, to: input) }
    case .mul:
      // The gate is a constant: cᵀ of x ↦ g ⊙ x is g ⊙ c; nothing reaches the gate's branch.
      send(append(.mul, [c, id(inputs[1])], name: nil), to: inputs[0])
    case .upsample:
      throw fail(index, "relevance reaches \(node.op.name), whose LRP rule is not defined; resample only the gate of a mul (its second input), which relevance does not cross")
    case .relu, .elementwise, .input:
      break
    case .lrpSeed, .lrpEpsilonDivide, .lrpMultiply, .batchNormTranspose, .conv2dTranspose,
      .linearTranspose, .poolTranspose, .sliceChannels, .unflatten, .zbPreactivation,
      .zbRelevance:
      throw fail(index, "unexpected LRP op in the classifier")
    }
  }

  /// `c` reaching value `target`: at an activation point it becomes relevance a ⊙ c;
  /// inside a region it adds to the value's adjoint.
  private mutating func send(_ c: NodeID, to target: Int) {
    if activation[target] {
      let value = append(.lrpMultiply, [id(target), c], name: nil)
      accumulate(.relevance, target, value)
    } else {
      accumulate(.adjoint, target, c)
    }
  }

  private enum Table { case relevance, adjoint }

  /// Adds `value` to what `table` holds for `key` (an add node when there is already one).
  private mutating func accumulate(_ table: Table, _ key: Int, _ value: NodeID) {
    let existing = table == .relevance ? relevance[key] : adjoint[key]
    let sum = existing.map { append(.add, [$0, value], name: nil) } ?? value
    switch table {
    case .relevance: relevance[key] = sum
    case .adjoint: adjoint[key] = sum
    }
  }

  /// Appends an LRP node; a shape that does not infer is left empty and reported by the
  /// verifier at the end (it would be a bug of this pass, not of the model).
  private mutating func append(_ op: Op, _ inputs: [NodeID], name: String?) -> NodeID {
    let type = (try? op.inferType(inputs.map { graph[$0].type })) ?? TensorType(dims: [])
    graph.nodes.append(Node(op: op, inputs: inputs, name: name, type: type))
    return NodeID(graph.nodes.count - 1)
  }

  private func id(_ index: Int) -> NodeID { NodeID(index) }
}
