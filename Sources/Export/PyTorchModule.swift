/// GraphIR → the `forward` of a PyTorch `nn.Module` (model.py of the exported package), one
/// GraphIR node at a time, from the graph `lowered(for: .explain)` builds: the classifier's
/// nodes first, then its LRP block. Every LRP op becomes explicit torch operations on the
/// shared parameters, so autograd differentiates the heatmaps as isnetc's reverse-mode pass
/// does (docs/export.md lists each op's lowering).
///
/// Layout: forward values are [N, …]; relevance values are [N, K, …] (isnetc keeps [K, …]
/// per sample); forward values meet relevance unsqueezed to [N, 1, …].
///
/// Training semantics (docs/training.md, ReverseMode.swift): the LRP block reads every
/// ε-rule pre-activation z through its *view*: batch norms normalised by the batch's mean
/// and unbiased variance (detached), batch-norm shifts β and layer biases detached. The
/// emitter gives each such z a view tensor `zN` whose value is the z isnetc's training
/// session reads and whose gradient is isnetc's `view` adjoint:
///
/// - a value the view equals (a region boundary — ReLU, input, LRP op — or a region op with
///   no detached part fed by such values: `viewInvariant`) is its own view;
/// - a batch norm: γ·(x − μ)/σᵤ + β with μ, σᵤ (unbiased) and β detached;
/// - a convolution or linear layer with a bias: its bias-free output plus the detached bias
///   (the value is that output plus the bias, so the two share the convolution);
/// - a residual addition: the sum of its inputs' views;
/// - any other region op: the op applied to its inputs' views.
///
/// Where an op reads a view whose numbers differ from its value (a batch norm, or an
/// addition of one), isnetc computes with the value and sends the gradient to the view; the
/// emitted code does the same with `through(value, view)` = value + (view − view.detach()).

import GraphIR

struct PyTorchModuleEmitter {
  let graph: Graph
  /// Nodes below this index are the classifier's; the rest are the LRP block.
  let classifierCount: Int
  let className: String

  private var viewInvariant: [Bool] = []
  /// Nodes whose view the LRP block reads (directly as z, or under another view).
  private var needsView: Set<Int> = []
  private var lines: [String] = []
  private var stabilized: [String: String] = [:]

  init(graph: Graph, classifierCount: Int, className: String) {
    self.graph = graph
    self.classifierCount = classifierCount
    self.className = className
    analyseViews()
  }

  // MARK: Views

  /// The ops of an affine region between activations (what the ε-rule's view reads).
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

  /// Region ops with no detached part (no bias, no batch statistics).
  static func sameDerivativeInBothStreams(_ op: Op) -> Bool {
    switch op {
    case .conv2d(let a): !a.hasBias
    case .linear(let a): !a.hasBias
    case .pool, .flatten, .dropout, .concat, .add, .mul, .upsample: true
    case .batchNorm, .input, .relu, .elementwise, .lrpSeed, .lrpEpsilonDivide, .lrpMultiply,
      .batchNormTranspose, .conv2dTranspose, .linearTranspose, .poolTranspose, .sliceChannels,
      .unflatten, .zbPreactivation, .zbRelevance:
      false
    }
  }

  private mutating func analyseViews() {
    viewInvariant = Array(repeating: false, count: graph.nodes.count)
    for (index, node) in graph.nodes.enumerated() {
      viewInvariant[index] =
        Self.sameDerivativeInBothStreams(node.op)
        && node.inputs.allSatisfy { !Self.isRegionOp(graph[$0].op) || viewInvariant[$0.index] }
    }
    for node in graph.nodes {
      if case .lrpEpsilonDivide = node.op { markView(node.inputs[1].index) }
    }
  }

  /// Whether node `index`'s view is a tensor of its own (not its value).
  private func hasOwnView(_ index: Int) -> Bool {
    Self.isRegionOp(graph.nodes[index].op) && !viewInvariant[index]
  }

  private mutating func markView(_ index: Int) {
    guard hasOwnView(index), needsView.insert(index).inserted else { return }
    for input in graph.nodes[index].inputs { markView(input.index) }
  }

