import ArgumentParser
import Foundation
import GraphIR
import ModelLang
import Runtime

/// What `isnetc compile` prints.
enum EmitKind: String, ExpressibleByArgument, CaseIterable {
  case ir
  case dot
  case summary
  case params
  case deploy
  case memory

  static let help: ArgumentHelp = """
    ir: the graph's stable text form; dot: Graphviz; summary: per-layer shapes, parameters \
    and multiply-accumulates with totals; params: the parameter table; deploy: the pruned \
    deployment graph (no dropout, batch norms folded, ReLUs fused); memory: the static \
    memory plan of the deployment graph for --batch samples.
    """
}

struct Compile: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Compile a model and print its graph.",
    discussion: """
      Errors are reported as FILE:LINE:COL: error: MESSAGE with the source line and a caret; \
      the exit status is then 1.

      Examples:
        isnetc compile models/densenet121.isnet
        isnetc compile models/densenet121.isnet --classes 3 --emit summary
        isnetc compile models/resnet18.isnet --emit dot -o resnet18.dot
      """
  )

  @Argument(help: "The model file (.isnet).")
  var model: String

  @Option(help: "Number of classes (overrides the model's 'classes' parameter).")
  var classes: Int?

  @Option(help: ArgumentHelp("Input height and width, overriding the model's.", valueName: "H,W"))
  var inputSize: InputSize?

  @Option(help: EmitKind.help)
  var emit: EmitKind = .ir

  @Option(help: "Batch size for --emit memory.")
  var batch = 1

  @Option(name: .shortAndLong, help: "Write the output to FILE instead of standard output.")
  var output: String?

  func validate() throws {
    guard batch >= 1 else { throw ValidationError("--batch must be at least 1, got \(batch)") }
    if let classes, classes < 1 { throw ValidationError("--classes must be at least 1, got \(classes)") }
  }

  func run() throws {
    let options = CompileOptions(classes: classes, inputSize: inputSize?.pair)
    let compilation = ModelCompiler.compile(path: model, options: options)
    guard let graph = compilation.graph else {
      FileHandle.standardError.write(Data(compilation.renderedDiagnostics.utf8))
      throw ExitCode(1)
    }
    let text: String
    switch emit {
    case .ir: text = graph.text
    case .dot: text = graph.dot
    case .summary: text = graph.summary
    case .params: text = graph.parameterTable
    case .deploy: text = graph.deploymentGraph().text
    case .memory:
      let deployed = graph.deploymentGraph()
      text = MemoryPlan(graph: deployed, batchSize: batch).report(for: deployed)
    }
    try write(text, to: output)
  }
}

struct InputSize: ExpressibleByArgument {
  var pair: Pair

  init?(argument: String) {
    let parts = argument.split(separator: ",", omittingEmptySubsequences: false)
    guard parts.count == 2, let h = Int(parts[0]), let w = Int(parts[1]), h > 0, w > 0 else { return nil }
    pair = Pair(h, w)
  }
}

/// Writes `text` to `path` (atomically), or to standard output when `path` is nil.
func write(_ text: String, to path: String?) throws {
  guard let path else {
    FileHandle.standardOutput.write(Data(text.utf8))
    return
  }
  do {
    try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
  } catch {
    throw ValidationError("cannot write '\(path)': \(error.localizedDescription)")
  }
}
