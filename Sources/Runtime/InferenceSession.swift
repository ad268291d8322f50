/// Runs a graph forward on the C kernels: weights bound and folded once, memory planned
/// once (MemoryPlan.swift), then each `run` is one pass over precomputed kernel calls with
/// no allocation.

import CKernels
import GraphIR

public final class InferenceSession {
  public let graph: Graph
  public let plan: MemoryPlan
  public let threads: Int
  let arena: UnsafeMutablePointer<Float>
  let workspace: UnsafeMutablePointer<Float>
  let constants: BoundParameters
  /// Arg-max indices of the max pools whose routing the LRP block reuses, by node index.
  var argmax: [Int: UnsafeMutablePointer<Int32>] = [:]
  /// Scratch for steps that need a second output-sized buffer (Zᴮ), in floats.
  let scratch: UnsafeMutablePointer<Float>
  /// Relevance channel slices read in place by their readers (LRPSteps.swift, SliceView).
  public let sliceViews: Set<Int>
  /// One closure per node that does work, given the number of samples in this run.
  private var steps: [(node: NodeID, run: (Int) -> Void)] = []
  /// The ε of the LRP ε-rule per sample for the next runs: element b for sample b, at every
  /// `lrp_epsilon_divide` node (the Zᴮ first layer's stabiliser included, so a batch with
  /// ε_b everywhere gives each sample the bits of a graph compiled with ε_b). nil: each
  /// node's compiled ε. `run` refuses fewer values than samples, or any value that is not
  /// positive and finite.
  public var sampleEpsilons: [Float]?
  /// Where the LRP steps read `sampleEpsilons` during a run.
  let sampleEpsilonStorage: SampleEpsilonStorage
  /// One explained class per sample: the chooser and the last choice (ExplainedClassStorage).
  public var explainedClasses: ClassChooser? {
    get { explainedClassStorage.chooser }
    set { explainedClassStorage.chooser = newValue }
  }
  public var chosenClasses: [Int]? { graph.explainsOneClassPerSample ? explainedClassStorage.lastChosen : nil }
  let explainedClassStorage: ExplainedClassStorage
  /// When set, each run adds every step's seconds to `stepSeconds[node index]`.
  public var profiling = false
  public private(set) var stepSeconds: [Double] = []

  /// Whether the forward 3×3 stride-1 convolutions run as Winograd F(4×4, 3×3): about
  /// three times faster, with float32 rounding a few times larger than the direct GEMM's.
  /// (The LRP block's transposed 3×3 convolutions always do.)
  public let winograd: Bool