  /// Whether the view's numbers differ from the value's (isnetc's `viewDiffers`).
  private func viewDiffers(_ index: Int) -> Bool {
    switch graph.nodes[index].op {
    case .batchNorm: true
    case .add, .mul, .upsample: graph.nodes[index].inputs.contains { viewDiffers($0.index) }
    default: false
    }
  }

  /// Conv/linear layers with a bias whose view is read: their value is emitted as the
  /// bias-free output `yN` plus the bias.
  private func splitsBias(_ index: Int) -> Bool {
    guard needsView.contains(index) else { return false }
    switch graph.nodes[index].op {
    case .conv2d(let a): return a.hasBias
    case .linear(let a): return a.hasBias
    default: return false
    }
  }

  private func v(_ index: Int) -> String { "v\(index)" }

  /// The tensor the LRP block reads as node `index`'s view.
  private func view(_ index: Int) -> String { hasOwnView(index) ? "z\(index)" : v(index) }

  /// What an op that reads `index` through the view stream takes: the value's numbers, the
  /// view's gradient.
  private func viewOperand(_ index: Int) -> String {
    viewDiffers(index) ? "O.through(\(v(index)), \(view(index)))" : view(index)
  }

  // MARK: Emission

  static func pythonString(_ s: String) -> String {
    var out = "\""
    for c in s.unicodeScalars {
      switch c {
      case "\\": out += "\\\\"
      case "\"": out += "\\\""
      case "\n": out += "\\n"
      default: out.unicodeScalars.append(c)
      }
    }
    return out + "\""
  }

  private static func tuple(_ p: Pair) -> String { "(\(p.h), \(p.w))" }
  private static func tuple(_ values: [Int]) -> String {
    values.count == 1 ? "(\(values[0]),)" : "(" + values.map(String.init).joined(separator: ", ") + ")"
  }

  private func layer(_ index: Int) -> String { "L[\(Self.pythonString(graph.nodes[index].name!))]" }

  private mutating func emit(_ line: String, indent: Int = 2) {
    lines.append(String(repeating: "    ", count: indent) + line)
  }

  /// The class definition: parameter modules under torchvision names, and `forward`.
  mutating func module(parameters: [Parameter], doc: String) throws(ExportError) -> String {
    var out: [String] = []
    out.append("class \(className)(nn.Module):")
    out.append("    \"\"\"\(doc)\"\"\"")
    out.append("")
    out.append("    def __init__(self):")
    out.append("        super().__init__()")
    out.append("        self.layers = {}")
    var owners: [(name: String, node: Int)] = []
    var seen: Set<Int> = []
    for parameter in parameters where seen.insert(parameter.owner.index).inserted {
      owners.append((graph[parameter.owner].name ?? "", parameter.owner.index))
    }
    for (name, index) in owners {
      let node = graph.nodes[index]
      let shapes = graph.parameterNames(of: NodeID(index))
      let weight = shapes.first { $0.role == .weight }!.shape
      switch node.op {
      case .conv2d(let a):
        out.append("        O.place(self, \(Self.pythonString(name)), O.Affine(\(Self.tuple(weight)), bias=\(a.hasBias ? "True" : "False")))")
      case .linear(let a):
        out.append("        O.place(self, \(Self.pythonString(name)), O.Affine(\(Self.tuple(weight)), bias=\(a.hasBias ? "True" : "False")))")
      case .batchNorm(let a):
        out.append("        O.place(self, \(Self.pythonString(name)), O.BatchNorm(\(weight[0]), eps=\(a.epsilon), momentum=\(a.momentum)))")
      default:
        throw ExportError("internal error: node \(index) (\(node.op.name)) owns parameters the PyTorch export does not place")
      }
    }
    out.append("")
    out.append("    def forward(self, x, heatmaps=False, explain=None, epsilons=None):")
    out.append("        \"\"\"x [N, C, H, W] → logits [N, K]; with heatmaps=True, (logits, heatmaps [N, K, C, H, W]).")
    out.append("        `explain`: one class per sample ([N] indices, or a function of the logits giving them):")
    out.append("        heatmaps [N, 1, C, H, W], one relevance pass per sample whatever K is. `epsilons`: the")
    out.append("        epsilon-rule's stabiliser per sample ([N]) instead of the compiled one.\"\"\"")
    out.append("        L = self.layers")
    out.append("        training = self.training")
    out.append("        stats = {} if heatmaps else None")
    lines = []
    for index in 0..<classifierCount { try lowerClassifier(index) }
    let logits = graph.outputs[0].index
    emit("if not heatmaps:")
    emit("return \(v(logits))", indent: 3)
    for index in classifierCount..<graph.nodes.count { try lowerLRP(index) }
    emit("return \(v(logits)), \(v(graph.outputs[1].index))")
    return (out + lines).joined(separator: "\n") + "\n"
  }

