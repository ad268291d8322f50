/// The one pipeline from a compiled classifier to the graph a command runs: every
/// subcommand and the trainer ask `lowered(for:)` instead of choosing passes by hand.
///
/// - `deploy`: the run-time graph (the deployment pass: the LRP block is never built, batch
///   norms fold into convolutions; paper section 4.1, "the LRP block is removed").
/// - `explain`: the classifier with its LRP block (sections 4.1, 4.4–4.7): logits and one
///   heatmap per class.
/// - `trainingProgram`: the reverse-mode program a training step runs: over classifier and
///   LRP block for an ISNet (the heatmap loss, section 4.3), over the classifier alone for a
///   standard classifier.

public enum GraphPurpose: Sendable, Hashable {
  case deploy
  case explain(LRPOptions)
}

public struct PipelineError: Error, Sendable, CustomStringConvertible {
  public var message: String
  public var description: String { message }
}

extension Graph {
  /// This classifier lowered for `purpose`; an error says which step refused and why.
  public func lowered(for purpose: GraphPurpose) throws(PipelineError) -> Graph {
    switch purpose {
    case .deploy:
      return deploymentGraph()
    case .explain(let options):
      return try withLRPBlock(validated: options)
    }
  }

  /// The program a training step runs: with `heatmaps` options, over this classifier and
  /// its LRP block (an ISNet); with nil, over the classifier alone (P = 0).
  /// `differentiatingStatistics`: the LRP block's batch statistics are differentiated, not
  /// detached as the reference trains (ReverseMode.swift; for losses on the maps' scale).
  /// `constants`: parameters held constant (a frozen sub-model, `--freeze`).
  public func trainingProgram(
    heatmaps options: LRPOptions?, differentiatingStatistics: Bool = false, constants: Set<String> = []
  ) throws(PipelineError) -> AdjointProgram {
    let forward = try options.map { options throws(PipelineError) in try withLRPBlock(validated: options) } ?? self
    do {
      return try forward.reverseMode(differentiatingStatistics: differentiatingStatistics, constants: constants)
    } catch { throw PipelineError(message: "cannot differentiate: \(error)") }
  }

  private func withLRPBlock(validated options: LRPOptions) throws(PipelineError) -> Graph {
    if let problem = options.problem { throw PipelineError(message: problem) }
    do { return try withLRPBlock(options) } catch { throw PipelineError(message: "cannot derive the LRP block: \(error)") }
  }
}
