/// Executes a graph in training mode and its reverse-mode program (AdjointProgram): batch
/// norms normalise by the batch's statistics and update their running ones, dropout drops,
/// the LRP block fuses the batch's statistics (unbiased variance) as the reference does, and
/// `backward` turns the loss's adjoints of the outputs into every parameter's gradient.
///
/// Buffers are dense and allocated once for the largest batch; a step may use fewer samples.
/// Parameters live here while training (`parameters`, updated in place by an optimizer).

import CKernels
import Foundation
import GraphIR

public final class TrainingSession {
  public let program: AdjointProgram
  public var graph: Graph { program.graph }
  public let batchSize: Int
  public let threads: Int

  /// Parameter values (trainable and running statistics) by name.
  let parameterBuffers: [String: Buffer]
  /// Gradients of the trainable parameters, by name (`program.gradients`).
  let gradientBuffers: [String: Buffer]
  /// The static plan of values, views and adjoints (TrainingMemoryPlan) and its arena.
  public let memoryPlan: TrainingMemoryPlan
  let arena: Buffer
  /// Forward values by node index, in the arena.
  let values: [UnsafeMutablePointer<Float>]
  /// Adjoints by node and stream, in the arena.
  let adjoints: [AdjointRef: UnsafeMutablePointer<Float>]
  /// Per batch-norm node: the batch's statistics from the last forward.
  var normStatistics: [Int: NormStatistics] = [:]
  /// The batch-norm node of each name (the LRP block reads statistics by name).
  let normNodes: [String: Int]
  /// Batch norms of a constant (frozen) sub-model: they normalise by their running
  /// statistics, as in evaluation, and keep them.
  let constantNorms: Set<Int>
  /// Batch norms whose only reader is the ReLU right after them and whose own value nothing
  /// else reads (no LRP block view, no adjoint step): the forward writes the ReLU's output
  /// in the same pass (max(γ·x̂ + β, 0), the same numbers) and the ReLU's own forward is
  /// skipped. By batch norm node, the ReLU's index.
  let fusedReLUs: [Int: Int]
  /// Adjoint steps that run the next step's work too (FusedAdjointSteps).
  let fusedAdjointSteps: [Int: Int]
  /// The forward nodes a fused chain computes as part of its last (TrainingMemoryPlan).
  let absorbedByFusedRatios: Set<Int>
  /// The products the reverse recomputes inside their quotient's kernel (TrainingMemoryPlan).
  let productsRecomputedInRatios: Set<Int>
  /// Values the LRP block reads as an ε-rule z where its view differs from the forward's:
  /// batch norms (the view normalises by the unbiased variance) and the residual adds that
  /// sum them. Elsewhere the view equals the value.
  let lrpViews: [Int: UnsafeMutablePointer<Float>]
  var argmax: [Int: UnsafeMutablePointer<Int32>] = [:]
  var dropoutMasks: [Int: UnsafeMutablePointer<UInt8>] = [:]
  /// Zᴮ layers' gradients with respect to their folded weights W' and bias b', computed
  /// once per node and step, then mapped to W and γ.
  var foldedGradients: [Int: (weight: [Float], bias: [Float])] = [:]
  /// Training batch norms' Σ g and Σ g·x̂ per channel, once per backward (batchNormSums).
  var normSums: [Int: (dy: [Double], dyx: [Double])] = [:]
  /// The 3×3 stride-1 convolutions that run as Winograd (TrainingWinograd.swift).
  let winograd: TrainingWinograd
  var workspace: Buffer
  var scratch: Buffer
  /// Samples in the current step.
  public private(set) var samples = 0
  /// The step's dropout seed.
  public var dropoutSeed: UInt64 = 0
  /// Whether a forward updates the batch norms' running statistics (off to measure a
  /// batch, e.g. for `E auto`, without changing the model).
  public var updatesRunningStatistics = true
  /// The ε of the LRP ε-rule per sample: element b for sample b at every
  /// `lrp_epsilon_divide` node (the Zᴮ first layer's stabiliser included), in `forward` and
  /// in the `backward` that follows it. nil: each node's compiled ε. `forward` refuses fewer
  /// values than samples, or any value that is not positive and finite; `backward` always
  /// differentiates the last forward, with the values that forward took.
  public var sampleEpsilons: [Float]?
  /// The values the last forward took from `sampleEpsilons`, read by both passes' kernels.
  let sampleEpsilonStorage: SampleEpsilonStorage
  /// One explained class per sample: the chooser and the last choice (ExplainedClassStorage).
  public var explainedClasses: ClassChooser? {
    get { explainedClassStorage.chooser }
    set { explainedClassStorage.chooser = newValue }
  }
  public var chosenClasses: [Int]? { graph.explainsOneClassPerSample ? explainedClassStorage.lastChosen : nil }
  let explainedClassStorage: ExplainedClassStorage
  /// When set, `forward` adds each node's seconds to `forwardSeconds[node index]` and
  /// `backward` each adjoint step's (zeroing its first writes included) to
  /// `adjointSeconds[step index]` (`isnetc bench --train --profile`).
  public var profiling = false
  public private(set) lazy var forwardSeconds = [Double](repeating: 0, count: graph.nodes.count)
  public private(set) lazy var adjointSeconds = [Double](repeating: 0, count: program.steps.count)
  /// Seconds of the reverse's recomputations, by node index (TrainingMemoryPlan).
  public private(set) lazy var recomputeSeconds = [Double](repeating: 0, count: graph.nodes.count)
  /// What the reverse recomputes (`auto` resolved).
  public let recomputation: Recomputation
  /// Keeps the statistics the LRP block fuses from the previous forward: the detachment
  /// made literal, so finite differences see the function the gradients differentiate.
  /// Ignored by a program that differentiates the statistics: its function is the true one.
  var lrpStatisticsFrozen = false

