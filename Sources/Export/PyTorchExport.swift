/// Export of a classifier to a self-contained PyTorch package (needs torch and safetensors):
///
/// - `model.py`: the classifier as an `nn.Module` whose `state_dict` keys are the
///   torchvision names, and its LRP block, emitted from the same pipeline graph
///   (`lowered(for: .explain)`) as explicit torch operations (PyTorchModule.swift), so the
///   heatmaps are differentiable for the heatmap loss; `forward(x, heatmaps=True)`.
/// - `ops.py`, `loss.py`, `data.py`, `train.py`: fixed support code (PyTorchSources.swift):
///   the LRP operations, the ISNet loss with isnetc train's options, isnetc's dataset
///   folders, augmentation and epoch order, and the training entry point (DDP).
/// - `weights.safetensors`: the weights, under the same names.
///
/// The package's directory name is its Python name (`python -m NAME.train`).

import GraphIR
import LRPTransform
import Training

public struct PyTorchOptions: Sendable {
  /// The LRP block's options (ε of the ε-rule, the input layer's rule), fixed in the
  /// emitted module: it is emitted from the block they derive, Zᴮ or ε at the input alike.
  public var lrp: LRPOptions
  /// The training entry point's defaults: `isnetc train`'s own (`TrainingSettings()`), so
  /// the two trainers never drift apart.
  public var training: TrainingSettings
  public init(lrp: LRPOptions = LRPOptions(), training: TrainingSettings = TrainingSettings()) {
    self.lrp = lrp
    self.training = training
  }
}

/// The files of an exported package: text files by name, and the weights.
public struct PyTorchPackage: Sendable {
  public var name: String
  /// Relative file name → contents, in writing order.
  public var files: [(name: String, text: String)]
  /// `weights.safetensors`: every parameter by its torchvision name.
  public var weights: [(name: String, tensor: ExportTensor)]
  /// The Python class of the model.
  public var className: String

  public static let weightsFile = "weights.safetensors"
  /// Every file the package holds, sorted.
  public var fileNames: [String] { (files.map(\.name) + [Self.weightsFile]).sorted() }
}

