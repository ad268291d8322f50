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
    let table = graph.parameters
    var problems: [String] = []
    var expected: Set<String> = []
    for parameter in table {
      expected.insert(parameter.name)
      guard let tensor = weights[parameter.name] else {
        problems.append("missing tensor '\(parameter.name)' (expected shape \(shapeText(parameter.shape)))")
        continue
      }
      if tensor.shape != parameter.shape {
        problems.append("tensor '\(parameter.name)' has shape \(shapeText(tensor.shape)), the model needs \(shapeText(parameter.shape))")
      } else if let bad = tensor.values.firstIndex(where: { !$0.isFinite }) {
        problems.append("tensor '\(parameter.name)' holds a non-finite value (\(tensor.values[bad])) at flat index \(bad)")
      }
    }
    for name in weights.keys.sorted() where !expected.contains(name) {
      problems.append("unexpected tensor '\(name)': the model has no parameter of that name")
    }
    guard problems.isEmpty else {
      let shown = problems.prefix(10).map { "  \($0)" }.joined(separator: "\n")
      let more = problems.count > 10 ? "\n  … and \(problems.count - 10) more" : ""
      throw RuntimeError("\(source): weights do not fit model '\(graph.name)':\n\(shown)\(more)")
    }
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
        constants[index] = ZBetaConstants.make(
          a, for: node.op.kind == .zbPreactivation ? .preactivation : .relevance, folded: Self.folded(
            weight: tensor(name, .weight), bias: a.conv.hasBias ? tensor(name, .bias) : nil,
            outputs: a.conv.outChannels, norm: a.conv.epilogue.foldedNorm.map { Self.norm($0.name, epsilon: $0.epsilon, tensor) }))
      case .input, .relu, .elementwise, .maxPool2d, .avgPool2d, .adaptiveAvgPool2d, .flatten, .dropout, .concat, .add,
        .lrpSeed, .lrpEpsilonDivide, .lrpMultiply, .avgPool2dTranspose, .adaptiveAvgPool2dTranspose,
        .maxUnpool2d, .sliceChannels, .unflatten:
        break
      }
    }
  }

  /// A batch norm at inference as y = x·scale + shift: scale = γ/sqrt(var + eps),
  /// shift = β − μ·scale, in double precision.
  static func norm(_ name: String, epsilon: Double, _ tensor: (String, ParameterRole) -> [Float]) -> (scale: [Float], shift: [Float]) {
    let gamma = tensor(name, .weight)
    let beta = tensor(name, .bias)
    let mean = tensor(name, .runningMean)
    let variance = tensor(name, .runningVar)
    var scale = [Float](repeating: 0, count: gamma.count)
    var shift = scale
    for c in gamma.indices {
      let s = Double(gamma[c]) / (Double(variance[c]) + epsilon).squareRoot()
      scale[c] = Float(s)
      shift[c] = Float(Double(beta[c]) - Double(mean[c]) * s)
    }
    return (scale, shift)
  }

  /// Merges a following batch norm into a layer: W' = W·scale (per output), b' = b·scale + shift.
  static func folded(weight: [Float], bias: [Float]?, outputs: Int, norm: (scale: [Float], shift: [Float])?) -> NodeConstants {
    guard let norm else { return NodeConstants(weight: weight, bias: bias) }
    let perOutput = weight.count / outputs
    var w = weight
    var b = [Float](repeating: 0, count: outputs)
    for o in 0..<outputs {
      let s = Double(norm.scale[o])
      for i in o * perOutput..<(o + 1) * perOutput { w[i] = Float(Double(weight[i]) * s) }
      b[o] = Float(Double(bias?[o] ?? 0) * s + Double(norm.shift[o]))
    }
    return NodeConstants(weight: w, bias: b)
  }
}