  private mutating func lowerClassifier(_ index: Int) throws(ExportError) {
    let node = graph.nodes[index]
    let inputs = node.inputs.map(\.index)
    func x(_ i: Int = 0) -> String { v(inputs[i]) }
    let out = v(index)
    switch node.op {
    case .input:
      emit("\(out) = x")
    case .conv2d(let a):
      let args = "stride=\(Self.tuple(a.stride)), padding=\(Self.tuple(a.padding)), dilation=\(Self.tuple(a.dilation)), groups=\(a.groups)"
      if splitsBias(index) {
        emit("y\(index) = F.conv2d(\(x()), \(layer(index)).weight, None, \(args))")
        emit("\(out) = y\(index) + \(layer(index)).bias.view(1, -1, 1, 1)")
      } else if case .input = graph.nodes[inputs[0]].op {
        // The first layer reads the image (values of one sign): its rounding moves the ISNet
        // gradient most (docs/export.md, Numerics), so it accumulates in float64.
        emit("\(out) = O.conv2d_accurate(\(x()), \(layer(index)).weight, \(a.hasBias ? "\(layer(index)).bias" : "None"), \(args))")
      } else {
        emit("\(out) = F.conv2d(\(x()), \(layer(index)).weight, \(a.hasBias ? "\(layer(index)).bias" : "None"), \(args))")
      }
    case .batchNorm:
      emit("\(out) = O.batch_norm(\(layer(index)), \(x()), training, stats, \(Self.pythonString(node.name!)))")
    case .relu:
      emit("\(out) = F.relu(\(x()))")
    case .elementwise(let function):
      emit("\(out) = \(function.description.torchFunction)(\(x()))")
    case .pool(let pooling):
      // A winner-take-all transpose reads the arg-max.
      if graph.nodes.contains(where: { if case .poolTranspose = $0.op, $0.inputs.count == 2, $0.inputs[1].index == index { true } else { false } }) {
        emit("\(out), i\(index) = \(pooling.torchCall(x(), returnIndices: true))")
      } else {
        emit("\(out) = \(pooling.torchCall(x()))")
      }
    case .linear(let a):
      if splitsBias(index) {
        emit("y\(index) = F.linear(\(x()), \(layer(index)).weight)")
        emit("\(out) = y\(index) + \(layer(index)).bias")
      } else {
        emit("\(out) = F.linear(\(x()), \(layer(index)).weight, \(a.hasBias ? "\(layer(index)).bias" : "None"))")
      }
    case .flatten:
      emit("\(out) = \(x()).flatten(1)")
    case .dropout(let a):
      emit("\(out), m\(index) = O.dropout(\(x()), \(a.probability), training)")
    case .concat:
      emit(inputs.count == 1 ? "\(out) = \(x())" : "\(out) = torch.cat([\(inputs.map(v).joined(separator: ", "))], 1)")
    case .add:
      emit("\(out) = " + inputs.map(v).joined(separator: " + "))
    case .mul:
      emit("\(out) = \(product(x(0), x(1), inputs))")
    case .upsample(let a):
      emit("\(out) = \(Self.upsampleCall(x(), a))")
    case .lrpSeed, .lrpEpsilonDivide, .lrpMultiply, .batchNormTranspose, .conv2dTranspose,
      .linearTranspose, .poolTranspose, .sliceChannels, .unflatten, .zbPreactivation,
      .zbRelevance:
      throw ExportError("internal error: LRP op \(node.op.name) at node \(index), among the classifier's nodes")
    }
  }