  struct Buffer {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int
    init(count: Int) {
      self.count = max(count, 1)
      pointer = .allocate(capacity: self.count)
      pointer.initialize(repeating: 0, count: self.count)
    }
    func zero() { pointer.update(repeating: 0, count: count) }
  }

  struct NormStatistics {
    var mean: [Float]
    /// 1/sqrt(biased var + eps): the forward's normalisation.
    var inverseStd: [Float]
    /// The mean the LRP block fuses: the batch's, unless `lrpStatisticsFrozen`.
    var viewMean: [Float]
    /// 1/sqrt(unbiased var + eps): the LRP block's (the reference fuses torch.var's).
    var inverseStdUnbiased: [Float]
    /// The LRP view's γ/σ and β − μ·γ/σ (σ from the unbiased variance); empty for a
    /// constant norm, whose view is its value.
    var viewScale: [Float]
    var viewShift: [Float]
  }

  /// Which of the LRP block's relevance tensors (K rows per sample) the reverse recomputes
  /// instead of keeping from the forward (TrainingMemoryPlan, Recomputation); the results
  /// are the same bits either way.
  public enum Recomputation: String, Sendable, CaseIterable, Codable {
    /// `elementWise` where the step's buffers take at most half the machine's memory,
    /// else `relevance`: fast where it fits, small where it would not.
    case auto
    /// Keep every value the reverse reads.
    case none
    /// Recompute the batch-norm transposes' outputs (a per-channel scale: one
    /// memory-bound pass each).
    case normTransposes = "norm-transposes"
    /// Also the batch norms' LRP views and every ε-division's quotient whose relevance is
    /// a product, R = a ⊙ convᵀ(…), from the kept transpose: element-wise passes only.
    case elementWise = "element-wise"
    /// Also the transposed convolutions' and the unpoolings' outputs, the batch norms' LRP
    /// views and every other ε-division's quotient: one more transposed convolution per
    /// layer and heatmap in the reverse, for the largest share of the step's memory.
    case relevance
  }

