import ArgumentParser
import GraphIR

/// The LRP block's options, for every command that builds one (heatmap, run, eval, bench,
/// compile, demo, train): the defaults are `LRPOptions()`'s, the validation its `problem`.
struct LRPFlags: ParsableArguments {
  @Option(help: ArgumentHelp("The ε of the LRP block's ε-rule (default \(LRPOptions.defaultEpsilon)).", valueName: "ε"))
  var epsilon: Double?

  @Option(
    help: ArgumentHelp(
      "The input layer's LRP rule: zb (the paper's Zᴮ with the input's declared range) or epsilon (the ε-rule up to the input: gradient × input there) (default zb).",
      valueName: "rule"))
  var inputRule: LRPOptions.InputRule?

  var options: LRPOptions {
    var options = LRPOptions()
    if let epsilon { options.epsilon = epsilon }
    if let inputRule { options.inputRule = inputRule }
    return options
  }

  func validate() throws {
    if let problem = options.problem { throw ValidationError("--epsilon: \(problem)") }
  }
}

extension LRPOptions.InputRule: ExpressibleByArgument {}

extension ModelOptions {
  /// The model compiled and lowered for `purpose` through the one pipeline; an error names
  /// the model file and the step that refused.
  func compile(for purpose: GraphPurpose) throws -> Graph {
    try lowered(try compile(), for: purpose)
  }

  /// `classifier` (this model, compiled) lowered for `purpose`, for commands that look at
  /// the compiled model first.
  func lowered(_ classifier: Graph, for purpose: GraphPurpose) throws -> Graph {
    if classifier.outputKind == .segmentation, case .explain = purpose {
      throw fail("\(model): '\(classifier.name)' is a segmentation model (-> segmentation): LRP heatmaps explain classifiers' logits; isnetc run writes its masks, isnetc eval its IoU")
    }
    do { return try classifier.lowered(for: purpose) } catch { throw fail("\(model): \(error)") }
  }
}
