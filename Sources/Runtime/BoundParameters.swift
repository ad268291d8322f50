/// Binds a weight table to a graph's parameter table: every parameter the graph reads must
/// be present with its exact shape, and nothing the graph does not read may be there
/// (a misspelt name must not be silently ignored). Then precomputes what the kernels use:
/// batch norms as per-channel scale and shift, and folded batch norms merged into their
/// convolution's or linear layer's weights and bias (DeploymentPass.swift).

import GraphIR

/// The per-node constants the kernels read.
struct NodeConstants {
  var weight: [Float] = []
  var bias: [Float]? = nil
  /// Batch norm as y = x·scale + shift.
  var scale: [Float] = []
  var shift: [Float] = []
  /// Zᴮ (ZBetaConstants.swift): the bound images' contribution to z [out, Ho, Wo], negated,
  /// and the negative part of the folded weights.
  var correction: [Float] = []
  var boundsWeight: [Float] = []
}

struct BoundParameters {
  var constants: [Int: NodeConstants] = [:]

  /// `source` names what the weights came from, for messages (`w.safetensors`).
  init(graph: Graph, weights: WeightTable, source: String) throws(RuntimeError) {
    let problems = graph.weightProblems(names: weights.keys) { weights[$0].map { ($0.shape, $0.values) } }
    guard problems.isEmpty else { throw RuntimeError(graph.weightMismatchMessage(source: source, problems: problems)) }
    for (index, node) in graph.nodes.enumerated() {
      func tensor(_ scope: String, _ role: ParameterRole) -> [Float] {
        weights["\(scope).\(role.rawValue)"]!.values
      }
      switch node.op {
      case .conv2d(let a):
        let name = node.name!
        constants[index] = Self.folded(
          weight: tensor(name, .weight), bias: a.hasBias ? tensor(name, .bias) : nil,
          outputs: a.outChannels, norm: a.epilogue.foldedNorm.map { Self.norm($0.name, epsilon: $0.epsilon, tensor) })
      case .linear(let a):
        let name = node.name!
        constants[index] = Self.folded(
          weight: tensor(name, .weight), bias: a.hasBias ? tensor(name, .bias) : nil,
          outputs: a.outFeatures, norm: a.epilogue.foldedNorm.map { Self.norm($0.name, epsilon: $0.epsilon, tensor) })
      case .batchNorm(let a):
        let (scale, shift) = Self.norm(node.name!, epsilon: a.epsilon, tensor)
        constants[index] = NodeConstants(scale: scale, shift: shift)
      case .batchNormTranspose(let a):
        let (scale, _) = Self.norm(node.name!, epsilon: a.epsilon, tensor)
        constants[index] = NodeConstants(scale: scale, shift: Array(repeating: 0, count: scale.count))
      case .conv2dTranspose:
        constants[index] = NodeConstants(weight: tensor(node.name!, .weight))
      case .linearTranspose(let a):
        // Stored transposed, [in, out], so the linear kernel computes s·W.
        let w = tensor(node.name!, .weight)
        var t = [Float](repeating: 0, count: w.count)
        for o in 0..<a.outFeatures {
          for i in 0..<a.inFeatures { t[i * a.outFeatures + o] = w[o * a.inFeatures + i] }
        }
        constants[index] = NodeConstants(weight: t)
      case .zbPreactivation(let a), .zbRelevance(let a):
        let name = node.name!
        let use: ZBetaConstants.Use = if case .zbPreactivation = node.op { .preactivation } else { .relevance }
        constants[index] = ZBetaConstants.make(
          a, for: use, folded: Self.folded(
            weight: tensor(name, .weight), bias: a.conv.hasBias ? tensor(name, .bias) : nil,
            outputs: a.conv.outChannels, norm: a.conv.epilogue.foldedNorm.map { Self.norm($0.name, epsilon: $0.epsilon, tensor) }))
      case .input, .relu, .elementwise, .pool, .flatten, .dropout, .concat, .add, .mul, .upsample, .lrpSeed,
        .lrpEpsilonDivide, .lrpMultiply, .poolTranspose, .sliceChannels, .unflatten:
        break
      }
    }
  }

  /// A batch norm at inference as y = x·scale + shift (`BatchNormFolding`).
  static func norm(_ name: String, epsilon: Double, _ tensor: (String, ParameterRole) -> [Float]) -> (scale: [Float], shift: [Float]) {
    BatchNormFolding.scaleAndShift(
      gamma: tensor(name, .weight), beta: tensor(name, .bias), mean: tensor(name, .runningMean),
      variance: tensor(name, .runningVar), epsilon: epsilon)
  }

  /// Merges a following batch norm into a layer: W' = W·scale (per output), b' = b·scale + shift.
  static func folded(weight: [Float], bias: [Float]?, outputs: Int, norm: (scale: [Float], shift: [Float])?) -> NodeConstants {
    guard let norm else { return NodeConstants(weight: weight, bias: bias) }
    let (w, b) = BatchNormFolding.fold(weight: weight, bias: bias, outputs: outputs, scale: norm.scale, shift: norm.shift)
    return NodeConstants(weight: w, bias: b)
  }
}

