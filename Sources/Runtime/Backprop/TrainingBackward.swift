/// One adjoint step (AdjointProgram): `target += ∂node · adjoint(node, source)`, with the
/// derivative of the node's op by the operand or parameter the step names. The `view`
/// stream differs only where the LRP block detaches: batch norm (statistics and β
/// constant, σ with the unbiased variance) and biases (ReverseMode.swift). With the
/// program's `differentiatesStatistics` a batch norm's view step and the `statistics` steps
/// differentiate the LRP block's μ and σᵤ as functions of the norm's input instead.

import COpenBLAS
import CKernels
import GraphIR

extension TrainingSession {
  /// Whether the step's operand adjoint writes every element of its target, so that, as
  /// the target's first contribution, it can assign instead of zeroing and adding (the same
  /// numbers: 0 + v = v): convolutions, linear layers, ReLU, a training batch norm's value
  /// stream, concatenation, sums, and the LRP block's transposed convolutions, products,
  /// ε-divisions and batch-norm transposes.
  func assignsWholeOperand(_ step: AdjointStep) -> Bool {
    switch graph[step.node].op {
    case .conv2d, .linear, .relu, .concat, .add, .conv2dTranspose, .lrpMultiply, .lrpEpsilonDivide, .batchNormTranspose: true
    case .batchNorm: step.source == .value && !constantNorms.contains(step.node.index)
    default: false
    }
  }

