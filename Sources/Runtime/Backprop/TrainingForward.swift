/// The training-mode forward of every op (TrainingSession.swift). Classifier ops run as at
/// inference except batch norm (batch statistics, running-statistics update) and dropout;
/// the LRP block's ops fuse the batch's statistics with the unbiased variance, as the
/// reference's training step does (DESIGN.md §3).

import CKernels
import GraphIR

extension TrainingSession {
  func runForward(_ id: NodeID) {
    let node = graph[id]
    let y = pointer(id)
    let count = perSample(id)
    let n = samples
    let x = node.inputs.first.map { pointer($0) }
    let xDims = node.inputs.first.map { graph[$0].type.dims } ?? []
    switch node.op {
    case .input:
      return
    case .conv2d(let a):
      let bias = a.hasBias ? parameter("\(node.name!).bias") : nil
      if winogradConvolution(id, a, inputDims: xDims, outputDims: node.type.dims, rows: n, x: x!, bias: bias, y: y) { return }
      var g = Self.geometry(a, input: xDims, output: node.type.dims, batch: n)
      isn_conv2d(&g, x, xDims.reduce(1, *), parameter("\(node.name!).weight"), bias, 0, y, count, workspace.pointer, Int32(threads))
    case .batchNorm(let a):
      batchNormForward(id, a)
    case .relu:
      // Written by the batch norm before it (`fusedReLUs`).
      if let input = node.inputs.first, fusedReLUs[input.index] == id.index { return }
      isn_relu(x, count, Int32(n), count, y, count)
    case .elementwise(let function):
      isn_elementwise(function.kernel, x, count, Int32(n), count, y, count)
    case .pool(let pooling):
      pooling.forward(x, stride: xDims.reduce(1, *), rows: n, inputDims: xDims, outputDims: node.type.dims, y, stride: count, argmax: argmax[id.index])
    case .linear(let a):
      let bias = a.hasBias ? parameter("\(node.name!).bias") : nil
      isn_linear(x, xDims[0], Int32(n), Int32(xDims[0]), parameter("\(node.name!).weight"), bias, Int32(a.outFeatures), 0, y, count)
    case .flatten, .unflatten:
      y.update(from: x!, count: n * count)
    case .dropout(let a):
      isn_dropout(x, count, Int32(n), count, Float(a.probability), dropoutSeed &+ UInt64(id.index), y, count, dropoutMasks[id.index])
    case .concat:
      var offset = 0
      for input in node.inputs {
        let piece = perSample(input)
        isn_copy(pointer(input), piece, Int32(n), piece, y + offset, count)
        offset += piece
      }
    case .add:
      add(node.inputs.map(pointer), into: y, count: count)
      if let view = lrpViews[id.index] { add(node.inputs.map(zValue), into: view, count: count) }
    case .mul:
      let (a, b) = (node.inputs[0], node.inputs[1])
      let layout = BroadcastLayout(large: graph[a].type.dims, small: graph[b].type.dims)
      layout.multiply(pointer(a), stride: count, by: pointer(b), stride: perSample(b), rows: n, into: y, stride: count)
      if let view = lrpViews[id.index] {
        layout.multiply(zValue(a), stride: count, by: zValue(b), stride: perSample(b), rows: n, into: view, stride: count)
      }
    case .upsample(let a):
      a.forward(x!, stride: xDims.reduce(1, *), rows: n, inputDims: xDims, into: y, stride: count)
      if let view = lrpViews[id.index] { a.forward(zValue(node.inputs[0]), stride: xDims.reduce(1, *), rows: n, inputDims: xDims, into: view, stride: count) }
    case .lrpSeed, .lrpEpsilonDivide, .lrpMultiply, .batchNormTranspose, .conv2dTranspose,
      .linearTranspose, .poolTranspose, .sliceChannels, .zbPreactivation, .zbRelevance:
      lrpForward(id)
    }
  }

  private func add(_ terms: [UnsafeMutablePointer<Float>], into y: UnsafeMutablePointer<Float>, count: Int) {
    isn_add(terms[0], count, terms[1], count, Int32(samples), count, 0, y, count)
    for extra in terms.dropFirst(2) { isn_add(y, count, extra, count, Int32(samples), count, 0, y, count) }
  }