  /// The view of a classifier node, emitted in the LRP part (read only there).
  private mutating func emitView(_ index: Int) {
    let node = graph.nodes[index]
    let inputs = node.inputs.map(\.index)
    func x(_ i: Int = 0) -> String { viewOperand(inputs[i]) }
    let out = "z\(index)"
    switch node.op {
    case .batchNorm:
      emit("\(out) = O.batch_norm_view(\(layer(index)), \(x()), stats[\(Self.pythonString(node.name!))])")
    case .conv2d(let a):
      let args = "stride=\(Self.tuple(a.stride)), padding=\(Self.tuple(a.padding)), dilation=\(Self.tuple(a.dilation)), groups=\(a.groups)"
      let bare = viewDiffersAnywhere(inputs) || !a.hasBias ? "F.conv2d(\(x()), \(layer(index)).weight, None, \(args))" : "y\(index)"
      emit("\(out) = \(bare)" + (a.hasBias ? " + \(layer(index)).bias.detach().view(1, -1, 1, 1)" : ""))
    case .linear(let a):
      let bare = viewDiffersAnywhere(inputs) || !a.hasBias ? "F.linear(\(x()), \(layer(index)).weight)" : "y\(index)"
      emit("\(out) = \(bare)" + (a.hasBias ? " + \(layer(index)).bias.detach()" : ""))
    case .pool(let pooling):
      emit("\(out) = \(pooling.torchCall(x()))")
    case .flatten:
      emit("\(out) = \(x()).flatten(1)")
    case .dropout:
      emit("\(out) = \(x()) if m\(index) is None else \(x()) * m\(index)")
    case .concat:
      emit("\(out) = torch.cat([\(inputs.indices.map { x($0) }.joined(separator: ", "))], 1)")
    case .add:
      emit("\(out) = " + inputs.map { view($0) }.joined(separator: " + "))
    case .mul:
      emit("\(out) = \(product(x(0), x(1), inputs))")
    case .upsample(let a):
      emit("\(out) = \(Self.upsampleCall(x(), a))")
    default:
      preconditionFailure("no view for \(node.op.name)")
    }
  }

  /// Whether a view read by a conv/linear layer needs recomputing (its input's view is not
  /// its value).
  private func viewDiffersAnywhere(_ inputs: [Int]) -> Bool { inputs.contains { hasOwnView($0) } }

  /// Emits the views of `index` and of what it reads, inputs first, once each.
  private mutating func emitViews(_ index: Int, done: inout Set<Int>) {
    guard hasOwnView(index), !done.contains(index) else { return }
    for input in graph.nodes[index].inputs { emitViews(input.index, done: &done) }
    emitView(index)
    done.insert(index)
  }

  private var viewsDone: Set<Int> = []

  private mutating func lowerLRP(_ index: Int) throws(ExportError) {
    let node = graph.nodes[index]
    let inputs = node.inputs.map(\.index)
    func x(_ i: Int = 0) -> String { v(inputs[i]) }
    let out = v(index)
    switch node.op {
    case .lrpSeed(let a):
      // The module takes the per-sample classes as `explain` at run time.
      guard !a.onePerSample else { throw ExportError("internal error: the PyTorch export lowers the every-class LRP block; forward's explain picks one class per sample") }
      emit("\(out) = O.lrp_seed(\(x()), explain)")
    case .lrpEpsilonDivide(let a):
      var done = viewsDone
      emitViews(inputs[1], done: &done)
      viewsDone = done
      let key = "\(inputs[1])/\(a.epsilon)"
      let denominator: String
      if let d = stabilized[key] {
        denominator = d
      } else {
        denominator = "d\(index)"
        emit("\(denominator) = O.stabilize(\(view(inputs[1])).unsqueeze(1), \(a.epsilon) if epsilons is None else epsilons)")
        stabilized[key] = denominator
      }
      emit("\(out) = \(x()) / \(denominator)")
    case .lrpMultiply:
      emit("\(out) = \(x(0)).unsqueeze(1) * \(x(1))")
    case .batchNormTranspose:
      emit("\(out) = O.batch_norm_transpose(\(x()), \(layer(index)), stats[\(Self.pythonString(node.name!))])")
    case .conv2dTranspose(let a):
      let outDims = Array(graph.nodes[inputs[0]].type.dims.dropFirst())
      emit("\(out) = O.conv_transpose(\(x()), \(layer(index)).weight, \(convTransposeArguments(a.forward, inputDims: a.inputDims, outputDims: outDims)))")
    case .linearTranspose:
      emit("\(out) = \(x()) @ \(layer(index)).weight")
    case .poolTranspose(let a):
      let outDims = Array(graph.nodes[inputs[0]].type.dims.dropFirst())
      let call = a.forward.torchTransposeCall(x(), indices: inputs.count == 2 ? "i\(inputs[1])" : nil, inputDims: a.inputDims) {
        convTransposeArguments($0, inputDims: a.inputDims, outputDims: outDims)
      }
      emit("\(out) = \(call)")
    case .sliceChannels(let a):
      emit("\(out) = \(x())[:, :, \(a.start):\(a.start + a.count)]")
    case .unflatten(let a):
      emit("\(out) = \(x()).unflatten(2, \(Self.tuple(a.dims)))")
    case .add:
      emit("\(out) = " + inputs.map(v).joined(separator: " + "))
    case .mul:
      emit("\(out) = \(product(x(0), x(1), inputs))")
    case .zbPreactivation(let a):
      emit("w\(index), b\(index) = O.zb_fold(\(zbLayers(node.name!, a)), stats)")
      emit("\(out) = O.zb_preactivation(\(x()), w\(index), b\(index), \(a.low), \(a.high), \(convArguments(a.conv)))")
    case .zbRelevance(let a):
      let outDims = Array(graph.nodes[inputs[1]].type.dims.dropFirst())
      emit("w\(index), b\(index) = O.zb_fold(\(zbLayers(node.name!, a)), stats)")
      emit("\(out) = O.zb_relevance(\(x(0)), \(x(1)), w\(index), \(a.low), \(a.high), \(convTransposeArguments(a.conv, inputDims: a.inputDims, outputDims: outDims)))")
    case .input, .conv2d, .batchNorm, .relu, .elementwise, .pool, .linear, .flatten, .dropout, .concat, .upsample:
      throw ExportError("internal error: classifier op \(node.op.name) at node \(index), inside the LRP block")
    }
  }

