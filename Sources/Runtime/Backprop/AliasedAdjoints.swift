/// Adjoints that share their source's buffer instead of copying it.
///
/// A sum y = a + b hands each operand y's adjoint unchanged. When that is the operand's
/// only contribution (the operand has no other reader, the sum does not broadcast it),
/// the operand's adjoint is y's adjoint, value for value: the memory plan gives both one
/// buffer, alive for the longer of their lifetimes, and the session skips the copy. The
/// LRP block's dense-block relevance skips (paper section 4.6) are such sums, a channel
/// slice of the relevance above plus a batch-norm transpose, each K rows per sample.
///
/// The source is complete before the sum's steps run and no step writes it afterwards
/// (a step writes only its target), so the shared buffer holds y's adjoint for every
/// later reader: the same bits as the copy.
import GraphIR

enum AliasedAdjoints {
  /// For each step that only copies: the adjoint its target shares (resolved through
  /// chains of such sums to one that is really written).
  static func aliases(in program: AdjointProgram) -> [Int: (target: AdjointRef, shares: AdjointRef)] {
    let graph = program.graph
    var contributions: [AdjointRef: Int] = [:]
    for step in program.steps {
      switch step.target {
      case .operand(_, let ref), .statistics(_, let ref): contributions[ref, default: 0] += 1
      case .parameter: break
      }
    }
    let seeds = Set(program.seeds.map { AdjointRef($0, .value) })
    var shared: [AdjointRef: AdjointRef] = [:]
    var aliases: [Int: (target: AdjointRef, shares: AdjointRef)] = [:]
    for (j, step) in program.steps.enumerated() {
      guard case .add = graph[step.node].op, case .operand(let operand, let target) = step.target,
        contributions[target] == 1, !seeds.contains(target),
        graph[graph[step.node].inputs[operand]].type.elementCount == graph[step.node].type.elementCount
      else { continue }
      let source = AdjointRef(step.node, step.source)
      let root = shared[source] ?? source
      shared[target] = root
      aliases[j] = (target, root)
    }
    return aliases
  }
}
