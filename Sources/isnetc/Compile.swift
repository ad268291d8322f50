import ArgumentParser
import Foundation
import GraphIR
import LRPTransform
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
  case lrp
  case grad

  static let help: ArgumentHelp = """
    ir: the graph's stable text form; dot: Graphviz, the classifier beside its LRP block; summary: per-layer shapes, parameters \
    and multiply-accumulates with totals; params: the parameter table; deploy: the pruned \
    deployment graph (no dropout, batch norms folded, ReLUs fused); memory: the static \
    memory plan of the deployment graph for --batch samples; lrp: the classifier with its LRP \
    block (outputs: logits and heatmaps); grad: the reverse-mode program that training runs over \
    the classifier and its LRP block (one line per adjoint step, `d` value and `v` LRP-view adjoints).
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

  @OptionGroup var modelOptions: ModelOptions

  @Option(help: EmitKind.help)
  var emit: EmitKind = .ir

  @OptionGroup var lrp: LRPFlags

  @Option(help: "Batch size for --emit memory.")
  var batch = 1

  @Option(name: .shortAndLong, help: "Write the output to FILE instead of standard output.")
  var output: String?

  func validate() throws {
    guard batch >= 1 else { throw ValidationError("--batch must be at least 1, got \(batch)") }
  }

  func run() throws {
    let graph = try modelOptions.compile()
    let text: String
    switch emit {
    case .ir: text = graph.text
    case .dot:
      // With its LRP block when the rules cover the model (the paper's Figure 6).
      if let withBlock = try? graph.lowered(for: .explain(lrp.options)) {
        text = withBlock.dot
      } else {
        printError("note: \(modelOptions.model): no LRP block derivable; drawing the classifier alone")
        text = graph.dot
      }
    case .summary: text = graph.summary
    case .params: text = graph.parameterTable
    case .deploy: text = try lowered(graph, for: .deploy).text
    case .lrp: text = try lowered(graph, for: .explain(lrp.options)).text
    case .grad:
      do { text = try graph.trainingProgram(heatmaps: lrp.options).text } catch { throw fail("\(modelOptions.model): \(error)") }
    case .memory:
      let deployed = try lowered(graph, for: .deploy)
      text = MemoryPlan(graph: deployed, batchSize: batch).report(for: deployed)
    }
    try write(text, to: output)
  }

  private func lowered(_ graph: Graph, for purpose: GraphPurpose) throws -> Graph {
    do { return try graph.lowered(for: purpose) } catch { throw fail("\(modelOptions.model): \(error)") }
  }
}
