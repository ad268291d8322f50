/// Kernel calls for the LRP block's ops. Relevance values are [K, …] per sample; the
/// kernels see them as batch × K rows (each class's slice contiguous), so a transposed
/// convolution explains all K classes in one call and forward values are broadcast over
/// the classes instead of being copied K times.

import CKernels
import GraphIR

/// A chain `lrp_multiply → lrp_epsilon_divide [→ batch_norm_transpose] [→ add]` run as
/// one kernel (isn_lrp_fused_ratio) at its last node: the intermediate values have no other
/// reader, so they are never written. The chain's nodes by index; `add` sums the chain with
/// its other input (`addend`).
struct FusedRatio {
  var multiply: Int
  var divide: Int
  var transpose: Int?
  var add: Int?
  var addend: Int?

  /// Every chain in `graph`, keyed by its last node.
  static func find(in graph: Graph) -> [Int: FusedRatio] {
    let consumers = graph.consumers
    let outputs = Set(graph.outputs.map(\.index))
    func soleReader(_ index: Int) -> Int? {
      consumers[index].count == 1 && !outputs.contains(index) ? consumers[index][0].index : nil
    }
    var chains: [Int: FusedRatio] = [:]
    for (index, node) in graph.nodes.enumerated() {
      guard case .lrpMultiply = node.op, let divide = soleReader(index),
        case .lrpEpsilonDivide = graph.nodes[divide].op, graph.nodes[divide].inputs[0].index == index,
        // The divide's z must be a forward value of the multiply's shape, [C, H, W].
        graph.nodes[graph.nodes[divide].inputs[1].index].type.dims == graph.nodes[node.inputs[0].index].type.dims,
        graph.nodes[index].type.rank == 4
      else { continue }
      var chain = FusedRatio(multiply: index, divide: divide)
      var end = divide
      if let next = soleReader(divide), case .batchNormTranspose = graph.nodes[next].op {
        chain.transpose = next
        end = next
      }
      if let next = soleReader(end), case .add = graph.nodes[next].op, graph.nodes[next].inputs.count == 2 {
        let other = graph.nodes[next].inputs.first { $0.index != end }
        if let other, graph.nodes[next].inputs.filter({ $0.index == end }).count == 1 {
          chain.add = next
          chain.addend = other.index
          end = next
        }
      }
      chains[end] = chain
    }
    return chains
  }

  init(multiply: Int, divide: Int) {
    self.multiply = multiply
    self.divide = divide
  }

  /// The nodes whose own steps the chain replaces.
  var absorbed: [Int] { [multiply, divide, transpose].compactMap { $0 }.filter { $0 != end } }
  var end: Int { add ?? transpose ?? divide }

  /// The values the fused kernel reads (a, c, z and the addend), which must stay live until
  /// it runs.
  func reads(in graph: Graph) -> [Int] {
    graph.nodes[multiply].inputs.map(\.index) + [graph.nodes[divide].inputs[1].index] + (addend.map { [$0] } ?? [])
  }
}

/// Relevance channel slices read in place instead of copied. DenseNet's relevance splits
/// at every dense layer into the new layer's channels (read by a transposed convolution)
/// and the rest (added to the layer's input relevance by a fused chain); both readers take
/// a class stride, so each slice is a view of the wider tensor (MemoryPlan, `sliceViews`)
/// and its copy, a pass over all of the block's relevance per layer, is not made.
enum SliceView {
  /// The slices of `graph` whose every reader reads them in place: a transposed
  /// convolution's relevance input, or the addend of a fused chain in `chains`.
  static func find(in graph: Graph, chains: [Int: FusedRatio]) -> Set<Int> {
    let consumers = graph.consumers
    let outputs = Set(graph.outputs.map(\.index))
    var views: Set<Int> = []
    for (index, node) in graph.nodes.enumerated() {
      guard case .sliceChannels = node.op, node.type.rank == 4, !outputs.contains(index), !consumers[index].isEmpty else { continue }
      let inPlace = consumers[index].allSatisfy { reader in
        let readerNode = graph.nodes[reader.index]
        switch readerNode.op {
        case .conv2dTranspose: return readerNode.inputs[0].index == index && readerNode.inputs.count == 1
        case .add: return chains[reader.index]?.addend == index
        default: return false
        }
      }
      if inPlace { views.insert(index) }
    }
    return views
  }
}

extension InferenceSession {
  /// Floats between one class's values of relevance `id` and the next's: its own per-class
  /// size, or, for a slice read in place, its input's.
  func classStride(of id: NodeID) -> Int {
    let viewed = sliceViews.contains(id.index) ? graph[id].inputs[0] : id
    return graph[viewed].type.dims.dropFirst().reduce(1, *)
  }

