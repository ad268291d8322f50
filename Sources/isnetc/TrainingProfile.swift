import Foundation
import GraphIR
import Runtime

/// `isnetc bench --train --profile`: where a training step's time goes, op by op, and the
/// same time counted in deployment forward passes per image (the step's cost as a multiple
/// of what running the trained model costs), the measure docs/performance.md reports.
struct TrainingProfile {
  let graph: Graph
  let program: AdjointProgram
  /// Seconds per step, by node (forward) and by adjoint step (reverse).
  let forward: [Double]
  let adjoint: [Double]
  /// Seconds per step of the reverse's recomputed forward values, by node.
  let recompute: [Double]
  /// The whole step's median seconds and the deployment graph's forward seconds, both per
  /// batch.
  let step: Double
  let deployment: Double

  /// Nodes before the first `lrp_seed` are the classifier's; the rest are its LRP block.
  var classifierCount: Int {
    graph.nodes.firstIndex { if case .lrpSeed = $0.op { true } else { false } } ?? graph.nodes.count
  }

  /// The op's name with a convolution's kernel and stride, the unit the rows group by.
  static func label(_ op: Op) -> String {
    let convolution: Conv2DAttributes? =
      switch op {
      case .conv2d(let a): a
      case .conv2dTranspose(let t): t.forward
      case .zbPreactivation(let z), .zbRelevance(let z): z.conv
      default: nil
      }
    guard let a = convolution else { return op.name }
    return op.name + " \(a.kernel.h)x\(a.kernel.w)/\(a.stride.h)"
  }

  /// What a reverse step computes: an operand's adjoint, a parameter's gradient, or the
  /// adjoint through batch statistics.
  static func target(_ target: AdjointTarget) -> String {
    switch target {
    case .operand: "input adjoint"
    case .parameter(_, let role): "\(role.rawValue) gradient"
    case .statistics: "statistics adjoint"
    }
  }

  static func row(_ name: String, width: Int, _ milliseconds: Double, _ percent: Double, _ passes: Double) -> String {
    "  " + name.padding(toLength: max(width, name.count), withPad: " ", startingAt: 0)
      + String(format: " %9.1f  %5.1f  %8.2f\n", milliseconds, percent, passes)
  }

  func table() -> String {
    let split = classifierCount
    var rows: [String: Double] = [:]
    var phases = [0.0, 0.0, 0.0, 0.0]  // forward classifier, forward LRP, reverse LRP, reverse classifier
    for (index, seconds) in forward.enumerated() {
      let block = index >= split
      rows["forward  \(block ? "LRP " : "")\(Self.label(graph.nodes[index].op))", default: 0] += seconds
      phases[block ? 1 : 0] += seconds
    }
    for (j, step) in program.steps.enumerated() {
      let block = step.node.index >= split
      let view = step.source == .view ? " (view)" : ""
      rows["reverse  \(block ? "LRP " : "")\(Self.label(graph[step.node].op))\(view) → \(Self.target(step.target))", default: 0] += adjoint[j]
      phases[block ? 2 : 3] += adjoint[j]
    }
    for (index, seconds) in recompute.enumerated() where seconds > 0 {
      rows["reverse  LRP \(Self.label(graph.nodes[index].op)) → recomputed value", default: 0] += seconds
      phases[2] += seconds
    }
    let passes = { (seconds: Double) in seconds / deployment }
    var out = String(format: "  deployment forward: %.1f ms per batch; a step = %.1f deployment forward passes per image\n", deployment * 1e3, passes(step))
    out += "  phase                                ms/step      %   passes/image\n"
    let names = ["forward, classifier", "forward, LRP block", "reverse, LRP block", "reverse, classifier"]
    for (name, seconds) in zip(names, phases) {
      out += Self.row(name, width: 34, seconds * 1e3, 100 * seconds / step, passes(seconds))
    }
    let rest = step - phases.reduce(0, +)
    out += Self.row("loss, optimizer, copies", width: 34, rest * 1e3, 100 * rest / step, passes(rest))
    out += "  op (LRP: the LRP block's)                                   ms/step      %   passes/image\n"
    for (key, seconds) in rows.sorted(by: { $0.value > $1.value }) where seconds >= 0.001 * step {
      out += Self.row(key, width: 58, seconds * 1e3, 100 * seconds / step, passes(seconds))
    }
    return out
  }

  /// What is alive at the memory plan's peak, grouped as the time rows are: which
  /// tensors (forward values, LRP views, adjoints) set the step's arena.
  func memoryTable(_ plan: TrainingMemoryPlan) -> String {
    let split = classifierCount
    let (time, live) = plan.peak
    let forwardSteps = graph.nodes.count
    let when = time < forwardSteps ? "in the forward, at \(Self.label(graph.nodes[time].op))" : "in the reverse, at step \(time - forwardSteps + 1) of \(program.steps.count)"
    var rows: [String: Int] = [:]
    for (key, floats) in live {
      let name: String
      switch key {
      case .value(let n): name = "value    \(n >= split ? "LRP " : "")\(Self.label(graph.nodes[n].op))"
      case .view(let n): name = "LRP view \(Self.label(graph.nodes[n].op))"
      case .adjoint(let ref): name = "adjoint  \(ref.node.index >= split ? "LRP " : "")\(Self.label(graph[ref.node].op))\(ref.stream == .view ? " (view)" : "")"
      }
      rows[name, default: 0] += floats
    }
    let total = live.reduce(0) { $0 + $1.floats }
    var out = String(format: "  alive at the memory peak (%@): %.1f MiB in %d buffers\n", when, Double(total) / 262_144, live.count)
    out += "  tensor (LRP: the LRP block's)                                   MiB      %\n"
    for (name, floats) in rows.sorted(by: { $0.value > $1.value }) where floats * 200 >= total {
      out += "  " + name.padding(toLength: max(58, name.count), withPad: " ", startingAt: 0)
        + String(format: " %9.1f  %5.1f\n", Double(floats) / 262_144, 100 * Double(floats) / Double(total))
    }
    return out
  }
}
