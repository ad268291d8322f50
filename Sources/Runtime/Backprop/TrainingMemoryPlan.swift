/// The static memory plan of a training step: forward values, LRP views and adjoints share
/// one arena, each buffer alive only from its first write to its last read on the step's
/// timeline (the forward's nodes, then the adjoint program's steps).
///
/// What keeps a forward value alive into the backward is what the derivative of each step
/// reads (`backwardReads`): a ReLU's output, a batch norm's or a layer's input for their
/// weight gradients, an ε-division's quotient and z, the factors of an LRP product. Most of
/// the LRP block's relevance maps (sums, slices, unpooled maps) are read by no derivative
/// and die in the forward, and an adjoint dies once its node's steps have run. Placement is
/// MemoryPlan's greedy packing.

import GraphIR

public struct TrainingMemoryPlan: Sendable {
  public enum Key: Hashable, Sendable {
    case value(Int)
    /// The LRP view of a value (TrainingSession.lrpViews).
    case view(Int)
    case adjoint(AdjointRef)
  }

  /// Arena offsets in floats.
  public private(set) var offsets: [Key: Int] = [:]
  public private(set) var arenaFloats = 0
  /// Floats the same buffers would take without reuse.
  public private(set) var unplannedFloats = 0
  /// Per adjoint-program step: the adjoints it writes first (zeroed just before it runs).
  public private(set) var firstWrites: [Int: [AdjointRef]] = [:]

  /// `views`: the nodes that carry an LRP view.
  public init(program: AdjointProgram, batchSize: Int, views: Set<Int>) {
    let graph = program.graph
    let forwardSteps = graph.nodes.count
    var first: [Key: Int] = [:], last: [Key: Int] = [:]
    func use(_ key: Key, at time: Int) {
      first[key] = min(first[key] ?? time, time)
      last[key] = max(last[key] ?? time, time)
    }
    func zKey(_ node: NodeID) -> Key { views.contains(node.index) ? .view(node.index) : .value(node.index) }

    for (index, node) in graph.nodes.enumerated() {
      use(.value(index), at: index)
      if views.contains(index) { use(.view(index), at: index) }
      for input in node.inputs { use(.value(input.index), at: index) }
      switch node.op {
      case .lrpEpsilonDivide: use(zKey(node.inputs[1]), at: index)
      case .add where views.contains(index): for input in node.inputs { use(zKey(input), at: index) }
      default: break
      }
    }
    // The forward hands its outputs to the loss when it ends.
    for output in graph.outputs + (graph.segmentation.map { [$0] } ?? []) { use(.value(output.index), at: forwardSteps - 1) }
    for seed in program.seeds { use(.adjoint(AdjointRef(seed, .value)), at: forwardSteps) }
    for (j, step) in program.steps.enumerated() {
      let time = forwardSteps + j
      use(.adjoint(AdjointRef(step.node, step.source)), at: time)
      switch step.target {
      case .operand(_, let target), .statistics(_, let target):
        let key = Key.adjoint(target)
        if first[key] == nil { firstWrites[j, default: []].append(target) }
        use(key, at: time)
      case .parameter: break
      }
      for read in Self.backwardReads(step, in: graph, z: zKey, statistics: program.differentiatesStatistics) { use(read, at: time) }
    }

    func floats(_ key: Key) -> Int {
      let node: Int
      switch key {
      case .value(let n), .view(let n): node = n
      case .adjoint(let ref): node = ref.node.index
      }
      return batchSize * (graph.nodes[node].type.elementCount ?? 0)
    }
    let keys = Array(first.keys)
    let intervals = keys.map { (floats: floats($0), first: first[$0]!, last: last[$0]!) }
    let (placed, arena) = MemoryPlan.pack(intervals)
    for (key, offset) in zip(keys, placed) { offsets[key] = offset }
    arenaFloats = arena
    unplannedFloats = intervals.reduce(0) { $0 + $1.floats }
  }

  /// The forward values the derivative step reads (besides adjoints, parameters and the
  /// batch statistics); `z` names where an ε-division's z is read (value or view);
  /// `statistics`: whether the program differentiates the LRP block's batch statistics.
  static func backwardReads(_ step: AdjointStep, in graph: Graph, z: (NodeID) -> Key, statistics: Bool) -> [Key] {
    let node = graph[step.node]
    let inputs = node.inputs.map { Key.value($0.index) }
    switch step.target {
    case .statistics(let norm, _):
      // The node's own operands (its folded gradient's, for Zᴮ) and the norm's input.
      let normInput = Key.value(graph[norm].inputs[0].index)
      switch node.op {
      case .zbPreactivation: return [inputs[0], normInput]
      case .batchNormTranspose, .zbRelevance: return inputs + [normInput]
      default: return [normInput]
      }
    case .operand:
      switch node.op {
      case .batchNorm: return step.source == .value || statistics ? [inputs[0]] : []
      case .relu: return [.value(step.node.index)]
      case .elementwise(let function):
        return function.description.derivativeFrom == .input ? inputs : [.value(step.node.index)]
      case .lrpEpsilonDivide: return [.value(step.node.index), z(node.inputs[1])]
      case .lrpMultiply: return inputs
      // Each operand's adjoint reads the other (the view's values in the view stream).
      case .mul: return step.source == .view ? node.inputs.map(z) : inputs
      case .zbRelevance: return [inputs[0]]
      case .input, .conv2d, .pool, .linear, .flatten, .dropout, .concat, .add, .upsample, .lrpSeed,
        .batchNormTranspose, .conv2dTranspose, .linearTranspose, .poolTranspose,
        .sliceChannels, .unflatten, .zbPreactivation:
        return []
      }
    case .parameter(_, let role):
      switch node.op {
      case .conv2d, .linear: return role == .weight ? [inputs[0]] : []
      case .batchNorm, .batchNormTranspose, .conv2dTranspose, .linearTranspose, .zbPreactivation: return [inputs[0]]
      case .zbRelevance: return inputs
      case .input, .relu, .elementwise, .pool, .flatten, .dropout, .concat, .add, .mul, .upsample,
        .lrpSeed, .lrpEpsilonDivide, .lrpMultiply, .poolTranspose, .sliceChannels, .unflatten:
        return []
      }
    }
  }
}
