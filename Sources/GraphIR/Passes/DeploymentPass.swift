/// The deployment pass: a trained classifier → the paper's "run-time-only pruned graph"
/// (section 4.2: after training the LRP block is dropped, so the deployed ISNet costs what
/// the bare classifier costs). The input graph is the classifier alone — the LRP block is
/// never part of it — and this pass removes what only training needs and fuses what
/// inference can do in one pass over memory:
///
/// - dropout is removed (the identity at inference);
/// - a batch norm whose input is a convolution or linear layer read by nothing else is
///   folded into that layer's weights and bias (`fold=NAME, fold_eps=EPS`: W' = W·γ/σ,
///   b' = β + γ·(b − μ)/σ, σ = sqrt(var + eps), computed when weights are bound) — exact
///   in real arithmetic;
/// - a ReLU whose input is read by nothing else is fused into its producer when that is a
///   convolution, linear layer or batch norm (`relu=true`), applied as the output is
///   written.
///
/// Pre-activation batch norms that follow a concatenation (DenseNet's norm1, transition
/// norms and norm5) have no layer to fold into; they stay, with their ReLU fused.
/// Graph outputs are never fused away.

extension Graph {
  public func deploymentGraph() -> Graph {
    let consumers = self.consumers
    let outputSet = Set(outputs)
    var result = Graph(name: name, outputKind: outputKind)
    var newID: [NodeID?] = Array(repeating: nil, count: nodes.count)

    /// The single consumer of `id` if it has exactly one and is not a graph output.
    func soleConsumer(_ id: Int) -> Int? {
      guard consumers[id].count == 1, !outputSet.contains(NodeID(id)) else { return nil }
      return consumers[id][0].index
    }
    func soleReLU(after id: Int) -> Int? {
      guard let next = soleConsumer(id), nodes[next].op == .relu else { return nil }
      return next
    }
    func soleNorm(after id: Int) -> (index: Int, folded: FoldedNorm)? {
      guard let next = soleConsumer(id), case .batchNorm(let bn) = nodes[next].op, !bn.fusedReLU,
        let name = nodes[next].name
      else { return nil }
      return (next, FoldedNorm(name: name, epsilon: bn.epsilon))
    }

    for (index, node) in nodes.enumerated() where newID[index] == nil {
      var op = node.op
      var absorbed: [Int] = []
      switch node.op {
      case .dropout:
        newID[index] = newID[node.inputs[0].index]
        continue
      case .conv2d(var a):
        if let norm = soleNorm(after: index) {
          a.epilogue.foldedNorm = norm.folded
          absorbed.append(norm.index)
        }
        if let relu = soleReLU(after: absorbed.last ?? index) {
          a.epilogue.relu = true
          absorbed.append(relu)
        }
        op = .conv2d(a)
      case .linear(var a):
        if let norm = soleNorm(after: index) {
          a.epilogue.foldedNorm = norm.folded
          absorbed.append(norm.index)
        }
        if let relu = soleReLU(after: absorbed.last ?? index) {
          a.epilogue.relu = true
          absorbed.append(relu)
        }
        op = .linear(a)
      case .batchNorm(var a):
        if let relu = soleReLU(after: index) {
          a.fusedReLU = true
          absorbed.append(relu)
        }
        op = .batchNorm(a)
      case .input, .relu, .elementwise, .pool, .flatten, .concat, .add, .mul, .upsample:
        break
      // The LRP block is never part of what is deployed; kept as is if present.
      case .lrpSeed, .lrpEpsilonDivide, .lrpMultiply, .batchNormTranspose, .conv2dTranspose,
        .linearTranspose, .poolTranspose, .sliceChannels, .unflatten, .zbPreactivation,
        .zbRelevance:
        break
      }
      let inputs = node.inputs.map { newID[$0.index]! }
      let type = nodes[absorbed.last ?? index].type
      result.nodes.append(Node(op: op, inputs: inputs, name: node.name, type: type))
      let id = NodeID(result.nodes.count - 1)
      newID[index] = id
      for old in absorbed { newID[old] = id }
    }
    result.outputs = outputs.map { newID[$0.index]! }
    result.segmentation = segmentation.map { newID[$0.index]! }
    return result
  }
}