  /// a ⊙ g for `mul`'s operands (node indices `inputs`): g gains axes after the batch axis
  /// to align with a (torch broadcasts from the right).
  private func product(_ a: String, _ g: String, _ inputs: [Int]) -> String {
    let extra = graph.nodes[inputs[0]].type.rank - graph.nodes[inputs[1]].type.rank
    return "\(a) * \(g)" + String(repeating: ".unsqueeze(1)", count: extra)
  }

  /// The torch call upsampling `x` as `a` says: nearest by repetition (exact), bilinear
  /// with align_corners=False.
  static func upsampleCall(_ x: String, _ a: UpsampleAttributes) -> String {
    switch a.mode {
    case .nearest: "\(x).repeat_interleave(\(a.scale.h), 2).repeat_interleave(\(a.scale.w), 3)"
    case .bilinear: "F.interpolate(\(x), scale_factor=\(tuple(a.scale)), mode=\"bilinear\", align_corners=False)"
    }
  }

  private func zbLayers(_ name: String, _ a: ZBetaAttributes) -> String {
    let conv = "L[\(Self.pythonString(name))]"
    guard let norm = a.conv.epilogue.foldedNorm else { return "\(conv), None, None" }
    return "\(conv), L[\(Self.pythonString(norm.name))], \(Self.pythonString(norm.name))"
  }

  private func convArguments(_ a: Conv2DAttributes) -> String {
    "\(Self.tuple(a.stride)), \(Self.tuple(a.padding)), \(Self.tuple(a.dilation)), \(a.groups)"
  }

  /// stride, padding, dilation, groups and output_padding of the transpose of `a` from
  /// `outputDims` back to exactly `inputDims` (the rows and columns the forward's floor
  /// division dropped).
  private func convTransposeArguments(_ a: Conv2DAttributes, inputDims: [Int], outputDims: [Int]) -> String {
    func extra(_ size: Int, _ out: Int, _ k: Int, _ s: Int, _ p: Int, _ d: Int) -> Int {
      size - ((out - 1) * s + (k - 1) * d + 1 - 2 * p)
    }
    let eh = extra(inputDims[1], outputDims[1], a.kernel.h, a.stride.h, a.padding.h, a.dilation.h)
    let ew = extra(inputDims[2], outputDims[2], a.kernel.w, a.stride.w, a.padding.w, a.dilation.w)
    return convArguments(a) + ", (\(eh), \(ew))"
  }
}