  /// `weightsSource` names the weights for error messages (a file path). `fuseLRPChains`
  /// runs each LRP block's multiply → ε-divide → batch-norm transpose chain as one kernel
  /// (the values between are then not kept) and reads its relevance slices in place.
  /// `winograd`: nil chooses it, for graphs with an LRP block too: the ε-rule divides by
  /// the forward's pre-activations, so Winograd's rounding shows in the heatmaps (DenseNet-121:
  /// 4.6e-4 of the largest |R| against the float64 reference instead of 2.2e-4; one float32
  /// ulp of change in the input or the weights moves them by 2–3e-4, ReferenceHeatmapTests).
  /// `false` keeps the direct convolutions, as training does.
  public init(
    graph: Graph, weights: WeightTable, weightsSource: String, batchSize: Int, threads: Int,
    winograd: Bool? = nil, fuseLRPChains: Bool = true
  ) throws(RuntimeError) {
    self.winograd = winograd ?? true
    guard batchSize >= 1 else { throw RuntimeError("batch size must be at least 1, got \(batchSize)") }
    guard graph.inputIDs.count == 1 else { throw RuntimeError("model '\(graph.name)' must have exactly one input") }
    if let problem = graph.verify().first { throw RuntimeError("invalid graph: \(problem)") }
    self.graph = graph
    self.threads = max(1, threads)
    sampleEpsilonStorage = SampleEpsilonStorage(capacity: batchSize)
    explainedClassStorage = ExplainedClassStorage(capacity: batchSize)
    isn_set_threads(Int32(self.threads))
    constants = try BoundParameters(graph: graph, weights: weights, source: weightsSource)
    let chains = fuseLRPChains ? FusedRatio.find(in: graph) : [:]
    sliceViews = fuseLRPChains ? SliceView.find(in: graph, chains: chains) : []
    var extraReads: [Int: [Int]] = [:]
    for (end, chain) in chains {
      for value in chain.reads(in: graph) { extraReads[value, default: []].append(end) }
    }
    plan = MemoryPlan(graph: graph, batchSize: batchSize, extraReads: extraReads, sliceViews: sliceViews)
    try MemoryLimit.check(floats: plan.arenaFloats, "running \(graph.name)", batch: batchSize, graph: graph)
    arena = .allocate(capacity: max(plan.arenaFloats, 1))
    arena.initialize(repeating: 0, count: max(plan.arenaFloats, 1))
    var workspaceFloats = 0
    var scratchFloats = 0
    for node in graph.nodes {
      var geometry = ConvolutionSizing.convolution(of: node, in: graph, batch: batchSize)?.geometry
      switch node.op {
      case .conv2d:
        if self.winograd, var forward = geometry, isn_winograd_supported(&forward) != 0 {
          let needed = isn_winograd_workspace(&forward, Int32(self.threads))
          guard needed != Int.max else { throw RuntimeError("\(node.name ?? node.op.name): convolution too large") }
          workspaceFloats = max(workspaceFloats, needed)
        }
      case .conv2dTranspose(let a):
        let outputDims = Array(node.inputs.first.map { graph[$0].type.dims.dropFirst() } ?? [])
        if var equivalent = WinogradConvolution.transpose(a.forward, inputDims: a.inputDims, outputDims: outputDims, batch: batchSize * (node.type.dims.first ?? 1)) {
          let needed = isn_winograd_workspace(&equivalent, Int32(self.threads))
          guard needed != Int.max else { throw RuntimeError("\(node.name ?? "conv2d_transpose"): convolution too large") }
          workspaceFloats = max(workspaceFloats, needed)
        }
      case .zbRelevance:
        scratchFloats = max(scratchFloats, batchSize * (node.type.elementCount ?? 0))
      case .poolTranspose(let a) where a.forward.lrpRule == .epsilonLayer:
        guard let conv = a.forward.asConvolution(inputDims: a.inputDims) else {
          throw RuntimeError("\(node.op.name): relevance through \(a.forward.name) from \(a.inputDims[1])×\(a.inputDims[2]) to \(graph[node.inputs[0]].type.dims.dropFirst(2).map(String.init).joined(separator: "×")) needs evenly dividing windows")
        }
        geometry = Self.geometry(conv, input: a.inputDims, output: Array(graph[node.inputs[0]].type.dims.dropFirst()), batch: batchSize * (node.type.dims.first ?? 1))
      default:
        break
      }
      guard var geometry else { continue }
      let needed = isn_conv2d_workspace(&geometry, Int32(self.threads))
      guard needed >= 0 else { throw RuntimeError("\(node.name ?? node.op.name): convolution too large for this batch") }
      workspaceFloats = max(workspaceFloats, needed)
    }
    workspace = .allocate(capacity: max(workspaceFloats, 1))
    scratch = .allocate(capacity: max(scratchFloats, 1))
    for node in graph.nodes {
      if case .poolTranspose(let a) = node.op, a.forward.recordsArgmax {
        let pool = node.inputs[1]
        argmax[pool.index] = .allocate(capacity: max(1, batchSize * (graph[pool].type.elementCount ?? 0)))
      }
    }
    let absorbed = Set(chains.values.flatMap(\.absorbed))
    steps = graph.nodes.indices.compactMap { index in
      if absorbed.contains(index) || sliceViews.contains(index) { return nil }
      if let chain = chains[index] { return (NodeID(index), makeFusedRatioStep(NodeID(index), chain)) }
      return makeStep(NodeID(index)).map { (NodeID(index), $0) }
    }
    stepSeconds = Array(repeating: 0, count: graph.nodes.count)
  }

  deinit {
    arena.deallocate()
    workspace.deallocate()
    scratch.deallocate()
    for buffer in argmax.values { buffer.deallocate() }
  }

  /// Planned memory for activations (the arena), in bytes.
  public var arenaBytes: Int { plan.arenaBytes }