  /// `winograd`: whether 3×3 stride-1 convolutions, their input adjoints and the LRP block's
  /// transposes of them run as Winograd F(4×4, 3×3) (TrainingWinograd.swift); nil: the LRP
  /// block's, as the inference session runs them, and the classifier's where the graph has
  /// no LRP block. `aliasingAdjoints`: false copies every sum's adjoint to its operands
  /// (AliasedAdjoints), for comparison.
  public init(
    program: AdjointProgram, weights: WeightTable, weightsSource: String, batchSize: Int, threads: Int, winograd: Bool? = nil,
    recompute: Recomputation = .auto, aliasingAdjoints: Bool = true
  ) throws(RuntimeError) {
    guard batchSize >= 2 else {
      throw RuntimeError("training needs a batch of at least 2 samples (batch statistics), got \(batchSize)")
    }
    let graph = program.graph
    guard graph.inputIDs.count == 1 else { throw RuntimeError("model '\(graph.name)' must have exactly one input") }
    if let problem = graph.verify().first { throw RuntimeError("invalid graph: \(problem)") }
    _ = try BoundParameters(graph: graph, weights: weights, source: weightsSource)  // names, shapes, finiteness
    self.program = program
    self.batchSize = batchSize
    self.threads = max(1, threads)
    sampleEpsilonStorage = SampleEpsilonStorage(capacity: batchSize)
    explainedClassStorage = ExplainedClassStorage(capacity: batchSize)
    isn_set_threads(Int32(self.threads))
    var parameterBuffers: [String: Buffer] = [:]
    for parameter in graph.parameters {
      let buffer = Buffer(count: parameter.elementCount)
      let values = weights[parameter.name]!.values
      values.withUnsafeBufferPointer { buffer.pointer.update(from: $0.baseAddress!, count: values.count) }
      parameterBuffers[parameter.name] = buffer
    }
    self.parameterBuffers = parameterBuffers
    var gradientBuffers: [String: Buffer] = [:]
    for name in program.gradients { gradientBuffers[name] = Buffer(count: parameterBuffers[name]!.count) }
    self.gradientBuffers = gradientBuffers
    var normNodes: [String: Int] = [:]
    var workspaceFloats = 1
    var scratchFloats = 1
    var views: Set<Int> = []
    for (index, node) in graph.nodes.enumerated() {
      let count = batchSize * (node.type.elementCount ?? 0)
      if case .lrpEpsilonDivide = node.op { Self.addView(node.inputs[1], in: graph, to: &views) }
      // One node's values (an adjoint before it is added); the Zᴮ layer's relevance
      // gradient holds two of its own and its convolution's (ZBetaGradients.swift).
      switch node.op {
      case .zbRelevance: scratchFloats = max(scratchFloats, 2 * count + batchSize * (graph[node.inputs[1]].type.elementCount ?? 0))
      default: scratchFloats = max(scratchFloats, count)
      }
      if case .batchNorm = node.op, let name = node.name { normNodes[name] = index }
      if var g = ConvolutionSizing.convolution(of: node, in: graph, batch: batchSize)?.geometry {
        workspaceFloats = max(workspaceFloats, isn_conv2d_workspace(&g, Int32(self.threads)))
      }
    }
    self.winograd = TrainingWinograd(
      graph: graph, batch: batchSize, threads: self.threads,
      classifier: winograd ?? !graph.nodes.contains { $0.op.isLRPBlockOp }, lrpBlock: winograd ?? true)
    workspaceFloats = max(workspaceFloats, self.winograd.workspaceFloats)
    self.normNodes = normNodes
    let constantNorms = Set(normNodes.filter { program.constants.contains("\($0.key).weight") }.values)
    self.constantNorms = constantNorms
    fusedReLUs = Self.fusibleReLUs(program, views: views)
    fusedAdjointSteps = FusedAdjointSteps.partners(in: program)
    let plans = { [views] (recompute: Recomputation) in
      TrainingMemoryPlan(
        program: program, batchSize: batchSize, views: views,
        recomputed: Self.recomputedValues(graph, views: views, constantNorms: constantNorms, recompute), aliasing: aliasingAdjoints)
    }
    let heatmaps = graph.relevanceRowsPerSample
    var plan = plans(recompute == .auto ? .elementWise : recompute)
    let recompute = Self.resolve(
      recompute, stepBytes: UInt64(plan.arenaFloats + scratchFloats + workspaceFloats) * 4,
      physicalMemory: ProcessInfo.processInfo.physicalMemory, hasLRPBlock: heatmaps > 0)
    if recompute == .relevance { plan = plans(.relevance) }
    recomputation = recompute
    memoryPlan = plan
    absorbedByFusedRatios = Set(plan.fusedRatios.values.flatMap(\.absorbed))
    productsRecomputedInRatios = Set(plan.recomputedRatios.values.map(\.multiply))
    try MemoryLimit.check(
      floats: plan.arenaFloats + scratchFloats + workspaceFloats, "a training step of \(graph.name)", batch: batchSize, graph: graph,
      advice: (heatmaps > 1 ? ["--heatmaps selective (one heatmap per image)"] : []) + (recompute != .relevance && heatmaps > 0 ? ["--recompute relevance"] : []))
    workspace = Buffer(count: workspaceFloats)
    scratch = Buffer(count: scratchFloats)
    for (index, node) in graph.nodes.enumerated() {
      switch node.op {
      case .pool(let pooling) where pooling.recordsArgmax:
        argmax[index] = .allocate(capacity: max(1, batchSize * (node.type.elementCount ?? 0)))
      case .dropout:
        dropoutMasks[index] = .allocate(capacity: max(1, batchSize * (node.type.elementCount ?? 0)))
      default: break
      }
    }
    let arena = Buffer(count: plan.arenaFloats)
    self.arena = arena
    values = graph.nodes.indices.map { arena.pointer + plan.offsets[.value($0)]! }
    lrpViews = Dictionary(uniqueKeysWithValues: views.map { ($0, arena.pointer + plan.offsets[.view($0)]!) })
    adjoints = Dictionary(uniqueKeysWithValues: program.adjoints.map { ($0, arena.pointer + plan.offsets[.adjoint($0)]!) })
  }