  /// The kernel call of a fused chain ending at `id`.
  func makeFusedRatioStep(_ id: NodeID, _ chain: FusedRatio) -> (Int) -> Void {
    let multiply = graph.nodes[chain.multiply]
    let divide = graph.nodes[chain.divide]
    guard case .lrpEpsilonDivide(let e) = divide.op else { preconditionFailure("not a divide") }
    let a = (pointer: pointer(multiply.inputs[0]), stride: plan.location(of: multiply.inputs[0]).sampleStride)
    let c = (pointer: pointer(multiply.inputs[1]), stride: plan.location(of: multiply.inputs[1]).sampleStride)
    let z = (pointer: pointer(divide.inputs[1]), stride: plan.location(of: divide.inputs[1]).sampleStride)
    let y = pointer(id)
    let yStride = plan.location(of: id).sampleStride
    let dims = graph[id].type.dims  // [K, C, H, W]
    let (classes, channels, plane) = (dims[0], dims[1], dims[2] * dims[3])
    let scale = chain.transpose.map { constants.constants[$0]!.scale }
    let addend = chain.addend.map {
      (pointer: pointer(NodeID($0)), stride: plan.location(of: NodeID($0)).sampleStride, classStride: classStride(of: NodeID($0)))
    }
    let sampleEpsilons = sampleEpsilonStorage
    return { samples in
      withOptionalBuffer(scale) { s in
        isn_lrp_fused_ratio(
          a.pointer, a.stride, c.pointer, c.stride, z.pointer, z.stride, s, addend?.pointer, addend?.stride ?? 0, addend?.classStride ?? 0,
          Int32(samples), Int32(classes), Int32(channels), plane, Float(e.epsilon), sampleEpsilons.kernelArgument, y, yStride)
      }
    }
  }

