/// Pairs of adjoint steps the runtime runs as one pass.
///
/// An LRP product R = a ⊙ c and an ε-division r / (z + ε·sign z) (paper section 4.3, the
/// ε-rule) each have two operands, and the reverse-mode program differentiates them in two
/// adjacent steps that read the same adjoint: one per operand. Their kernels can write both
/// operands' adjoints in one pass over the class rows (each output with the arithmetic of
/// its own pass: the same bits), which reads the K-row adjoint and the operands once
/// instead of twice. The memory plan then has the second step's target written, and its
/// operands read, at the first step's time; the session skips the second step's work.
import GraphIR

enum FusedAdjointSteps {
  /// For each step that runs its partner too: the partner's index (always the next step).
  static func partners(in program: AdjointProgram) -> [Int: Int] {
    var partners: [Int: Int] = [:]
    let steps = program.steps
    var j = 0
    while j + 1 < steps.count {
      let (step, next) = (steps[j], steps[j + 1])
      if fusable(step, next, in: program.graph) {
        partners[j] = j + 1
        j += 2
      } else {
        j += 1
      }
    }
    return partners
  }

  /// Operand 0's and operand 1's steps of one product or ε-division, from one adjoint,
  /// into two different adjoints.
  private static func fusable(_ step: AdjointStep, _ next: AdjointStep, in graph: Graph) -> Bool {
    guard step.node == next.node, step.source == next.source,
      case .operand(0, let first) = step.target, case .operand(1, let second) = next.target, first != second
    else { return false }
    switch graph[step.node].op {
    case .lrpMultiply, .lrpEpsilonDivide: return true
    default: return false
    }
  }
}