  /// `assign`: the target is written, not added to (its first contribution; only for the
  /// steps `assignsWholeOperand` admits).
  func runAdjoint(_ step: AdjointStep, assign: Bool = false) {
    let id = step.node
    let node = graph[id]
    let g = adjoint(AdjointRef(id, step.source))
    let n = samples
    let count = perSample(id)
    switch step.target {
    case .operand(let operand, let ref):
      let dx = adjoint(ref)
      let input = node.inputs[operand]
      let inputCount = perSample(input)
      let x = pointer(input)
      switch node.op {
      case .input, .zbPreactivation:
        preconditionFailure("\(node.op.name) has no differentiable operand")
      case .conv2d(let a):
        let xDims = graph[input].type.dims
        if !winogradTransposedConvolution(id, a, inputDims: xDims, outputDims: node.type.dims, rows: n, g: g, into: assign ? dx : scratch.pointer) {
          var geometry = Self.geometry(a, input: xDims, output: node.type.dims, batch: n)
          isn_conv2d_transpose(&geometry, g, count, parameter("\(node.name!).weight"), assign ? dx : scratch.pointer, inputCount, workspace.pointer, Int32(threads))
        }
        if !assign { isn_accumulate(scratch.pointer, n * inputCount, dx) }
      case .batchNorm:
        let stats = normStatistics[id.index]!
        let dims = node.type.dims
        let gamma = parameter("\(node.name!).weight")
        if constantNorms.contains(id.index) {
          // Evaluation mode: a fixed affine map per channel, in both streams.
          let scale = (0..<dims[0]).map { gamma[$0] * stats.inverseStd[$0] }
          isn_channel_scale_add(g, Int32(n), Int32(dims[0]), dims.dropFirst().reduce(1, *), scale, 0, dx)
        } else if step.source == .value {
          let sums = batchNormSums(id, g: g)
          isn_batchnorm_input_adjoint(x, g, Int32(n), Int32(dims[0]), dims.dropFirst().reduce(1, *), stats.mean, stats.inverseStd, gamma, sums.dy, sums.dyx, assign ? 1 : 0, dx)
        } else if program.differentiatesStatistics {
          viewThroughStatistics(id, g: g, dx: dx)
        } else {
          isn_channel_scale_add(g, Int32(n), Int32(dims[0]), dims.dropFirst().reduce(1, *), lrpNormScale(node.name!), 0, dx)
        }
      case .relu:
        isn_relu_backward(pointer(id), g, n * count, assign ? 1 : 0, dx)
      case .elementwise(let function):
        let v = function.description.derivativeFrom == .input ? x : pointer(id)
        isn_elementwise_backward(function.kernel, v, g, n * count, dx)
      case .pool(let pooling):
        pooling.addAdjoint(of: g, argmax: argmax[id.index], samples: n, classes: 1, inputDims: graph[input].type.dims, outputDims: node.type.dims, into: dx)
      case .linear(let a):
        // dx += g·W: [n, out] × [out, in]
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(inputCount), Int32(a.outFeatures), 1, g, Int32(a.outFeatures), parameter("\(node.name!).weight"), Int32(inputCount), assign ? 0 : 1, dx, Int32(inputCount))
      case .flatten, .unflatten:
        isn_accumulate(g, n * count, dx)
      case .dropout(let a):
        let mask = dropoutMasks[id.index]!
        let keep = Float(1 / (1 - a.probability))
        for i in 0..<(n * count) where mask[i] != 0 { dx[i] += g[i] * keep }
      case .concat:
        let offset = node.inputs.prefix(operand).reduce(0) { $0 + perSample($1) }
        if assign {
          isn_copy(g + offset, count, Int32(n), inputCount, dx, inputCount)
        } else {
          isn_add(dx, inputCount, g + offset, count, Int32(n), inputCount, 0, dx, inputCount)
        }
      case .add:
        if assign { dx.update(from: g, count: n * count) } else { isn_accumulate(g, n * count, dx) }
      case .mul:
        // y = a ⊙ b (b broadcast): da += g ⊙ b, db += Σ g ⊙ a over what b broadcasts to;
        // the view stream reads the operands' views.
        let (a, b) = (node.inputs[0], node.inputs[1])
        let read = step.source == .view ? zValue : pointer
        let layout = BroadcastLayout(large: graph[a].type.dims, small: graph[b].type.dims)
        if operand == 0 {
          layout.multiply(g, stride: count, by: read(b), stride: perSample(b), rows: n, accumulate: true, into: dx, stride: count)
        } else {
          layout.reduce(g, times: read(a), rows: n, smallCount: perSample(b), into: dx)
        }
      case .upsample(let a):
        a.addAdjoint(of: g, rows: n, inputDims: graph[input].type.dims, into: dx)
      case .lrpSeed(let a):
        let classes = node.type.dims[1]
        if a.onePerSample {
          let chosen = explainedClassStorage.classes
          for s in 0..<n {
            let k = Int(chosen[s])
            dx[s * classes + k] += g[s * count + k]
          }
        } else {
          for s in 0..<n { for k in 0..<classes { dx[s * classes + k] += g[s * count + k * classes + k] } }
        }
      case .lrpEpsilonDivide, .lrpMultiply:
        let target: UnsafeMutablePointer<Float>? = dx
        if operand == 0 {
          runOperandPair(id, g: g, into: (target, nil), assign: (assign, false))
        } else {
          runOperandPair(id, g: g, into: (nil, target), assign: (false, assign))
        }
      case .batchNormTranspose:
        let d = node.type.dims
        isn_channel_scale_add(g, Int32(n * d[0]), Int32(d[1]), d.dropFirst(2).reduce(1, *), lrpNormScale(node.name!), assign ? 1 : 0, dx)
      case .conv2dTranspose(let a):
        // out = convᵀ(c, W), so dc = conv(g, W).
        let classes = node.type.dims[0]
        let outDims = Array(graph[input].type.dims.dropFirst())
        let out = assign ? dx : scratch.pointer
        if !winogradConvolution(id, a.forward, inputDims: a.inputDims, outputDims: outDims, rows: n * classes, x: g, bias: nil, y: out) {
          var geometry = Self.geometry(a.forward, input: a.inputDims, output: outDims, batch: n * classes)
          isn_conv2d(&geometry, g, count / classes, parameter("\(node.name!).weight"), nil, 0, out, inputCount / classes, workspace.pointer, Int32(threads))
        }
        if !assign { isn_accumulate(scratch.pointer, n * inputCount, dx) }
      case .linearTranspose(let a):
        // out = c·W ([rows, out] × [out, in]), so dc += g·Wᵀ.
        let rows = n * node.type.dims[0]
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(a.outFeatures), Int32(a.inFeatures), 1, g, Int32(a.inFeatures), parameter("\(node.name!).weight"), Int32(a.inFeatures), 1, dx, Int32(a.outFeatures))
      case .poolTranspose(let a):
        let d = graph[input].type.dims
        let indices = node.inputs.count == 2 ? argmax[node.inputs[1].index] : nil
        a.forward.addTransposeAdjoint(
          of: g, argmax: indices, samples: n, classes: d[0], inputDims: a.inputDims, outputDims: Array(d.dropFirst()), into: dx, scratch: scratch.pointer)
      case .sliceChannels(let a):
        let d = graph[input].type.dims
        let plane = d.dropFirst(2).reduce(1, *)
        let row = d.dropFirst().reduce(1, *)
        let perClass = count / node.type.dims[0]
        let target = dx + a.start * plane
        isn_add(target, row, g, perClass, Int32(n * d[0]), perClass, 0, target, row)
      case .zbRelevance(let a):
        zBetaRelevanceOperandGradient(id, a, g: g, ds: dx)
      }
    case .parameter(let name, let role):
      parameterGradient(step, name: name, role: role, g: g)
    case .statistics(let norm, let ref):
      statisticsGradient(step.node, norm: norm, g: g, dx: adjoint(ref))
    }
  }

  /// A fused pair (FusedAdjointSteps): the product's or ε-division's two operand steps,
  /// both adjoints from one pass.
  func runFusedAdjoints(_ step: AdjointStep, _ partner: AdjointStep, assign: Bool, assignPartner: Bool) {
    guard case .operand(0, let first) = step.target, case .operand(1, let second) = partner.target else {
      preconditionFailure("a fused adjoint pair is operand 0's step, then operand 1's")
    }
    runOperandPair(step.node, g: adjoint(AdjointRef(step.node, step.source)), into: (adjoint(first), adjoint(second)), assign: (assign, assignPartner))
  }

  /// The adjoints of a product's or an ε-division's operands 0 and 1 (either may be nil),
  /// each assigned or added to as its flag says.
  private func runOperandPair(
    _ id: NodeID, g: UnsafeMutablePointer<Float>, into targets: (UnsafeMutablePointer<Float>?, UnsafeMutablePointer<Float>?), assign: (Bool, Bool)
  ) {
    let node = graph[id]
    let classes = node.type.dims[0]
    let perClass = perSample(id) / classes
    let flags = (Int32(assign.0 ? 1 : 0), Int32(assign.1 ? 1 : 0))
    switch node.op {
    case .lrpEpsilonDivide(let e):
      isn_lrp_epsilon_divide_backward(
        g, pointer(id), zValue(node.inputs[1]), Int32(samples), Int32(classes), perClass, Float(e.epsilon), sampleEpsilonStorage.kernelArgument,
        flags.0, flags.1, targets.0, targets.1)
    case .lrpMultiply:
      isn_lrp_multiply_backward(
        g, pointer(node.inputs[0]), pointer(node.inputs[1]), Int32(samples), Int32(classes), perClass, flags.0, flags.1, targets.0, targets.1)
    default:
      preconditionFailure("\(node.op.name) has no operand pair")
    }
  }

  /// A batch norm's view z = γ·x̂ + β, x̂ = (x − μ)/σᵤ, with μ and σᵤ² = Σ(x − μ)²/(M − 1) + eps
  /// functions of x (M values per channel). ∂μ/∂xⱼ = 1/M and ∂σᵤ/∂xⱼ = x̂ⱼ/(M − 1) (Σ(x − μ) = 0
  /// removes μ's share), so ∂zᵢ/∂xⱼ = γ/σᵤ·(δᵢⱼ − 1/M − x̂ᵢx̂ⱼ/(M − 1)) and
  ///   dxⱼ += γ/σᵤ·(gⱼ − Σg/M − x̂ⱼ·Σ g·x̂/(M − 1)).
  private func viewThroughStatistics(_ id: NodeID, g: UnsafeMutablePointer<Float>, dx: UnsafeMutablePointer<Float>) {
    let node = graph[id]
    let stats = normStatistics[id.index]!
    let dims = node.type.dims
    let channels = dims[0]
    let spatial = dims.dropFirst().reduce(1, *)
    let m = Double(samples * spatial)
    let x = pointer(node.inputs[0])
    let gamma = parameter("\(node.name!).weight")
    var sumG = [Double](repeating: 0, count: channels), sumGX = sumG
    isn_channel_sums(g, x, Int32(samples), Int32(channels), spatial, &sumG, &sumGX)
    var direct = [Float](repeating: 0, count: channels), slope = direct, offset = direct
    for c in 0..<channels {
      let inverse = Double(stats.inverseStdUnbiased[c]), mean = Double(stats.viewMean[c])
      let scale = Double(gamma[c]) * inverse
      let sumGXHat = (sumGX[c] - mean * sumG[c]) * inverse
      // The statistics' share, b·xⱼ + d: b = −γ/σᵤ²·Σ g·x̂/(M − 1), d = −b·μ − γ/σᵤ·Σg/M.
      let b = -scale * inverse * sumGXHat / (m - 1)
      direct[c] = Float(scale)
      slope[c] = Float(b)
      offset[c] = Float(-b * mean - scale * sumG[c] / m)
    }
    isn_channel_scale_add(g, Int32(samples), Int32(channels), spatial, direct, 0, dx)
    addChannelAffine(of: x, channels: channels, spatial: spatial, slope: slope, offset: offset, into: dx)
  }

  /// The adjoint of the input x of batch norm `norm` through the statistics an LRP node reads
  /// of it. With dL/dμ and dL/dσᵤ per channel that node's, and ∂μ/∂xⱼ = 1/M,
  /// ∂σᵤ/∂xⱼ = (xⱼ − μ)/(σᵤ·(M − 1)) (see `viewThroughStatistics`):
  ///   dxⱼ += dL/dμ/M + dL/dσᵤ·(xⱼ − μ)/(σᵤ·(M − 1)).
  /// - batch_norm_transpose, out = c·γ/σᵤ: dL/dσᵤ = −γ/σᵤ²·Σ g·c over samples, classes and
  ///   positions; μ is not read.
  /// - Zᴮ, W' = W·γ/σᵤ and b' = (b − μ)·γ/σᵤ + β: with P = Σ dW'·W + dB'·(b − μ) per output
  ///   channel, dL/dσᵤ = −γ·P/σᵤ² and dL/dμ = −dB'·γ/σᵤ.
  private func statisticsGradient(_ id: NodeID, norm: NodeID, g: UnsafeMutablePointer<Float>, dx: UnsafeMutablePointer<Float>) {
    let node = graph[id]
    let normNode = graph[norm]
    let stats = normStatistics[norm.index]!
    let gamma = parameter("\(normNode.name!).weight")
    let channels = normNode.type.dims[0]
    let spatial = normNode.type.dims.dropFirst().reduce(1, *)
    var dMean = [Double](repeating: 0, count: channels), dSigma = dMean
    switch node.op {
    case .batchNormTranspose:
      let d = node.type.dims
      var sums = [Double](repeating: 0, count: channels)
      isn_channel_sums(g, pointer(node.inputs[0]), Int32(samples * d[0]), Int32(d[1]), d.dropFirst(2).reduce(1, *), nil, &sums)
      for c in 0..<channels {
        let inverse = Double(stats.inverseStdUnbiased[c])
        dSigma[c] = -Double(gamma[c]) * inverse * inverse * sums[c]
      }
    case .zbPreactivation(let a), .zbRelevance(let a):
      let (dWeight, dBias) = zBetaFoldedGradients(id, a, g: g)
      let weight = parameter("\(node.name!).weight")
      let bias = a.conv.hasBias ? parameter("\(node.name!).bias") : nil
      let perOutput = dWeight.count / channels
      for o in 0..<channels {
        let inverse = Double(stats.inverseStdUnbiased[o])
        var p = Double(dBias[o]) * (Double(bias?[o] ?? 0) - Double(stats.viewMean[o]))
        for i in o * perOutput..<(o + 1) * perOutput { p += Double(dWeight[i]) * Double(weight[i]) }
        dSigma[o] = -Double(gamma[o]) * p * inverse * inverse
        dMean[o] = -Double(dBias[o]) * Double(gamma[o]) * inverse
      }
    default:
      preconditionFailure("\(node.op.name) reads no batch statistics")
    }
    let m = Double(samples * spatial)
    var slope = [Float](repeating: 0, count: channels), offset = slope
    for c in 0..<channels {
      let b = dSigma[c] * Double(stats.inverseStdUnbiased[c]) / (m - 1)
      slope[c] = Float(b)
      offset[c] = Float(dMean[c] / m - b * Double(stats.viewMean[c]))
    }
    addChannelAffine(of: pointer(normNode.inputs[0]), channels: channels, spatial: spatial, slope: slope, offset: offset, into: dx)
  }

  /// y += x·slope[c] + offset[c] for x, y: [samples, channels, spatial].
  private func addChannelAffine(of x: UnsafeMutablePointer<Float>, channels: Int, spatial: Int, slope: [Float], offset: [Float], into y: UnsafeMutablePointer<Float>) {
    let count = channels * spatial
    isn_channel_affine(x, count, Int32(samples), Int32(channels), spatial, slope, offset, 0, scratch.pointer, count)
    isn_accumulate(scratch.pointer, samples * count, y)
  }

  private func parameterGradient(_ step: AdjointStep, name: String, role: ParameterRole, g: UnsafeMutablePointer<Float>) {
    let id = step.node
    let node = graph[id]
    let n = samples
    let count = perSample(id)
    let dw = gradient(name)
    switch node.op {
    case .conv2d(let a):
      let input = node.inputs[0]
      if role == .weight {
        var geometry = Self.geometry(a, input: graph[input].type.dims, output: node.type.dims, batch: n)
        isn_conv2d_weight_grad(&geometry, pointer(input), perSample(input), 1, g, count, dw)
      } else {
        channelSums(g, rows: n, channels: a.outChannels, spatial: count / a.outChannels, into: dw)
      }
    case .linear(let a):
      let input = node.inputs[0]
      let features = perSample(input)
      if role == .weight {
        // dW += gᵀ·x: [out, n] × [n, in]
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(a.outFeatures), Int32(features), Int32(n), 1, g, Int32(a.outFeatures), pointer(input), Int32(features), 1, dw, Int32(features))
      } else {
        channelSums(g, rows: n, channels: a.outFeatures, spatial: 1, into: dw)
      }
    case .batchNorm:
      let stats = normStatistics[id.index]!
      let dims = node.type.dims
      let spatial = dims.dropFirst().reduce(1, *)
      let x = pointer(node.inputs[0])
      if step.source == .value {
        let sums = batchNormSums(id, g: g)
        let values = role == .weight ? sums.dyx : sums.dy
        for c in 0..<dims[0] { dw[c] += Float(values[c]) }
      } else {
        // z = γ·(x − μ)/σᵤ + β with μ, σᵤ, β constant: dγ = Σ g·(x − μ)/σᵤ.
        var sumG = [Double](repeating: 0, count: dims[0]), sumGX = sumG
        isn_channel_sums(g, x, Int32(n), Int32(dims[0]), spatial, &sumG, &sumGX)
        for c in 0..<dims[0] {
          dw[c] += Float((sumGX[c] - Double(stats.viewMean[c]) * sumG[c]) * Double(stats.inverseStdUnbiased[c]))
        }
      }
    case .batchNormTranspose:
      // out = c·γ/σᵤ: dγ = Σ g·c/σᵤ.
      let d = node.type.dims
      let (_, stats) = statistics(named: node.name!)
      var sums = [Double](repeating: 0, count: d[1])
      isn_channel_sums(g, pointer(node.inputs[0]), Int32(n * d[0]), Int32(d[1]), d.dropFirst(2).reduce(1, *), nil, &sums)
      for c in 0..<d[1] { dw[c] += Float(sums[c] * Double(stats.inverseStdUnbiased[c])) }
    case .conv2dTranspose(let a):
      // out = convᵀ(c, W): dW = Σ c · im2col(g)ᵀ, the weight gradient with g as the input.
      let classes = node.type.dims[0]
      let c = node.inputs[0]
      var geometry = Self.geometry(a.forward, input: a.inputDims, output: Array(graph[c].type.dims.dropFirst()), batch: n * classes)
      isn_conv2d_weight_grad(&geometry, g, count / classes, 1, pointer(c), perSample(c) / classes, dw)
    case .linearTranspose(let a):
      // out = c·W: dW += cᵀ·g, [out, rows] × [rows, in].
      let rows = n * node.type.dims[0]
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(a.outFeatures), Int32(a.inFeatures), Int32(rows), 1, pointer(node.inputs[0]), Int32(a.outFeatures), g, Int32(a.inFeatures), 1, dw, Int32(a.inFeatures))
    case .zbPreactivation(let a), .zbRelevance(let a):
      zBetaParameterGradient(id, a, name: name, g: g, into: dw)
    case .input, .relu, .elementwise, .pool, .flatten, .dropout, .concat, .add, .mul, .upsample,
      .lrpSeed, .lrpEpsilonDivide, .lrpMultiply, .poolTranspose, .sliceChannels, .unflatten:
      preconditionFailure("\(node.op.name) reads no parameter")
    }
  }

  /// A training batch norm's Σ g and Σ g·x̂ per channel, computed once per backward: its
  /// input adjoint and both parameter gradients read them (the node's value adjoint is
  /// complete before any of its steps runs).
  func batchNormSums(_ id: NodeID, g: UnsafeMutablePointer<Float>) -> (dy: [Double], dyx: [Double]) {
    if let sums = normSums[id.index] { return sums }
    let node = graph[id]
    let dims = node.type.dims
    let stats = normStatistics[id.index]!
    var dy = [Double](repeating: 0, count: dims[0]), dyx = dy
    isn_batchnorm_sums(pointer(node.inputs[0]), g, Int32(samples), Int32(dims[0]), dims.dropFirst().reduce(1, *), stats.mean, stats.inverseStd, &dy, &dyx)
    normSums[id.index] = (dy, dyx)
    return (dy, dyx)
  }

  /// out[c] += Σ over rows and positions of g (a bias gradient).
  private func channelSums(_ g: UnsafeMutablePointer<Float>, rows: Int, channels: Int, spatial: Int, into out: UnsafeMutablePointer<Float>) {
    var sums = [Double](repeating: 0, count: channels)
    isn_channel_sums(g, nil, Int32(rows), Int32(channels), spatial, &sums, nil)
    for c in 0..<channels { out[c] += Float(sums[c]) }
  }
}