public enum PyTorchExport {
  /// Whether `name` can name the package (`import name`): a Python identifier, no keyword.
  public static func isPackageName(_ name: String) -> Bool {
    guard let first = name.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic) else { return false }
    let valid = name.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) }
    return valid && !pythonKeywords.contains(name) && name != "torch"
  }

  static let pythonKeywords: Set<String> = [
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del", "elif",
    "else", "except", "finally", "for", "from", "global", "if", "import", "in", "is", "lambda", "nonlocal", "not", "or",
    "pass", "raise", "return", "try", "while", "with", "yield",
  ]

  /// Why `op` cannot be written as torch operations computing what isnetc computes, or nil.
  static func inexpressible(_ op: Op) -> String? {
    switch op {
    case .pool(let pooling): return pooling.torchRefusal
    case .input, .conv2d, .batchNorm, .relu, .elementwise, .linear, .flatten, .dropout,
      .concat, .add, .mul, .upsample, .lrpSeed, .lrpEpsilonDivide, .lrpMultiply, .batchNormTranspose,
      .conv2dTranspose, .linearTranspose, .poolTranspose, .sliceChannels, .unflatten,
      .zbPreactivation, .zbRelevance:
      return nil
    }
  }

  /// The package for `classifier` (as compiled) and its weights. `source` names the model
  /// file for messages; `position` gives a node's source position (`FILE:LINE:COL`).
  /// Everything is checked first: an inexpressible op, weights that do not fit, a model
  /// whose LRP block cannot be derived, a package name Python cannot import.
  public static func package(
    classifier: Graph, weights: [String: ExportTensor], name: String, options: PyTorchOptions = PyTorchOptions(),
    source: String, weightsSource: String = "weights", position: (NodeID) -> String? = { _ in nil }
  ) throws(ExportError) -> PyTorchPackage {
    guard isPackageName(name) else {
      throw ExportError("'\(name)' cannot name a Python package: the output directory's name must be an identifier (letters, digits and _, not starting with a digit, not a keyword), so that `python -m \(name).train` imports it")
    }
    for (index, node) in classifier.nodes.enumerated() {
      guard let reason = inexpressible(node.op) else { continue }
      let label = node.name.map { " (\($0))" } ?? ""
      let at = position(NodeID(index)) ?? "\(source): node %\(index)"
      throw ExportError("\(at): cannot export op '\(node.op.name)'\(label) to PyTorch: \(reason)")
    }
    try ONNXExport.checkWeights(classifier, weights, source: weightsSource)
    // The package's trainer and module speak of logits and heatmaps; a second head would
    // be dropped without a word.
    if classifier.segmentation != nil {
      throw ExportError("\(source): '\(classifier.name)' has a segmentation head beside its logits; the PyTorch export writes classifiers (logits and heatmaps) only; export it to ONNX, which keeps both outputs")
    }
    if classifier.outputKind == .segmentation {
      throw ExportError("\(source): '\(classifier.name)' is a segmentation model; the PyTorch export writes classifiers (logits and heatmaps) only; export it to ONNX")
    }
    let graph: Graph
    do {
      graph = try classifier.lowered(for: .explain(options.lrp))
    } catch {
      throw ExportError("\(source): \(error)")
    }
    guard let input = classifier.inputIDs.first, case .input(let range) = classifier[input].op else {
      throw ExportError("\(source): the export needs a model with one image input")
    }
    let className = pythonClassName(classifier.name)
    var emitter = PyTorchModuleEmitter(graph: graph, classifierCount: classifier.nodes.count, className: className)
    let parameters = classifier.parameters
    let doc = "The \(classifier.name) classifier and its LRP block (epsilon \(options.lrp.epsilon), input rule \(options.lrp.inputRule.rawValue)), exported by isnetc from \(sanitized(source))."
    let body = try emitter.module(parameters: parameters, doc: doc)
    let classes = classifier[classifier.outputs[0]].type.dims[0]
    let inputDims = classifier[input].type.dims
    let config = [
      "    \"name\": \(PyTorchModuleEmitter.pythonString(classifier.name)),",
      "    \"source\": \(PyTorchModuleEmitter.pythonString(sanitized(source))),",
      "    \"input_shape\": [\(inputDims.map(String.init).joined(separator: ", "))],",
      "    \"input_range\": [\(range.low), \(range.high)],",
      "    \"classes\": \(classes),",
      "    \"output_kind\": \"\(classifier.outputKind.rawValue)\",",
      "    \"epsilon\": \(options.lrp.epsilon),",
      "    \"input_rule\": \"\(options.lrp.inputRule.rawValue)\",",
      "    \"head\": \(headName(classifier).map(PyTorchModuleEmitter.pythonString) ?? "None"),",
    ]
    let model = """
      \"\"\"\(classifier.name): the classifier and its LRP block, exported by isnetc (generated; do not edit).

      `\(className)().forward(x)` gives the logits [N, \(classes)]; `forward(x, heatmaps=True)` gives
      (logits, heatmaps [N, \(classes), \(inputDims.map(String.init).joined(separator: ", "))]): one LRP heatmap per class, the
      map `isnetc heatmap` writes. In training mode (model.train()) batch norms use the batch's
      statistics and the LRP block fuses them as isnetc's training step does; the heatmaps are
      differentiable, so the heatmap loss trains through them.
      \"\"\"

      import os

      import torch
      import torch.nn as nn
      import torch.nn.functional as F

      from . import ops as O

      CONFIG = {
      \(config.joined(separator: "\n"))
      }

      WEIGHTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "\(PyTorchPackage.weightsFile)")


      \(body)

      def build_model():
          \"\"\"The module with placeholder parameters (load weights before use).\"\"\"
          return \(className)()


      def load_model(weights=WEIGHTS, device="cpu"):
          \"\"\"The module with `weights` (the package's own by default), in evaluation mode.\"\"\"
          model = \(className)()
          O.load_weights(model, weights)
          return model.to(device).eval()

      """
    let initText = """
      \"\"\"\(classifier.name) as a PyTorch package exported by isnetc: the classifier and its LRP block
      (model.py), the ISNet loss (loss.py) and a training entry point (`python -m \(name).train`).
      Needs torch and safetensors.
      \"\"\"

      from .model import CONFIG, WEIGHTS, \(className), build_model, load_model

      """
    var files: [(String, String)] = [("__init__.py", initText), ("model.py", model)]
    files += try PyTorchSources.files(trainDefaults: PyTorchSources.trainDefaults(options.training))
    let table = parameters.map { ($0.name, weights[$0.name]!) }
    return PyTorchPackage(name: name, files: files, weights: table, className: className)
  }

  /// The linear layer whose output is the logits (distillation copies and freezes it).
  static func headName(_ classifier: Graph) -> String? {
    let output = classifier[classifier.outputs[0]]
    guard case .linear = output.op else { return nil }
    return output.name
  }

  /// `tiny` → `Tiny`, `densenet121` → `Densenet121`, `my-net` → `MyNet`.
  static func pythonClassName(_ model: String) -> String {
    let parts = model.split { !($0.isASCII && ($0.isLetter || $0.isNumber)) }
    var name = parts.map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
    if name.isEmpty || name.first!.isNumber { name = "Model" + name }
    return pythonKeywords.contains(name) ? name + "Model" : name
  }

  /// The model file's name as the package records it (its last path component).
  static func sanitized(_ source: String) -> String {
    String(source.split(separator: "/").last ?? Substring(source))
  }
}
