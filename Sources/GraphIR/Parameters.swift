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
  /// The parameters the op owns or reads, with their shapes, given its first input's type.
  public func parameterSlots(input: TensorType?) -> [ParameterSlot] {
    func own(_ role: ParameterRole, _ shape: [Int]) -> ParameterSlot {
      ParameterSlot(scope: nil, role: role, shape: shape)
    }
    func norm(_ scope: String?, channels: Int, roles: [ParameterRole] = [.weight, .bias, .runningMean, .runningVar]) -> [ParameterSlot] {
      roles.map { ParameterSlot(scope: scope, role: $0, shape: [channels]) }
    }
    func conv(_ a: Conv2DAttributes, inChannels: Int) -> [ParameterSlot] {
      let weight = [a.outChannels, inChannels / a.groups, a.kernel.h, a.kernel.w]
      return [own(.weight, weight)] + (a.hasBias ? [own(.bias, [a.outChannels])] : [])
        + (a.epilogue.foldedNorm.map { norm($0.name, channels: a.outChannels) } ?? [])
    }
    switch self {
    case .conv2d(let a):
      return conv(a, inChannels: input?.dims.first ?? 0)
    case .batchNorm:
      return norm(nil, channels: input?.dims.first ?? 0)
    case .linear(let a):
      let features = input?.dims.first ?? 0
      return [own(.weight, [a.outFeatures, features])] + (a.hasBias ? [own(.bias, [a.outFeatures])] : [])
        + (a.epilogue.foldedNorm.map { norm($0.name, channels: a.outFeatures) } ?? [])
    case .batchNormTranspose:
      // Only γ and σ: the transpose of the linear part has no shift.
      return norm(nil, channels: input.map { $0.rank >= 2 ? $0.dims[1] : 0 } ?? 0, roles: [.weight, .runningVar])
    case .conv2dTranspose(let a):
      return [own(.weight, [a.forward.outChannels, (a.inputDims.first ?? 0) / a.forward.groups, a.forward.kernel.h, a.forward.kernel.w])]
    case .linearTranspose(let a):
      return [own(.weight, [a.outFeatures, a.inFeatures])]
    case .zbPreactivation(let a), .zbRelevance(let a):
      return conv(a.conv, inChannels: a.inputDims.first ?? 0)
    case .input, .relu, .elementwise, .pool, .flatten, .dropout, .concat, .add, .mul, .upsample, .lrpSeed,
      .lrpEpsilonDivide, .lrpMultiply, .poolTranspose, .sliceChannels, .unflatten:
      return []
    }
  }

  /// How the op relates to parameters: owning them (a forward layer, whose node names
  /// them), reading another node's (the LRP block shares the classifier's weights), or none.
  public var parameterUse: ParameterUse {
    switch self {
    case .conv2d, .batchNorm, .linear: .owns
    case .batchNormTranspose, .conv2dTranspose, .linearTranspose, .zbPreactivation, .zbRelevance: .reads
    case .input, .relu, .elementwise, .pool, .flatten, .dropout, .concat, .add, .mul, .upsample, .lrpSeed,
      .lrpEpsilonDivide, .lrpMultiply, .poolTranspose, .sliceChannels, .unflatten:
      .none
    }
  }

  public var ownsParameters: Bool { parameterUse == .owns }
}

public enum ParameterUse: Sendable, Hashable {
  case owns
  case reads
  case none
}

extension Graph {
  /// Every parameter in node order: the graph's parameter table (owned parameters only;
  /// nodes that read parameters read these).
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

extension Graph {
  /// The named parameters `node` reads or owns, resolved to full names.
  public func parameterNames(of id: NodeID) -> [(name: String, role: ParameterRole, shape: [Int])] {
    let node = self[id]
    let input = node.inputs.first.map { self[$0].type }
    return node.op.parameterSlots(input: input).map { slot in
      ("\(slot.scope ?? node.name ?? id.description).\(slot.role.rawValue)", slot.role, slot.shape)
    }
  }
}