  func makeLRPStep(_ id: NodeID) -> ((Int) -> Void)? {
    let node = graph[id]
    let y = pointer(id)
    let yStride = plan.location(of: id).sampleStride
    let operands = node.inputs.map { (pointer: pointer($0), stride: plan.location(of: $0).sampleStride, dims: graph[$0].type.dims) }
    let c = constants.constants[id.index]
    let (workspace, workspaceThreads) = (self.workspace, Int32(threads))
    let scratch = self.scratch
    let classes = node.type.dims.first ?? 1
    /// Floats per class of the output.
    let perClass = node.type.dims.dropFirst().reduce(1, *)
    switch node.op {
    case .lrpSeed(let a):
      let logits = operands[0]
      let count = node.type.dims[1]
      guard a.onePerSample else {
        return { samples in isn_lrp_seed(logits.pointer, logits.stride, Int32(samples), Int32(count), nil, y, yStride) }
      }
      let explained = explainedClassStorage
      return { samples in
        explained.choose(logits: logits.pointer, stride: logits.stride, samples: samples, classes: count)
        isn_lrp_seed(logits.pointer, logits.stride, Int32(samples), Int32(count), explained.classes, y, yStride)
      }
    case .lrpEpsilonDivide(let a):
      let (r, z) = (operands[0], operands[1])
      let sampleEpsilons = sampleEpsilonStorage
      return { samples in
        isn_lrp_epsilon_divide(
          r.pointer, r.stride, z.pointer, z.stride, Int32(samples), Int32(classes), perClass, Float(a.epsilon), sampleEpsilons.kernelArgument, y,
          yStride)
      }
    case .lrpMultiply:
      let (x, r) = (operands[0], operands[1])
      return { samples in
        isn_lrp_multiply(x.pointer, x.stride, r.pointer, r.stride, Int32(samples), Int32(classes), perClass, y, yStride)
      }
    case .batchNormTranspose:
      let r = operands[0]
      let scale = c!.scale
      let shift = c!.shift
      let channels = Int32(node.type.dims[1])
      let spatial = node.type.dims.dropFirst(2).reduce(1, *)
      return { samples in
        // Rows are (sample, class) pairs: dense relevance has a uniform row stride.
        isn_channel_affine(r.pointer, perClass, Int32(samples * classes), channels, spatial, scale, shift, 0, y, perClass)
      }
    case .conv2dTranspose(let a):
      return transposedConvolution(
        a.forward, inputDims: a.inputDims, weight: c!.weight, relevance: operands[0], rowStride: classStride(of: node.inputs[0]), classes: classes, y: y)
    case .linearTranspose(let a):
      let r = operands[0]
      let weight = c!.weight
      return { samples in
        isn_linear(r.pointer, a.outFeatures, Int32(samples * classes), Int32(a.outFeatures), weight, nil, Int32(a.inFeatures), 0, y, a.inFeatures)
      }
    case .poolTranspose(let a) where a.forward.lrpRule == .epsilonLayer:
      // The depthwise convolution with weights 1/window (`InferenceSession.init` checked it exists).
      let forward = a.forward.asConvolution(inputDims: a.inputDims)!
      let window = forward.kernel.h * forward.kernel.w
      let weight = [Float](repeating: 1 / Float(window), count: a.inputDims[0] * window)
      return transposedConvolution(
        forward, inputDims: a.inputDims, weight: weight, relevance: operands[0], rowStride: classStride(of: node.inputs[0]), classes: classes, y: y)
    case .poolTranspose(let a):
      // Winner-take-all: each value to its window's arg-max.
      let r = operands[0]
      let indices = argmax[node.inputs[1].index]!
      let (channels, h, w) = (a.inputDims[0], a.inputDims[1], a.inputDims[2])
      let (oh, ow) = (r.dims[2], r.dims[3])
      let inPerClass = channels * oh * ow
      return { samples in
        for k in 0..<classes {
          isn_max_unpool2d_sum(r.pointer + k * inPerClass, r.stride, indices, Int32(samples), Int32(channels), Int32(h), Int32(w), Int32(oh), Int32(ow), y + k * perClass, yStride)
        }
      }
    case .sliceChannels(let a):
      let r = operands[0]
      let plane = r.dims.dropFirst(2).reduce(1, *)
      let rowStride = r.dims.dropFirst().reduce(1, *)
      let source = r.pointer + a.start * plane
      return { samples in isn_copy(source, rowStride, Int32(samples * classes), a.count * plane, y, perClass) }
    case .unflatten:
      return nil
    case .zbPreactivation(let a):
      let x = operands[0]
      var geometry = Self.geometry(a.conv, input: a.inputDims, output: node.type.dims, batch: plan.batchSize)
      let (weight, bias, correction) = (c!.weight, c!.bias!, c!.correction)
      let count = node.type.elementCount ?? 0
      return { samples in
        geometry.batch = Int32(samples)
        isn_conv2d(&geometry, x.pointer, x.stride, weight, bias, 0, y, yStride, workspace, workspaceThreads)
        // Broadcast the (negated) bound terms over the batch: stride 0.
        isn_add(y, yStride, correction, 0, Int32(samples), count, 0, y, yStride)
      }
    case .zbRelevance(let a):
      let (x, s) = (operands[0], operands[1])
      var geometry = Self.geometry(a.conv, input: a.inputDims, output: Array(s.dims.dropFirst()), batch: plan.batchSize * classes)
      let (weight, boundsWeight) = (c!.weight, c!.boundsWeight)
      let sPerClass = s.dims.dropFirst().reduce(1, *)
      let (low, high) = (Float(a.low), Float(a.high))
      return { samples in
        geometry.batch = Int32(samples * classes)
        isn_conv2d_transpose(&geometry, s.pointer, sPerClass, weight, y, perClass, workspace, workspaceThreads)
        isn_conv2d_transpose(&geometry, s.pointer, sPerClass, boundsWeight, scratch, perClass, workspace, workspaceThreads)
        isn_lrp_zb_combine(x.pointer, x.stride, y, scratch, Int32(samples), Int32(classes), perClass, low, high, y)
      }
    case .input, .conv2d, .batchNorm, .relu, .elementwise, .pool, .linear, .flatten, .dropout,
      .concat, .add, .mul, .upsample:
      preconditionFailure("\(node.op.name) is a classifier op; makeStep runs it")
    }
  }

  /// convᵀ over samples × classes rows: relevance [K, out, Ho, Wo] → [K, in, H, W]; rows
  /// of `r` are `rowStride` floats apart.
  private func transposedConvolution(
    _ forward: Conv2DAttributes, inputDims: [Int], weight: [Float],
    relevance r: (pointer: UnsafeMutablePointer<Float>, stride: Int, dims: [Int]), rowStride rPerClass: Int, classes: Int,
    y: UnsafeMutablePointer<Float>
  ) -> (Int) -> Void {
    let yPerClass = inputDims.reduce(1, *)
    let (workspace, workspaceThreads) = (self.workspace, Int32(threads))
    if var equivalent = WinogradConvolution.transpose(forward, inputDims: inputDims, outputDims: Array(r.dims.dropFirst()), batch: plan.batchSize * classes) {
      let u = WinogradConvolution.transposedWeights(&equivalent, weight: weight)
      return { samples in
        equivalent.batch = Int32(samples * classes)
        isn_winograd_conv2d(&equivalent, r.pointer, rPerClass, u, nil, 0, y, yPerClass, workspace, workspaceThreads)
      }
    }
    var geometry = Self.geometry(forward, input: inputDims, output: Array(r.dims.dropFirst()), batch: plan.batchSize * classes)
    return { samples in
      geometry.batch = Int32(samples * classes)
      isn_conv2d_transpose(&geometry, r.pointer, rPerClass, weight, y, yPerClass, workspace, workspaceThreads)
    }
  }
}