  /// Batch statistics in double, y = γ·(x − μ)/σ + β, the running statistics updated with
  /// the unbiased variance (PyTorch's rule), and the LRP view's value when one is read.
  private func batchNormForward(_ id: NodeID, _ a: BatchNormAttributes) {
    let node = graph[id]
    let name = node.name!
    let dims = node.type.dims
    let channels = dims[0]
    let spatial = dims.dropFirst().reduce(1, *)
    let x = pointer(node.inputs[0])
    if constantNorms.contains(id.index) {
      constantNormForward(id, a)
      return
    }
    var mean = [Float](repeating: 0, count: channels)
    var variance = mean
    isn_channel_moments(x, perSample(id), Int32(samples), Int32(channels), spatial, &mean, &variance)
    let m = Double(samples * spatial)
    let gamma = parameter("\(name).weight"), beta = parameter("\(name).bias")
    let runningMean = parameter("\(name).running_mean"), runningVar = parameter("\(name).running_var")
    let frozen = lrpStatisticsFrozen && !program.differentiatesStatistics ? normStatistics[id.index] : nil
    var stats = NormStatistics(mean: mean, inverseStd: mean, viewMean: frozen?.viewMean ?? mean, inverseStdUnbiased: mean, viewScale: mean, viewShift: mean)
    var scale = mean, shift = mean
    for c in 0..<channels {
      let unbiased = Double(variance[c]) * m / max(m - 1, 1)
      let inverse = 1 / (Double(variance[c]) + a.epsilon).squareRoot()
      let inverseUnbiased = frozen.map { Double($0.inverseStdUnbiased[c]) } ?? 1 / (unbiased + a.epsilon).squareRoot()
      stats.inverseStd[c] = Float(inverse)
      stats.inverseStdUnbiased[c] = Float(inverseUnbiased)
      scale[c] = Float(Double(gamma[c]) * inverse)
      shift[c] = Float(Double(beta[c]) - Double(mean[c]) * Double(gamma[c]) * inverse)
      stats.viewScale[c] = Float(Double(gamma[c]) * inverseUnbiased)
      stats.viewShift[c] = Float(Double(beta[c]) - Double(stats.viewMean[c]) * Double(gamma[c]) * inverseUnbiased)
      if updatesRunningStatistics {
        runningMean[c] = Float((1 - a.momentum) * Double(runningMean[c]) + a.momentum * Double(mean[c]))
        runningVar[c] = Float((1 - a.momentum) * Double(runningVar[c]) + a.momentum * unbiased)
      }
    }
    normStatistics[id.index] = stats
    let count = perSample(id)
    // With its ReLU fused, the norm writes the ReLU's output; its own value is never read.
    let relu = fusedReLUs[id.index]
    isn_channel_affine(x, count, Int32(samples), Int32(channels), spatial, scale, shift, relu == nil ? 0 : 1, relu.map { pointer(NodeID($0)) } ?? pointer(id), count)
    if lrpViews[id.index] != nil { recomputeNormView(id) }
  }

  /// A training batch norm's LRP view, γ·(x − μ)/√(unbiased var + eps) + β with the
  /// statistics of the last forward: written by the forward, and again by the reverse where
  /// the memory plan recomputes it (the same bits: the same factors, the same kernel).
  func recomputeNormView(_ id: NodeID) {
    let dims = graph[id].type.dims
    let (channels, spatial, count) = (dims[0], dims.dropFirst().reduce(1, *), perSample(id))
    let stats = normStatistics[id.index]!
    isn_channel_affine(pointer(graph[id].inputs[0]), count, Int32(samples), Int32(channels), spatial, stats.viewScale, stats.viewShift, 0, lrpViews[id.index]!, count)
  }

  /// A constant (frozen) batch norm: y = γ·(x − μᵣ)/√(σᵣ² + eps) + β with its running
  /// statistics, which stay as they are; its LRP view is the same map.
  private func constantNormForward(_ id: NodeID, _ a: BatchNormAttributes) {
    let node = graph[id]
    let name = node.name!
    let dims = node.type.dims
    let (channels, spatial, count) = (dims[0], dims.dropFirst().reduce(1, *), perSample(id))
    let gamma = parameter("\(name).weight"), beta = parameter("\(name).bias")
    let mean = Array(UnsafeBufferPointer(start: parameter("\(name).running_mean"), count: channels))
    let variance = parameter("\(name).running_var")
    let inverse = (0..<channels).map { Float(1 / (Double(variance[$0]) + a.epsilon).squareRoot()) }
    normStatistics[id.index] = NormStatistics(mean: mean, inverseStd: inverse, viewMean: mean, inverseStdUnbiased: inverse, viewScale: [], viewShift: [])
    let scale = (0..<channels).map { gamma[$0] * inverse[$0] }
    let shift = (0..<channels).map { beta[$0] - mean[$0] * scale[$0] }
    let x = pointer(node.inputs[0])
    isn_channel_affine(x, count, Int32(samples), Int32(channels), spatial, scale, shift, 0, pointer(id), count)
    if let view = lrpViews[id.index] { view.update(from: pointer(id), count: samples * count) }
  }

