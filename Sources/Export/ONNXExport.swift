/// Export of a classifier to ONNX (opset 17, standard domain only): the deployment graph
/// (`deploy`), or the classifier with its LRP block (`heatmaps`), which outputs the logits
/// and the heatmaps of one pass. Every op is lowered to standard ONNX ops computing what
/// isnetc's kernels compute (docs/export.md lists the lowering of each op).
///
/// Layout: the batch axis N is symbolic. Forward values are [N, …]; relevance values, which
/// isnetc keeps as [K, …] per sample, are [N, K, …] (K the explained classes), reshaped to
/// [N·K, …] around the convolution-like ops, whose batch axis then runs over samples and
/// classes alike. Forward values meet relevance through an unsqueezed class axis
/// ([N, 1, …]), broadcast over the classes as isnetc's kernels broadcast them.

import GraphIR
import LRPTransform

/// A weight tensor: shape and float32 values, row-major.
public struct ExportTensor: Sendable {
  public var shape: [Int]
  public var values: [Float]
  public init(shape: [Int], values: [Float]) {
    self.shape = shape
    self.values = values
  }
}

public enum ExportGraphKind: String, Sendable, CaseIterable {
  /// The pruned run-time graph: no LRP block, dropout removed, batch norms folded.
  case deploy
  /// The classifier and its LRP block: logits and heatmaps.
  case heatmaps
}

/// Which classes the exported heatmaps explain.
public enum ExplainedClasses: Sendable, Equatable {
  /// Every class, in order: K maps.
  case all
  /// The class with the largest logit (the first on ties): one map.
  case top
  /// The listed classes, in the order given.
  case list([Int])
}

public struct ExportOptions: Sendable {
  public var graph: ExportGraphKind
  public var explain: ExplainedClasses
  /// The LRP block's options (ε of the ε-rule).
  public var lrp: LRPOptions
  public var opset: Int

  public init(graph: ExportGraphKind, explain: ExplainedClasses = .all, lrp: LRPOptions = LRPOptions(), opset: Int = 17) {
    self.graph = graph
    self.explain = explain
    self.lrp = lrp
    self.opset = opset
  }
}

public struct ExportError: Error, Sendable, CustomStringConvertible, Equatable {
  public var message: String
  public init(_ message: String) { self.message = message }
  public var description: String { message }
}

public enum ONNXExport {
  /// The smallest opset whose ops the lowering uses (ScatterElements with reduction).
  public static let minimumOpset = 17

