/// Which parameters each op owns, and their shapes. A node that owns parameters carries a
/// name; its parameters are `<name>.<suffix>` (torchvision's convention, so checkpoints load
/// unchanged: `features.norm0.running_var`).

public enum ParameterRole: String, Sendable, Hashable, CaseIterable {
  case weight
  case bias
  case runningMean = "running_mean"
  case runningVar = "running_var"

  /// Running statistics are updated by batch norm in training, never by the optimizer.
  public var isTrainable: Bool {
    switch self {
    case .weight, .bias: true
    case .runningMean, .runningVar: false
    }
  }
}

/// One parameter tensor of the graph.
public struct Parameter: Sendable, Hashable {
  public var name: String
  public var shape: [Int]
  public var role: ParameterRole
  /// The node that owns it.
  public var owner: NodeID

  public var elementCount: Int { checkedProduct(shape) ?? Int.max }
}

extension Op {
  /// The parameters the op owns, with their shapes, given its input type.
  public func parameterSlots(input: TensorType?) -> [(role: ParameterRole, shape: [Int])] {
    switch self {
    case .conv2d(let a):
      let inChannels = input?.dims.first ?? 0
      let weight = [a.outChannels, inChannels / a.groups, a.kernel.h, a.kernel.w]
      return [(.weight, weight)] + (a.hasBias ? [(.bias, [a.outChannels])] : [])
    case .batchNorm:
      let c = input?.dims.first ?? 0
      return [(.weight, [c]), (.bias, [c]), (.runningMean, [c]), (.runningVar, [c])]
    case .linear(let a):
      let features = input?.dims.first ?? 0
      return [(.weight, [a.outFeatures, features])] + (a.hasBias ? [(.bias, [a.outFeatures])] : [])
    case .input, .relu, .maxPool2d, .avgPool2d, .adaptiveAvgPool2d, .flatten, .dropout, .concat,
      .add:
      return []
    }
  }

  /// Whether the op owns parameters (and so its node needs a name).
  public var ownsParameters: Bool {
    switch self {
    case .conv2d, .batchNorm, .linear: true
    case .input, .relu, .maxPool2d, .avgPool2d, .adaptiveAvgPool2d, .flatten, .dropout, .concat,
      .add:
      false
    }
  }
}

extension Graph {
  /// Every parameter in node order: the graph's parameter table.
  public var parameters: [Parameter] {
    var table: [Parameter] = []
    for (index, node) in nodes.enumerated() where node.op.ownsParameters {
      let input = node.inputs.first.map { nodes[$0.index].type }
      for slot in node.op.parameterSlots(input: input) {
        table.append(
          Parameter(
            name: "\(node.name ?? "%\(index)").\(slot.role.rawValue)", shape: slot.shape,
            role: slot.role, owner: NodeID(index)))
      }
    }
    return table
  }
}