  private func lrpForward(_ id: NodeID) {
    let node = graph[id]
    let y = pointer(id)
    let classes = node.type.dims[0]
    let perClass = node.type.dims.dropFirst().reduce(1, *)
    let rows = samples * classes
    let operand = node.inputs.first.map { pointer($0) }
    switch node.op {
    case .lrpSeed(let a):
      let logits = node.type.dims[1]
      if a.onePerSample {
        explainedClassStorage.choose(logits: operand!, stride: logits, samples: samples, classes: logits)
        isn_lrp_seed(operand, logits, Int32(samples), Int32(logits), explainedClassStorage.classes, y, perSample(id))
      } else {
        isn_lrp_seed(operand, logits, Int32(samples), Int32(logits), nil, y, perSample(id))
      }
    case .lrpEpsilonDivide(let e):
      isn_lrp_epsilon_divide(operand, perSample(id), zValue(node.inputs[1]), perClass, Int32(samples), Int32(classes), perClass, Float(e.epsilon), sampleEpsilonStorage.kernelArgument, y, perSample(id))
    case .lrpMultiply:
      isn_lrp_multiply(operand, perClass, pointer(node.inputs[1]), perSample(id), Int32(samples), Int32(classes), perClass, y, perSample(id))
    case .batchNormTranspose:
      let scale = lrpNormScale(node.name!)
      let channels = node.type.dims[1]
      let zero = [Float](repeating: 0, count: channels)
      isn_channel_affine(operand, perClass, Int32(rows), Int32(channels), perClass / channels, scale, zero, 0, y, perClass)
    case .conv2dTranspose(let a):
      let outputDims = Array(graph[node.inputs[0]].type.dims.dropFirst())
      if winogradTransposedConvolution(id, a.forward, inputDims: a.inputDims, outputDims: outputDims, rows: rows, g: operand!, into: y) { return }
      var g = Self.geometry(a.forward, input: a.inputDims, output: outputDims, batch: rows)
      isn_conv2d_transpose(&g, operand, Int(g.out_channels * g.out_h * g.out_w), parameter("\(node.name!).weight"), y, perClass, workspace.pointer, Int32(threads))
    case .linearTranspose(let a):
      // out = c·W: the linear kernel computes x·Wᵀ, so hand it Wᵀ.
      let w = parameter("\(node.name!).weight")
      var transposed = [Float](repeating: 0, count: a.inFeatures * a.outFeatures)
      for o in 0..<a.outFeatures { for i in 0..<a.inFeatures { transposed[i * a.outFeatures + o] = w[o * a.inFeatures + i] } }
      isn_linear(operand, a.outFeatures, Int32(rows), Int32(a.outFeatures), transposed, nil, Int32(a.inFeatures), 0, y, a.inFeatures)
    case .poolTranspose(let a):
      let d = graph[node.inputs[0]].type.dims
      y.update(repeating: 0, count: samples * perSample(id))
      let indices = node.inputs.count == 2 ? argmax[node.inputs[1].index] : nil
      a.forward.addAdjoint(of: operand, argmax: indices, samples: samples, classes: classes, inputDims: a.inputDims, outputDims: Array(d.dropFirst()), into: y)
    case .sliceChannels(let a):
      let d = graph[node.inputs[0]].type.dims
      let plane = d.dropFirst(2).reduce(1, *)
      isn_copy(operand! + a.start * plane, d.dropFirst().reduce(1, *), Int32(rows), a.count * plane, y, perClass)
    case .zbPreactivation(let a):
      let folded = foldedFirstLayer(a, name: node.name!)
      var g = Self.geometry(a.conv, input: a.inputDims, output: node.type.dims, batch: samples)
      let count = perSample(id)
      isn_conv2d(&g, operand, a.inputDims.reduce(1, *), folded.weight, folded.bias, 0, y, count, workspace.pointer, Int32(threads))
      let correction = zBetaCorrection(a, folded: folded, outputDims: node.type.dims)
      isn_add(y, count, correction, 0, Int32(samples), count, 0, y, count)
    case .zbRelevance(let a):
      let folded = foldedFirstLayer(a, name: node.name!)
      let s = pointer(node.inputs[1])
      var g = Self.geometry(a.conv, input: a.inputDims, output: Array(graph[node.inputs[1]].type.dims.dropFirst()), batch: rows)
      let sPerClass = Int(g.out_channels * g.out_h * g.out_w)
      let negative = scratch.pointer
      isn_conv2d_transpose(&g, s, sPerClass, folded.weight.map { max(0, $0) }, y, perClass, workspace.pointer, Int32(threads))
      isn_conv2d_transpose(&g, s, sPerClass, folded.weight.map { min(0, $0) }, negative, perClass, workspace.pointer, Int32(threads))
      isn_lrp_zb_combine(operand, perClass, y, negative, Int32(samples), Int32(classes), perClass, Float(a.low), Float(a.high), y)
    case .input, .conv2d, .batchNorm, .relu, .elementwise, .pool, .linear, .flatten, .dropout,
      .concat, .add, .mul, .upsample, .unflatten:
      preconditionFailure("\(node.op.name) is not an LRP block op")
    }
  }