  /// Builds the ONNX model of `classifier` (as compiled: no LRP block, no fusions).
  /// `source` names the model file for messages; `position` gives a classifier node's
  /// source position (`FILE:LINE:COL`) when known. Checks everything before building:
  /// an op ONNX cannot express, missing or misshapen weights, an impossible class
  /// selection are errors, and nothing is returned.
  public static func model(
    classifier: Graph, weights: [String: ExportTensor], options: ExportOptions, source: String,
    weightsSource: String = "weights", position: (NodeID) -> String? = { _ in nil }
  ) throws(ExportError) -> ONNXModel {
    guard options.opset >= minimumOpset else {
      throw ExportError("opset \(options.opset) is too old: the export needs opset \(minimumOpset) or later (ScatterElements with reduction)")
    }
    try checkExpressible(classifier, source: source, position: position)
    try checkWeights(classifier, weights, source: weightsSource)
    let classCount = classifier[classifier.outputs[0]].type.dims.first ?? 0
    let graph: Graph
    var explained = classCount
    switch options.graph {
    case .deploy:
      do { graph = try classifier.lowered(for: .deploy) } catch { throw ExportError("\(source): \(error)") }
    case .heatmaps:
      if classifier.outputKind == .segmentation {
        throw ExportError("\(source): '\(classifier.name)' is a segmentation model: it has no heatmaps (LRP explains class logits); export --graph deploy")
      }
      do {
        graph = try classifier.lowered(for: .explain(options.lrp))
      } catch {
        throw ExportError("\(source): \(error)")
      }
      switch options.explain {
      case .all: explained = classCount
      case .top:
        if classifier.outputKind == .sigmoid {
          throw ExportError("\(source): --explain top on a multi-label (sigmoid) model explains a different number of labels per sample, which one ONNX output cannot hold; use all or a list")
        }
        explained = 1
      case .list(let list):
        guard !list.isEmpty else { throw ExportError("\(source): --explain names no class") }
        if let bad = list.first(where: { $0 < 0 || $0 >= classCount }) {
          throw ExportError("\(source): --explain: class \(bad) does not exist; the model has \(classCount) classes (0...\(classCount - 1))")
        }
        explained = list.count
      }
    }
    var lowering = Lowering(graph: graph, weights: weights, explained: explained, explain: options.explain)
    try lowering.lower()
    var model = ONNXModel(graph: lowering.onnx)
    model.opset = options.opset
    model.docString = options.graph == .deploy
      ? "isnetc deployment graph of \(classifier.name): input [N,C,H,W] → logits [N,K]"
      : "isnetc classifier and LRP block of \(classifier.name) (ε = \(options.lrp.epsilon), input rule \(options.lrp.inputRule.rawValue)): input [N,C,H,W] → logits [N,K], heatmaps [N,K',C,H,W]"
    model.metadata = [
      ("isnetc.graph", options.graph.rawValue), ("isnetc.model", classifier.name),
      ("isnetc.output_kind", classifier.outputKind.rawValue),
    ]
    if options.graph == .heatmaps {
      model.metadata.append(("isnetc.epsilon", options.lrp.epsilon.description))
      model.metadata.append(("isnetc.input_rule", options.lrp.inputRule.rawValue))
      let explain: String
      switch options.explain {
      case .all: explain = "all"
      case .top: explain = "top"
      case .list(let list): explain = list.map(String.init).joined(separator: ",")
      }
      model.metadata.append(("isnetc.explain", explain))
    }
    return model
  }

  /// Why `op` cannot be written as ONNX ops computing what isnetc computes, or nil.
  static func inexpressible(_ op: Op, input: TensorType?) -> String? {
    switch op {
    case .pool(let pooling):
      guard let dims = input?.dims, dims.count == 3 else { return nil }
      if case .failure(let refusal) = pooling.onnx(inputDims: dims) { return refusal.reason }
      return nil
    case .input, .conv2d, .batchNorm, .relu, .elementwise, .linear, .flatten, .dropout,
      .concat, .add, .mul, .upsample, .lrpSeed, .lrpEpsilonDivide, .lrpMultiply, .batchNormTranspose,
      .conv2dTranspose, .linearTranspose, .poolTranspose, .sliceChannels, .unflatten,
      .zbPreactivation, .zbRelevance:
      return nil
    }
  }

  private static func checkExpressible(_ graph: Graph, source: String, position: (NodeID) -> String?) throws(ExportError) {
    for (index, node) in graph.nodes.enumerated() {
      let input = node.inputs.first.map { graph[$0].type }
      guard let reason = inexpressible(node.op, input: input) else { continue }
      let id = NodeID(index)
      let label = node.name.map { " (\($0))" } ?? ""
      let at = position(id) ?? "\(source): node \(id)"
      throw ExportError("\(at): cannot export op '\(node.op.name)'\(label) to ONNX: \(reason)")
    }
  }

  /// The checks of the runtime's weight binding: every parameter present with its shape
  /// and finite values, nothing the model does not read.
  static func checkWeights(_ graph: Graph, _ weights: [String: ExportTensor], source: String) throws(ExportError) {
    let problems = graph.weightProblems(names: weights.keys) { weights[$0].map { ($0.shape, $0.values) } }
    guard problems.isEmpty else { throw ExportError(graph.weightMismatchMessage(source: source, problems: problems)) }
  }

}
