import ArgumentParser
import Export
import Foundation
import GraphIR
import ModelLang
import Runtime

struct Export: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Export a model and its weights to ONNX (the deployment graph, or the classifier with its LRP block) or to a PyTorch package.",
    discussion: """
      --graph deploy writes the pruned run-time graph (no LRP block, dropout removed, batch \
      norms folded into the layers before them), one output `logits` [N,K]. --graph \
      heatmaps writes the classifier with its LRP block lowered to standard ONNX ops \
      (opset 17): outputs `logits` [N,K] and `heatmaps` [N,K',C,H,W], the raw maps that \
      `isnetc heatmap` writes (per input channel; sum over C for the pictures' map), K' \
      the classes --explain selects. The batch axis N is dynamic; initializers carry the \
      torchvision parameter names. Above 2 GB (or with --external-data) the tensors go to \
      FILE.data beside the model. A model holding an op ONNX cannot express is refused, \
      naming the op and its source position, and no file is written.

      --format pytorch writes a Python package into the directory -o names (its name is \
      the package's: a Python identifier): model.py (the classifier as an nn.Module under \
      torchvision's state_dict names, and its LRP block as explicit, differentiable torch \
      operations from the same compiler pass), loss.py (the ISNet loss with isnetc train's \
      options), train.py (`python -m NAME.train` or torchrun: DDP), data.py, ops.py and \
      weights.safetensors. It needs torch and safetensors. See docs/export.md.

      Examples:
        isnetc export models/densenet121.isnet --classes 3 --weights w.safetensors --graph deploy -o densenet121.onnx
        isnetc export models/tiny.isnet --weights t.safetensors --graph heatmaps --explain top -o tiny-heatmaps.onnx
        isnetc export models/tiny.isnet --weights t.safetensors --format pytorch -o tiny_isnet
      """
  )

  enum Format: String, ExpressibleByArgument, CaseIterable { case onnx, pytorch }
  enum GraphChoice: String, ExpressibleByArgument, CaseIterable { case deploy, heatmaps }

  @OptionGroup var modelOptions: ModelOptions
  var model: String { modelOptions.model }

  @Option(help: "Weights (safetensors) named as the model's parameters.")
  var weights: String

  @Option(help: "The file format.")
  var format: Format = .onnx

  @Option(help: "ONNX: deploy (logits only) or heatmaps (logits and the LRP heatmaps).")
  var graph: GraphChoice?

  @Option(help: ClassSelection.help)
  var explain: ClassSelection = .all

  @OptionGroup var lrp: LRPFlags

  @Flag(help: "Store the tensors in FILE.data beside the model even under 2 GB.")
  var externalData = false

  @Option(name: .shortAndLong, help: "The .onnx file to write; with --format pytorch, the package's directory.")
  var output: String

  func validate() throws {
    switch format {
    case .onnx:
      guard let graph else { throw ValidationError("--format onnx needs --graph deploy or --graph heatmaps") }
      if graph == .deploy, explain != .all {
        throw ValidationError("--explain applies to --graph heatmaps only")
      }
    case .pytorch:
      if graph != nil { throw ValidationError("--graph applies to --format onnx only: the PyTorch module computes the logits, and the heatmaps with forward(x, heatmaps=True)") }
      if explain != .all { throw ValidationError("--explain applies to --format onnx only: the PyTorch module explains every class") }
      if externalData { throw ValidationError("--external-data applies to --format onnx only") }
    }
  }

  func run() throws {
    let compilation = ModelCompiler.compile(path: model, options: CompileOptions(classes: modelOptions.classes, inputSize: modelOptions.inputSize?.pair))
    guard let classifier = compilation.graph else {
      printError(compilation.renderedDiagnostics, newline: false)
      throw ExitCode(1)
    }
    let table: WeightTable
    do {
      table = try WeightFiles.load(path: weights)
    } catch {
      throw fail(error)
    }
    let tensors = table.mapValues { ExportTensor(shape: $0.shape, values: $0.values) }
    if format == .pytorch {
      try writePyTorch(classifier: classifier, weights: tensors, position: { compilation.position(of: $0) })
      return
    }
    let graph = self.graph!
    let selection: ExplainedClasses
    switch explain {
    case .all: selection = .all
    case .top: selection = .top
    case .list(let list): selection = .list(list)
    }
    let options = ExportOptions(graph: graph == .deploy ? .deploy : .heatmaps, explain: selection, lrp: lrp.options)
    let onnx: ONNXModel
    do {
      onnx = try ONNXExport.model(
        classifier: classifier, weights: tensors,
        options: options, source: model, weightsSource: weights, position: { compilation.position(of: $0) })
    } catch {
      throw fail(error.message)
    }
    let files: [String]
    do {
      files = try ONNXFile.write(onnx, to: output, externalData: externalData ? .always : .automatic)
    } catch {
      throw fail(error)
    }
    let parameters = onnx.graph.initializers.reduce(0) { $0 + $1.byteCount } / 4
    print("wrote \(files.joined(separator: " and ")): \(graph.rawValue) graph, \(onnx.graph.nodes.count) nodes, \(onnx.graph.initializers.count) initializers (\(parameters) values), opset \(onnx.opset)")
  }
}