  /// Runs `samples` inputs laid out one after another (`samples` × input size floats) and
  /// returns the first output's values, `samples` × its size.
  public func run(_ input: [Float], samples: Int) throws(RuntimeError) -> [Float] {
    let inputID = graph.inputIDs[0]
    let perSample = graph[inputID].type.elementCount ?? 0
    guard samples >= 1, samples <= plan.batchSize else {
      throw RuntimeError("\(samples) samples do not fit the planned batch of \(plan.batchSize)")
    }
    guard input.count == samples * perSample else {
      throw RuntimeError("input has \(input.count) values, expected \(samples) × \(perSample) for \(graph[inputID].type)")
    }
    try sampleEpsilonStorage.load(sampleEpsilons, samples: samples)
    isn_set_threads(Int32(threads))
    let location = plan.location(of: inputID)
    input.withUnsafeBufferPointer { source in
      isn_copy(source.baseAddress, perSample, Int32(samples), perSample, pointer(inputID), location.sampleStride)
    }
    if profiling {
      for step in steps {
        let start = ContinuousClock.now
        step.run(samples)
        let elapsed = ContinuousClock.now - start
        stepSeconds[step.node.index] += elapsed.seconds
      }
    } else {
      for step in steps { step.run(samples) }
    }
    if let failure = explainedClassStorage.failure { throw RuntimeError(failure) }
    return values(of: graph.outputs[0], samples: samples)
  }

  /// The values of `node` after a run, `samples` × its size, densely packed.
  public func values(of node: NodeID, samples: Int) -> [Float] {
    let perSample = graph[node].type.elementCount ?? 0
    let stride = plan.location(of: node).sampleStride
    var out = [Float](repeating: 0, count: samples * perSample)
    let source = pointer(node)
    out.withUnsafeMutableBufferPointer { destination in
      isn_copy(source, stride, Int32(samples), perSample, destination.baseAddress, perSample)
    }
    return out
  }

  func pointer(_ node: NodeID) -> UnsafeMutablePointer<Float> {
    arena + plan.arenaOffset(of: node)
  }

  static func geometry(_ a: Conv2DAttributes, input: [Int], output: [Int], batch: Int) -> isn_conv_geometry {
    ConvolutionSizing.geometry(a, input: input, output: output, batch: batch)
  }