  deinit {
    for buffer in parameterBuffers.values { buffer.pointer.deallocate() }
    for buffer in gradientBuffers.values { buffer.pointer.deallocate() }
    arena.pointer.deallocate()
    for pointer in argmax.values { pointer.deallocate() }
    for pointer in dropoutMasks.values { pointer.deallocate() }
    workspace.pointer.deallocate()
    scratch.pointer.deallocate()
  }

  // MARK: - Parameters

  /// The current value of every parameter, as a weight table (for checkpoints).
  public var weights: WeightTable {
    var table: WeightTable = [:]
    for parameter in graph.parameters {
      let buffer = parameterBuffers[parameter.name]!
      table[parameter.name] = HostTensor(shape: parameter.shape, values: Array(UnsafeBufferPointer(start: buffer.pointer, count: parameter.elementCount)))
    }
    return table
  }

  /// The gradient of each trainable parameter from the last `backward`.
  public var gradients: [String: [Float]] {
    gradientBuffers.mapValues { Array(UnsafeBufferPointer(start: $0.pointer, count: $0.count)) }
  }

  /// Lends the parameter and gradient storage to an optimizer: (name, value, gradient, count).
  public func withParametersAndGradients(_ body: (String, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void) {
    for name in program.gradients {
      let value = parameterBuffers[name]!
      body(name, value.pointer, gradientBuffers[name]!.pointer, value.count)
    }
  }

  func parameter(_ name: String) -> UnsafeMutablePointer<Float> { parameterBuffers[name]!.pointer }
  func gradient(_ name: String) -> UnsafeMutablePointer<Float> { gradientBuffers[name]!.pointer }

  // MARK: - Running

  /// Runs the forward pass in training mode on `samples` inputs and returns the values of
  /// the graph's outputs, each `samples` × its size.
  public func forward(_ input: [Float], samples: Int) throws(RuntimeError) -> [[Float]] {
    let inputID = graph.inputIDs[0]
    let perSample = graph[inputID].type.elementCount ?? 0
    guard samples >= 2, samples <= batchSize else {
      throw RuntimeError("a training step needs between 2 and \(batchSize) samples, got \(samples)")
    }
    guard input.count == samples * perSample else {
      throw RuntimeError("input has \(input.count) values, expected \(samples) × \(perSample) for \(graph[inputID].type)")
    }
    try sampleEpsilonStorage.load(sampleEpsilons, samples: samples)
    isn_set_threads(Int32(threads))
    self.samples = samples
    input.withUnsafeBufferPointer { values[inputID.index].update(from: $0.baseAddress!, count: input.count) }
    let fused = memoryPlan.fusedRatios
    for index in graph.nodes.indices where !absorbedByFusedRatios.contains(index) {
      let start = profiling ? ContinuousClock.now : nil
      if let chain = fused[index] { runFusedRatio(chain, end: NodeID(index)) } else { runForward(NodeID(index)) }
      if let start { forwardSeconds[index] += (ContinuousClock.now - start).seconds }
    }
    if let failure = explainedClassStorage.failure { throw RuntimeError(failure) }
    return graph.outputs.map { value(of: $0) }
  }

  /// The value of `node` from the last forward, `samples` × its size. The memory plan reuses
  /// storage: outputs hold until `backward` runs, other values only until the arena
  /// lends their buffer on (after their last read in the step).
  public func value(of node: NodeID) -> [Float] {
    let count = samples * (graph[node].type.elementCount ?? 0)
    return Array(UnsafeBufferPointer(start: values[node.index], count: count))
  }

  /// Back-propagates the loss's adjoints of the outputs (`seeds[i]` for `program.seeds[i]`:
  /// the graph's outputs, then a multi-task classifier's segmentation head;
  /// `samples` × its size) and leaves every parameter's gradient in `gradients`.
  public func backward(seeds: [[Float]]) throws(RuntimeError) {
    guard seeds.count == program.seeds.count else {
      throw RuntimeError("backward needs \(program.seeds.count) output adjoints, got \(seeds.count)")
    }
    isn_set_threads(Int32(threads))
    for buffer in gradientBuffers.values { buffer.zero() }
    foldedGradients = [:]
    normSums = [:]
    for (seed, node) in zip(seeds, program.seeds) {
      let expected = samples * (graph[node].type.elementCount ?? 0)
      guard seed.count == expected else {
        throw RuntimeError("adjoint of output \(node) has \(seed.count) values, expected \(expected)")
      }
      let target = adjoints[AdjointRef(node, .value)]!
      seed.withUnsafeBufferPointer { target.update(from: $0.baseAddress!, count: expected) }
    }
    // An adjoint's storage held other data until its first write: zero it then, unless the
    // step writes all of it (`assignsWholeOperand`) and so assigns instead of adding.
    var partnerRan: Int?  // a fused partner's index once its work has run with its first step
    for (j, step) in program.steps.enumerated() {
      let start = profiling ? ContinuousClock.now : nil
      let partner = fusedAdjointSteps[j].map { program.steps[$0] }
      var assign = false, assignPartner = false
      for ref in memoryPlan.firstWrites[j] ?? [] {
        if case .operand(_, ref) = step.target, assignsWholeOperand(step) {
          assign = true
        } else if let partner, case .operand(_, ref) = partner.target, assignsWholeOperand(partner) {
          assignPartner = true
        } else {
          adjoints[ref]!.update(repeating: 0, count: samples * perSample(ref.node))
        }
      }
      var recomputing = 0.0
      for key in memoryPlan.recomputeBefore[j] ?? [] {
        let recomputeStart = profiling ? ContinuousClock.now : nil
        let node = TrainingMemoryPlan.node(of: key)
        switch key {
        case .value where productsRecomputedInRatios.contains(node): continue
        case .value: if let chain = memoryPlan.recomputedRatios[node] { runFusedRatio(chain, end: NodeID(node)) } else { runForward(NodeID(node)) }
        case .view: recomputeNormView(NodeID(node))
        case .adjoint: preconditionFailure("adjoints are not recomputed")
        }
        if let recomputeStart {
          let seconds = (ContinuousClock.now - recomputeStart).seconds
          recomputing += seconds
          recomputeSeconds[node] += seconds
        }
      }
      if let partner {
        runFusedAdjoints(step, partner, assign: assign, assignPartner: assignPartner)
        partnerRan = fusedAdjointSteps[j]
      } else if partnerRan != j, !memoryPlan.aliasedSteps.contains(j) {
        runAdjoint(step, assign: assign)
      }
      if let start { adjointSeconds[j] += (ContinuousClock.now - start).seconds - recomputing }
    }
  }

  /// `auto` as `Recomputation` states it, from the bytes of the step kept as
  /// `elementWise` keeps it; other choices as they are. Without an LRP block there is
  /// nothing to recompute.
  static func resolve(_ recompute: Recomputation, stepBytes: UInt64, physicalMemory: UInt64, hasLRPBlock: Bool) -> Recomputation {
    guard recompute == .auto else { return recompute }
    guard hasLRPBlock else { return .none }
    return stepBytes > physicalMemory / 2 ? .relevance : .elementWise
  }

  /// The values and LRP views `recompute` names (Recomputation).
  static func recomputedValues(_ graph: Graph, views: Set<Int>, constantNorms: Set<Int>, _ recompute: Recomputation) -> Set<TrainingMemoryPlan.Key> {
    var keys: Set<TrainingMemoryPlan.Key> = []
    for (index, node) in graph.nodes.enumerated() {
      switch (node.op, recompute) {
      case (.batchNormTranspose, .normTransposes), (.batchNormTranspose, .elementWise), (.batchNormTranspose, .relevance),
        (.conv2dTranspose, .relevance), (.poolTranspose, .relevance):
        keys.insert(.value(index))
      case (.batchNorm, .elementWise), (.batchNorm, .relevance):
        if views.contains(index) && !constantNorms.contains(index) { keys.insert(.view(index)) }
      default: break
      }
    }
    if recompute == .elementWise {
      // Every quotient whose relevance is a product: both recomputed from the product's
      // factors, which the product's own adjoint keeps alive until after the quotient's.
      for (index, node) in graph.nodes.enumerated() {
        guard case .lrpEpsilonDivide = node.op, case .lrpMultiply = graph[node.inputs[0]].op else { continue }
        keys.formUnion([.value(index), .value(node.inputs[0].index)])
      }
      return keys
    }
    guard recompute == .relevance else { return keys }
    // Every other ε-division whose relevance is a product with a recomputed transpose,
    // R = a ⊙ convᵀ(…): its quotient is recomputed from the one kept above it (the
    // transpose is recomputed at about that time anyway, the product and the division are
    // element-wise). Every other one is kept, so that no chain reaches further.
    var recomputeNext = true
    for (index, node) in graph.nodes.enumerated() {
      guard case .lrpEpsilonDivide = node.op else { continue }
      let relevance = graph[node.inputs[0]]
      guard case .lrpMultiply = relevance.op, keys.contains(.value(relevance.inputs[1].index)) else { continue }
      if recomputeNext { keys.formUnion([.value(index), .value(node.inputs[0].index)]) }
      recomputeNext.toggle()
    }
    return keys
  }

  // MARK: - Shared helpers

  func pointer(_ node: NodeID) -> UnsafeMutablePointer<Float> { values[node.index] }
  func adjoint(_ ref: AdjointRef) -> UnsafeMutablePointer<Float> { adjoints[ref]! }
  func perSample(_ node: NodeID) -> Int { graph[node].type.elementCount ?? 0 }

  /// See `fusedReLUs`. A batch norm's adjoint steps read its input, a ReLU's its output, so
  /// with no other reader the norm's value is never needed (a frozen norm, which runs its
  /// own forward, is left alone).
  static func fusibleReLUs(_ program: AdjointProgram, views: Set<Int>) -> [Int: Int] {
    let graph = program.graph
    var readers = [Int](repeating: 0, count: graph.nodes.count)
    for node in graph.nodes { for input in node.inputs { readers[input.index] += 1 } }
    let outputs = Set((graph.outputs + (graph.segmentation.map { [$0] } ?? [])).map(\.index))
    var fused: [Int: Int] = [:]
    for (index, node) in graph.nodes.enumerated() where index + 1 < graph.nodes.count {
      guard case .batchNorm(let a) = node.op, !a.fusedReLU, readers[index] == 1, !views.contains(index), !outputs.contains(index),
        !program.constants.contains("\(node.name ?? "").weight"),
        graph.nodes[index + 1].op == .relu, graph.nodes[index + 1].inputs == [NodeID(index)]
      else { continue }
      fused[index] = index + 1
    }
    return fused
  }

  /// Gives `node` (and what it sums) a view when its view differs from its value.
  static func addView(_ node: NodeID, in graph: Graph, to views: inout Set<Int>) {
    guard !views.contains(node.index), viewDiffers(node, in: graph) else { return }
    views.insert(node.index)
    switch graph[node].op {
    case .add, .mul, .upsample: for input in graph[node].inputs { addView(input, in: graph, to: &views) }
    default: break
    }
  }

  /// Whether the LRP view of `node` has other numbers than its value in training mode.
  static func viewDiffers(_ node: NodeID, in graph: Graph) -> Bool {
    switch graph[node].op {
    case .batchNorm: true
    case .add, .mul, .upsample: graph[node].inputs.contains { viewDiffers($0, in: graph) }
    default: false
    }
  }

  /// The value the LRP block reads as z: its LRP view where that differs, else the value.
  func zValue(_ node: NodeID) -> UnsafeMutablePointer<Float> {
    lrpViews[node.index] ?? pointer(node)
  }

  /// Statistics of the batch norm named `name` from the last forward.
  func statistics(named name: String) -> (node: Int, stats: NormStatistics) {
    let node = normNodes[name]!
    return (node, normStatistics[node]!)
  }

  static func geometry(_ a: Conv2DAttributes, input: [Int], output: [Int], batch: Int) -> isn_conv_geometry {
    ConvolutionSizing.geometry(a, input: input, output: output, batch: batch)
  }
}
