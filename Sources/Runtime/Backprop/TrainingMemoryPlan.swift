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
///
/// Recomputation: a value in `recomputed` that the reverse reads is not kept from the
/// forward. Its buffer is free from its forward's last read until the first adjoint step
/// that reads it, and the forward op runs again just before that step (`recomputeBefore`),
/// with the same kernel and inputs: the same bits. Its inputs are kept (or recomputed in
/// turn) until then. TrainingSession.recomputedValues names them: the LRP block's
/// batch-norm transposes, transposed convolutions and unpooling (K rows per sample each,
/// read only by the reverse's product and weight-gradient steps), its ε-divisions'
/// quotients with the products they divide, and the batch norms' LRP views (from the
/// norm's input, which its own gradient keeps).
///
/// Shared adjoints: a sum's operand adjoint that is only a copy of the sum's takes the
/// sum's buffer (AliasedAdjoints); the plan treats the two as one key.
///
/// Fused chains: where a product's, its quotient's and its batch-norm transpose's values
/// are all recomputed, the forward runs the chain product → ε-division → transpose → sum
/// as one kernel at its last node (FusedRatio, the inference session's), the same bits,
/// and never writes them; the reverse likewise recomputes such a quotient with its product
/// in one kernel.

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
  /// Per adjoint-program step: the adjoints it writes first (zeroed just before it runs,
  /// or assigned), its fused partner's included (FusedAdjointSteps).
  public private(set) var firstWrites: [Int: [AdjointRef]] = [:]
  /// Per adjoint-program step: the values and views computed again just before it, views
  /// first, then values in forward order (see Recomputation above).
  public private(set) var recomputeBefore: [Int: [Key]] = [:]
  /// Adjoint-program steps that only copy an adjoint into one that shares its buffer
  /// (AliasedAdjoints): the session skips them.
  public private(set) var aliasedSteps: Set<Int> = []
  /// LRP chains the forward runs as one kernel at their last node (FusedRatio), by that
  /// node: those whose intermediate values are all recomputed in the reverse, so that the
  /// forward never needs to write them.
  private(set) var fusedRatios: [Int: FusedRatio] = [:]
  /// Quotients the reverse recomputes with their product in one kernel (FusedRatio), by
  /// the quotient's node; the products themselves are then not recomputed.
  private(set) var recomputedRatios: [Int: FusedRatio] = [:]

  /// `views`: the nodes that carry an LRP view; `recomputed`: values (`.value`) and views
  /// (`.view`) the reverse recomputes rather than keeps (graph outputs excepted);
  /// `aliasing`: whether a sum's operand adjoints share its buffer (AliasedAdjoints).
  public init(program: AdjointProgram, batchSize: Int, views: Set<Int>, recomputed: Set<Key> = [], aliasing: Bool = true) {
    let graph = program.graph
    let forwardSteps = graph.nodes.count
    let outputs = (graph.outputs + (graph.segmentation.map { [$0] } ?? [])).map { Key.value($0.index) }
    let recomputed = recomputed.subtracting(outputs)
    let aliases = aliasing ? AliasedAdjoints.aliases(in: program) : [:]
    aliasedSteps = Set(aliases.keys)
    let shares = Dictionary(uniqueKeysWithValues: aliases.values.map { ($0.target, $0.shares) })
    // An adjoint that shares another's buffer is that adjoint in every lifetime.
    func canonical(_ key: Key) -> Key {
      if case .adjoint(let ref) = key, let root = shares[ref] { return .adjoint(root) }
      return key
    }
    var first: [Key: Int] = [:], last: [Key: Int] = [:]
    // A recomputed value's reads in the reverse: its second span.
    var reverseFirst: [Key: Int] = [:], reverseLast: [Key: Int] = [:]
    func use(_ key: Key, at time: Int) {
      let key = canonical(key)
      if time >= forwardSteps, recomputed.contains(key) {
        reverseFirst[key] = min(reverseFirst[key] ?? time, time)
        reverseLast[key] = max(reverseLast[key] ?? time, time)
        return
      }
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
    // A fused chain reads its factors, z and addend at its last node.
    let chains = FusedRatio.find(in: graph)
    fusedRatios = chains.filter { $0.value.absorbed.allSatisfy { recomputed.contains(.value($0)) } }
    for (end, chain) in fusedRatios {
      let (multiply, divide) = (graph.nodes[chain.multiply], graph.nodes[chain.divide])
      for key in [Key.value(multiply.inputs[0].index), .value(multiply.inputs[1].index), zKey(divide.inputs[1])] { use(key, at: end) }
      if let addend = chain.addend { use(.value(addend), at: end) }
    }
    // The forward hands its outputs to the loss when it ends.
    for output in graph.outputs + (graph.segmentation.map { [$0] } ?? []) { use(.value(output.index), at: forwardSteps - 1) }
    for seed in program.seeds { use(.adjoint(AdjointRef(seed, .value)), at: forwardSteps) }
    // A fused pair's second step writes its target and reads its operands at the first's
    // time as well (FusedAdjointSteps).
    let partners = FusedAdjointSteps.partners(in: program)
    for (j, step) in program.steps.enumerated() {
      let time = forwardSteps + j
      for (index, step) in [(j, step)] + (partners[j].map { [($0, program.steps[$0])] } ?? []) {
        use(.adjoint(AdjointRef(step.node, step.source)), at: time)
        switch step.target {
        case .operand(_, let target), .statistics(_, let target):
          let key = canonical(.adjoint(target))
          if first[key] == nil { firstWrites[j, default: []].append(target) }
          use(key, at: forwardSteps + index)
          use(key, at: time)
        case .parameter: break
        }
        for read in Self.backwardReads(step, in: graph, z: zKey, statistics: program.differentiatesStatistics) {
          use(read, at: forwardSteps + index)
          use(read, at: time)
        }
      }
    }
    // Each recomputation at the first reverse read, earliest first; a recomputed input not
    // alive then is recomputed at the same time, before it (its start moves earlier).
    // What recomputing reads: a view its norm's input; an ε-division its relevance and z
    // (the view where there is one); an unpooling its relevance (the pooling's argmax is
    // kept apart); other ops their inputs.
    func sources(_ key: Key) -> [Key] {
      let node = graph.nodes[Self.node(of: key)]
      if case .view = key { return [.value(node.inputs[0].index)] }
      switch node.op {
      case .lrpEpsilonDivide: return [.value(node.inputs[0].index), zKey(node.inputs[1])]
      case .poolTranspose: return [.value(node.inputs[0].index)]
      default: return node.inputs.map { .value($0.index) }
      }
    }
    var recomputedAt: [Key: Int] = [:]
    func recompute(_ key: Key, at time: Int) {
      if let start = recomputedAt[key], start <= time { return }
      recomputedAt[key] = time
      reverseFirst[key] = min(reverseFirst[key] ?? time, time)
      reverseLast[key] = max(reverseLast[key] ?? time, time)
      for input in sources(key) {
        if recomputed.contains(input) {
          if let start = recomputedAt[input], start <= time {
            reverseLast[input] = max(reverseLast[input]!, time)
          } else {
            recompute(input, at: time)
          }
        } else {
          use(input, at: time)
        }
      }
    }
    // Views first (they read classifier values only), then values in forward order.
    func order(_ key: Key) -> (Int, Int) {
      if case .view(let n) = key { (0, n) } else { (1, Self.node(of: key)) }
    }
    func firstRead(_ key: Key) -> (Int, Int, Int) { (reverseFirst[key]!, order(key).0, order(key).1) }
    for key in reverseFirst.keys.sorted(by: { firstRead($0) < firstRead($1) }) {
      recompute(key, at: reverseFirst[key]!)
    }
    for (key, time) in recomputedAt {
      recomputeBefore[time - forwardSteps, default: []].append(key)
    }
    for step in recomputeBefore.keys { recomputeBefore[step]!.sort { order($0) < order($1) } }
    // A quotient recomputed with the product it alone reads, in the same step: one kernel
    // from the product's factors, the product never written (its buffer stays planned).
    for keys in recomputeBefore.values {
      let values = Set(keys.compactMap { key -> Int? in if case .value(let n) = key { n } else { nil } })
      for chain in chains.values where values.contains(chain.multiply) && values.contains(chain.divide) {
        recomputedRatios[chain.divide] = FusedRatio(multiply: chain.multiply, divide: chain.divide)
      }
    }

    func floats(_ key: Key) -> Int { batchSize * (graph.nodes[Self.node(of: key)].type.elementCount ?? 0) }
    // In a fixed order (sets and dictionaries iterate in a per-process order): the packing,
    // and so the arena's size, is the same in every run.
    func rank(_ key: Key) -> (Int, Int, Int, Int) {
      switch key {
      case .value(let n): (first[key] ?? reverseFirst[key]!, n, 0, 0)
      case .view(let n): (first[key] ?? reverseFirst[key]!, n, 1, 0)
      case .adjoint(let ref): (first[key]!, ref.node.index, 2, ref.stream == .value ? 0 : 1)
      }
    }
    let keys = Set(first.keys).union(reverseFirst.keys).sorted { rank($0) < rank($1) }
    let lifetimes = keys.map { key in
      var spans: [ClosedRange<Int>] = []
      if let start = first[key] { spans.append(start...last[key]!) }
      if let start = reverseFirst[key] { spans.append(start...reverseLast[key]!) }
      return (floats: floats(key), spans: spans)
    }
    let (placed, arena) = MemoryPlan.pack(lifetimes: lifetimes)
    for (key, offset) in zip(keys, placed) { offsets[key] = offset }
    for (target, root) in shares { offsets[.adjoint(target)] = offsets[.adjoint(root)] }
    arenaFloats = arena
    unplannedFloats = lifetimes.reduce(0) { $0 + $1.floats }
    peak = Self.peak(keys: keys, lifetimes: lifetimes)
  }

  public static func node(of key: Key) -> Int {
    switch key {
    case .value(let n), .view(let n): n
    case .adjoint(let ref): ref.node.index
    }
  }

  /// What is alive when the most floats are: the step's time on the plan's timeline (the
  /// forward's nodes, then the adjoint steps) and the buffers alive then. The packing's
  /// arena is at least their sum; it tells which tensors set the step's memory.
  public private(set) var peak: (time: Int, live: [(key: Key, floats: Int)]) = (0, [])

  private static func peak(keys: [Key], lifetimes: [(floats: Int, spans: [ClosedRange<Int>])]) -> (time: Int, live: [(key: Key, floats: Int)]) {
    guard let end = lifetimes.flatMap({ $0.spans.map(\.upperBound) }).max() else { return (0, []) }
    var delta = [Int](repeating: 0, count: end + 2)
    for lifetime in lifetimes {
      for span in lifetime.spans {
        delta[span.lowerBound] += lifetime.floats
        delta[span.upperBound + 1] -= lifetime.floats
      }
    }
    var running = 0, best = 0, bestTime = 0
    for t in 0...end {
      running += delta[t]
      if running > best { (best, bestTime) = (running, t) }
    }
    let live = zip(keys, lifetimes).filter { $1.spans.contains { $0.contains(bestTime) } }.map { (key: $0, floats: $1.floats) }
    return (bestTime, live.sorted { $0.floats > $1.floats })
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
    case .operand(let operand, _):
      switch node.op {
      case .batchNorm: return step.source == .value || statistics ? [inputs[0]] : []
      case .relu: return [.value(step.node.index)]
      case .elementwise(let function):
        return function.description.derivativeFrom == .input ? inputs : [.value(step.node.index)]
      case .lrpEpsilonDivide: return [.value(step.node.index), z(node.inputs[1])]
      // R = a ⊙ c: each operand's adjoint reads the other.
      case .lrpMultiply: return [inputs[1 - operand]]
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