  /// The kernel call for one node, or nil for nodes that do no work (inputs, views, and
  /// concatenations whose inputs were all written in place).
  private func makeStep(_ id: NodeID) -> ((Int) -> Void)? {
    let node = graph[id]
    let y = pointer(id)
    let yStride = plan.location(of: id).sampleStride
    let inputs = node.inputs.map { (pointer: pointer($0), stride: plan.location(of: $0).sampleStride, dims: graph[$0].type.dims) }
    let (workspace, workspaceThreads) = (self.workspace, Int32(threads))
    let c = constants.constants[id.index]
    switch node.op {
    case .input, .flatten, .dropout:
      return nil
    case .conv2d(let a):
      var geometry = Self.geometry(a, input: inputs[0].dims, output: node.type.dims, batch: plan.batchSize)
      let weight = c!.weight
      let bias = c!.bias
      let relu: Int32 = a.epilogue.relu ? 1 : 0
      let x = inputs[0]
      // 3×3 stride 1: Winograd F(4×4, 3×3), weights transformed once here.
      let useWinograd = winograd && isn_winograd_supported(&geometry) != 0
      var transformed = [Float](repeating: 0, count: useWinograd ? isn_winograd_weight_size(&geometry) : 0)
      if useWinograd { isn_winograd_weights(&geometry, weight, &transformed) }
      let kernelWeights = useWinograd ? transformed : weight
      return { samples in
        geometry.batch = Int32(samples)
        kernelWeights.withUnsafeBufferPointer { w in
          withOptionalBuffer(bias) { b in
            if useWinograd {
              isn_winograd_conv2d(&geometry, x.pointer, x.stride, w.baseAddress, b, relu, y, yStride, workspace, workspaceThreads)
            } else {
              isn_conv2d(&geometry, x.pointer, x.stride, w.baseAddress, b, relu, y, yStride, workspace, workspaceThreads)
            }
          }
        }
      }
    case .batchNorm(let a):
      let scale = c!.scale
      let shift = c!.shift
      let x = inputs[0]
      let channels = Int32(x.dims[0])
      let spatial = x.dims.dropFirst().reduce(1, *)
      let relu: Int32 = a.fusedReLU ? 1 : 0
      return { samples in
        scale.withUnsafeBufferPointer { s in
          shift.withUnsafeBufferPointer { t in
            isn_channel_affine(x.pointer, x.stride, Int32(samples), channels, spatial, s.baseAddress, t.baseAddress, relu, y, yStride)
          }
        }
      }
    case .relu:
      let x = inputs[0]
      let count = node.type.elementCount ?? 0
      return { samples in isn_relu(x.pointer, x.stride, Int32(samples), count, y, yStride) }
    case .elementwise(let function):
      let x = inputs[0]
      let count = node.type.elementCount ?? 0
      let kernel = function.kernel
      return { samples in isn_elementwise(kernel, x.pointer, x.stride, Int32(samples), count, y, yStride) }
    case .pool(let pooling):
      let x = inputs[0]
      let indices = argmax[id.index]
      let outputDims = node.type.dims
      return { samples in
        pooling.forward(x.pointer, stride: x.stride, rows: samples, inputDims: x.dims, outputDims: outputDims, y, stride: yStride, argmax: indices)
      }
    case .linear(let a):
      let x = inputs[0]
      let weight = c!.weight
      let bias = c!.bias
      let relu: Int32 = a.epilogue.relu ? 1 : 0
      let features = Int32(x.dims[0])
      return { samples in
        weight.withUnsafeBufferPointer { w in
          withOptionalBuffer(bias) { b in
            isn_linear(x.pointer, x.stride, Int32(samples), features, w.baseAddress, b, Int32(a.outFeatures), relu, y, yStride)
          }
        }
      }
    case .concat:
      let copies = Set(plan.concatCopies[id.index] ?? [])
      guard !copies.isEmpty else { return nil }
      var moves: [(x: UnsafeMutablePointer<Float>, stride: Int, count: Int, to: UnsafeMutablePointer<Float>)] = []
      var channel = 0
      for (input, x) in zip(node.inputs, inputs) {
        let plane = x.dims.dropFirst().reduce(1, *)
        if copies.contains(input.index) {
          moves.append((x.pointer, x.stride, x.dims[0] * plane, y + channel * plane))
        }
        channel += x.dims[0]
      }
      return { samples in
        for move in moves { isn_copy(move.x, move.stride, Int32(samples), move.count, move.to, yStride) }
      }
    case .lrpSeed, .lrpEpsilonDivide, .lrpMultiply, .batchNormTranspose, .conv2dTranspose,
      .linearTranspose, .poolTranspose, .sliceChannels, .unflatten, .zbPreactivation,
      .zbRelevance:
      return makeLRPStep(id)
    case .mul:
      let (x, gate) = (inputs[0], inputs[1])
      let layout = BroadcastLayout(large: x.dims, small: gate.dims)
      return { samples in layout.multiply(x.pointer, stride: x.stride, by: gate.pointer, stride: gate.stride, rows: samples, into: y, stride: yStride) }
    case .upsample(let a):
      let x = inputs[0]
      return { samples in a.forward(x.pointer, stride: x.stride, rows: samples, inputDims: x.dims, into: y, stride: yStride) }
    case .add:
      let count = node.type.elementCount ?? 0
      return { samples in
        isn_add(inputs[0].pointer, inputs[0].stride, inputs[1].pointer, inputs[1].stride, Int32(samples), count, 0, y, yStride)
        for extra in inputs.dropFirst(2) {
          isn_add(y, yStride, extra.pointer, extra.stride, Int32(samples), count, 0, y, yStride)
        }
      }
    }
  }
}

/// Lends `values`' storage (or nil) for the duration of `body`: for the kernels' optional
/// bias arguments.
func withOptionalBuffer<R>(_ values: [Float]?, _ body: (UnsafePointer<Float>?) -> R) -> R {
  guard let values else { return body(nil) }
  return values.withUnsafeBufferPointer { body($0.baseAddress) }
}