  /// A chain product → ε-division [→ batch-norm transpose] [→ sum] in one pass, writing only
  /// the value of `end`, its last node (TrainingMemoryPlan, FusedRatio): the operations of
  /// the separate ops in their order, so the same bits.
  func runFusedRatio(_ chain: FusedRatio, end: NodeID) {
    let (multiply, divide) = (graph.nodes[chain.multiply], graph.nodes[chain.divide])
    guard case .lrpEpsilonDivide(let e) = divide.op else { preconditionFailure("not an ε-division") }
    let dims = multiply.type.dims  // [K, C, H, W]
    let (classes, channels, plane) = (dims[0], dims[1], dims[2] * dims[3])
    let perClass = channels * plane
    let (a, c, z) = (multiply.inputs[0], multiply.inputs[1], divide.inputs[1])
    let scale = chain.transpose.map { lrpNormScale(graph.nodes[$0].name!) }
    let addend = chain.addend.map { (pointer: pointer(NodeID($0)), stride: perSample(NodeID($0))) }
    withOptionalBuffer(scale) { s in
      isn_lrp_fused_ratio(
        pointer(a), perClass, pointer(c), perSample(c), zValue(z), perClass, s, addend?.pointer, addend?.stride ?? 0, perClass,
        Int32(samples), Int32(classes), Int32(channels), plane, Float(e.epsilon), sampleEpsilonStorage.kernelArgument,
        pointer(end), perSample(end))
    }
  }

  /// γ/σ of the named batch norm with the batch's unbiased variance (the LRP block's).
  func lrpNormScale(_ name: String) -> [Float] {
    let (_, stats) = statistics(named: name)
    let gamma = parameter("\(name).weight")
    return stats.inverseStdUnbiased.indices.map { gamma[$0] * stats.inverseStdUnbiased[$0] }
  }

  /// The first layer's weights and bias with its batch norm folded in by the batch's
  /// statistics: W' = W·γ/σ, b' = (b − μ)·γ/σ + β.
  func foldedFirstLayer(_ a: ZBetaAttributes, name: String) -> (weight: [Float], bias: [Float], scale: [Float]) {
    let out = a.conv.outChannels
    let weight = parameter("\(name).weight")
    let weightCount = out * (a.inputDims[0] / a.conv.groups) * a.conv.kernel.h * a.conv.kernel.w
    var w = Array(UnsafeBufferPointer(start: weight, count: weightCount))
    var b = a.conv.hasBias ? Array(UnsafeBufferPointer(start: parameter("\(name).bias"), count: out)) : [Float](repeating: 0, count: out)
    guard let norm = a.conv.epilogue.foldedNorm else { return (w, b, [Float](repeating: 1, count: out)) }
    let (_, stats) = statistics(named: norm.name)
    let gamma = parameter("\(norm.name).weight"), beta = parameter("\(norm.name).bias")
    let perOutput = weightCount / out
    var scale = [Float](repeating: 0, count: out)
    for o in 0..<out {
      let s = Double(gamma[o]) * Double(stats.inverseStdUnbiased[o])
      scale[o] = Float(s)
      for i in o * perOutput..<(o + 1) * perOutput { w[i] = Float(Double(w[i]) * s) }
      b[o] = Float((Double(b[o]) - Double(stats.viewMean[o])) * s + Double(beta[o]))
    }
    return (w, b, scale)
  }

  /// −[conv(L, W'⁺, l·b'⁺) + conv(H, W'⁻, h·b'⁻)] for one sample (ZBetaConstants.swift).
  func zBetaCorrection(_ a: ZBetaAttributes, folded: (weight: [Float], bias: [Float], scale: [Float]), outputDims: [Int]) -> [Float] {
    let outputCount = outputDims.reduce(1, *)
    var g = Self.geometry(a.conv, input: a.inputDims, output: outputDims, batch: 1)
    func convolve(_ image: Float, _ w: [Float], _ b: [Float]) -> [Float] {
      let x = [Float](repeating: image, count: a.inputDims.reduce(1, *))
      var y = [Float](repeating: 0, count: outputCount)
      isn_conv2d(&g, x, x.count, w, b, 0, &y, outputCount, workspace.pointer, Int32(threads))
      return y
    }
    let (low, high) = (Float(a.low), Float(a.high))
    let lowTerm = convolve(low, folded.weight.map { max(0, $0) }, folded.bias.map { low * max(0, $0) })
    let highTerm = convolve(high, folded.weight.map { min(0, $0) }, folded.bias.map { high * min(0, $0) })
    return zip(lowTerm, highTerm).map { -($0 + $1) }
  }
}
