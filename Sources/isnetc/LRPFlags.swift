import ArgumentParser
import GraphIR

/// The LRP block's options, for every command that builds one (heatmap, run, eval, bench,
/// compile, demo, train): the defaults are `LRPOptions()`'s, the validation its `problem`.
struct LRPFlags: ParsableArguments {
  @Option(help: ArgumentHelp("The ε of the LRP block's ε-rule (default \(LRPOptions.defaultEpsilon)).", valueName: "ε"))
  var epsilon: Double?

  var options: LRPOptions {
    var options = LRPOptions()
    if let epsilon { options.epsilon = epsilon }
    return options
  }

  func validate() throws {
    if let problem = options.problem { throw ValidationError("--epsilon: \(problem)") }
  }
}

extension ModelOptions {
  /// The model compiled and lowered for `purpose` through the one pipeline; an error names
  /// the model file and the step that refused.
  func compile(for purpose: GraphPurpose) throws -> Graph {
    let classifier = try compile()
    do { return try classifier.lowered(for: purpose) } catch { throw fail("\(model): \(error)") }
  }
}
