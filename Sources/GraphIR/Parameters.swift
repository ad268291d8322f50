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

/// One parameter an op reads: named `<scope>.<role>`, where the scope is the node's own
/// name, or for a folded batch norm that norm's name.
public struct ParameterSlot: Sendable, Hashable {
  /// nil: the node's own name.
  public var scope: String?
  public var role: ParameterRole
  public var shape: [Int]
}

extension Op {
  /// The parameters the op reads, with their shapes, given its input type.
  public func parameterSlots(input: TensorType?) -> [ParameterSlot] {
    func own(_ role: ParameterRole, _ shape: [Int]) -> ParameterSlot {
      ParameterSlot(scope: nil, role: role, shape: shape)
    }
    func norm(_ scope: String?, channels: Int) -> [ParameterSlot] {
      [.weight, .bias, .runningMean, .runningVar].map {
        ParameterSlot(scope: scope, role: $0, shape: [channels])
      }
    }
    switch self {
    case .conv2d(let a):
      let inChannels = input?.dims.first ?? 0
      let weight = [a.outChannels, inChannels / a.groups, a.kernel.h, a.kernel.w]
      return [own(.weight, weight)] + (a.hasBias ? [own(.bias, [a.outChannels])] : [])
        + (a.epilogue.foldedNorm.map { norm($0.name, channels: a.outChannels) } ?? [])
    case .batchNorm:
      return norm(nil, channels: input?.dims.first ?? 0)
    case .linear(let a):
      let features = input?.dims.first ?? 0
      return [own(.weight, [a.outFeatures, features])] + (a.hasBias ? [own(.bias, [a.outFeatures])] : [])
        + (a.epilogue.foldedNorm.map { norm($0.name, channels: a.outFeatures) } ?? [])
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
        let scope = slot.scope ?? node.name ?? "%\(index)"
        table.append(
          Parameter(name: "\(scope).\(slot.role.rawValue)", shape: slot.shape, role: slot.role, owner: NodeID(index)))
      }
    }
    return table
  }
}
