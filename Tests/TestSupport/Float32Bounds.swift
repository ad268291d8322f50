/// Tolerances for float32 comparisons, derived from rounding-error analysis instead of
/// read off one CPU.
///
/// A float32 sum of n terms, accumulated in any order (OpenBLAS's kernels for Haswell,
/// SkylakeX, Zen and the generic path all order it differently), is off by at most
/// λ·√n·u times the sum of the terms' magnitudes, u = 2⁻²⁴, except with probability
/// 2·exp(−λ²/2) (Higham and Mary, *A new approach to probabilistic rounding error
/// analysis*, 2019). Deterministic worst cases grow with n instead of √n and are never met.
///
/// Every comparison states its bound relative to the magnitude compared (the largest
/// |value|, or an L2 norm), so a bound holds for tensors of any scale.

import Foundation
import GraphIR

public enum Float32Bound {
  /// Unit roundoff of float32.
  public static let unitRoundoff = 0x1p-24

  /// λ: a bound is exceeded with probability 2·exp(−λ²/2) ≈ 3e-8 per sum at λ = 6.
  public static let confidence = 6.0

  /// A sum of `terms` products: λ·√n·u, relative to the terms' magnitude.
  public static func sum(terms: Int) -> Double {
    confidence * Double(max(terms, 1)).squareRoot() * unitRoundoff
  }

  /// A chain of sums where each step's output feeds the next (a network, a pass of LRP):
  /// independent rounding errors add in quadrature, so the bound is λ·u·√(Σ nₗ).
  public static func chain(terms: [Int]) -> Double {
    sum(terms: terms.reduce(0, +))
  }

  /// A whole graph: the chain of sums along its longest path, counting each node's
  /// reduction length (multiply-accumulates per output element; the inputs of an add).
  /// Covers the forward pass, and each pass of the LRP block, which repeats the same sums
  /// transposed.
  public static func network(_ graph: Graph) -> Double {
    sum(terms: longestReduction(graph))
  }

  /// Σ nₗ along the graph's longest path (nodes are in topological order).
  public static func longestReduction(_ graph: Graph) -> Int {
    var along = [Int](repeating: 0, count: graph.nodes.count)
    for index in graph.nodes.indices {
      let id = NodeID(index)
      let node = graph[id]
      let before = node.inputs.map { along[$0.index] }.max() ?? 0
      along[index] = before + reductionLength(graph, id)
    }
    return along.max() ?? 0
  }

  /// Terms summed into one output element of `id`.
  static func reductionLength(_ graph: Graph, _ id: NodeID) -> Int {
    let node = graph[id]
    if case .add = node.op { return node.inputs.count }
    guard let outputs = node.type.elementCount, outputs > 0 else { return 1 }
    return max(1, graph.multiplyAccumulates(of: id) / outputs)
  }
}

/// The thread count the tests run the runtime with: `ISNETC_TEST_THREADS`, else 2.
/// `scripts/test-portability` runs the suite with 1 and with the default.
public let testThreads: Int = {
  Int(ProcessInfo.processInfo.environment["ISNETC_TEST_THREADS"] ?? "").flatMap { $0 > 0 ? $0 : nil } ?? 2
}()
