/// One adjoint step (AdjointProgram): `target += ∂node · adjoint(node, source)`, with the
/// derivative of the node's op by the operand or parameter the step names. The `view`
/// stream differs only where the LRP block detaches: batch norm (statistics and β
/// constant, σ with the unbiased variance) and biases (ReverseMode.swift).

import COpenBLAS
import CKernels
import GraphIR

extension TrainingSession {
  func runAdjoint(_ step: AdjointStep) {
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
        preconditionFailure("\(node.op.mnemonic) has no differentiable operand")
      case .conv2d(let a):
        let xDims = graph[input].type.dims
        var geometry = Self.geometry(a, input: xDims, output: node.type.dims, batch: n)
        isn_conv2d_transpose(&geometry, g, count, parameter("\(node.name!).weight"), scratch.pointer, inputCount, workspace.pointer)
        isn_accumulate(scratch.pointer, n * inputCount, dx)
      case .batchNorm:
        let stats = normStatistics[id.index]!
        let dims = node.type.dims
        let gamma = parameter("\(node.name!).weight")
        if step.source == .value {
          isn_batchnorm_backward(x, g, Int32(n), Int32(dims[0]), dims.dropFirst().reduce(1, *), stats.mean, stats.inverseStd, gamma, dx, nil, nil)
        } else {
          isn_channel_scale_add(g, Int32(n), Int32(dims[0]), dims.dropFirst().reduce(1, *), lrpNormScale(node.name!), dx)
        }
      case .relu:
        isn_relu_backward(pointer(id), g, n * count, dx)
      case .elementwise(let function):
        let v = function.description.derivativeFrom == .input ? x : pointer(id)
        isn_elementwise_backward(function.kernel, v, g, n * count, dx)
      case .maxPool2d:
        let d = node.type.dims
        isn_max_pool_scatter(g, argmax[id.index], Int32(n), 1, Int32(d[0]), inputCount / d[0], d[1] * d[2], dx)
      case .avgPool2d(let p):
        let (xd, d) = (graph[input].type.dims, node.type.dims)
        isn_avgpool2d_backward(g, Int32(n), Int32(xd[0]), Int32(xd[1]), Int32(xd[2]), Int32(p.kernel.h), Int32(p.kernel.w), Int32(p.stride.h), Int32(p.stride.w), Int32(p.padding.h), Int32(p.padding.w), Int32(d[1]), Int32(d[2]), dx)
      case .adaptiveAvgPool2d(let a):
        let xd = graph[input].type.dims
        isn_adaptive_avgpool2d_backward(g, Int32(n), Int32(xd[0]), Int32(xd[1]), Int32(xd[2]), Int32(a.outputSize.h), Int32(a.outputSize.w), dx)
      case .linear(let a):
        // dx += g·W: [n, out] × [out, in]
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(inputCount), Int32(a.outFeatures), 1, g, Int32(a.outFeatures), parameter("\(node.name!).weight"), Int32(inputCount), 1, dx, Int32(inputCount))
      case .flatten, .unflatten:
        isn_accumulate(g, n * count, dx)
      case .dropout(let a):
        let mask = dropoutMasks[id.index]!
        let keep = Float(1 / (1 - a.probability))
        for i in 0..<(n * count) where mask[i] != 0 { dx[i] += g[i] * keep }
      case .concat:
        let offset = node.inputs.prefix(operand).reduce(0) { $0 + perSample($1) }
        isn_add(dx, inputCount, g + offset, count, Int32(n), inputCount, 0, dx, inputCount)
      case .add:
        isn_accumulate(g, n * count, dx)
      case .lrpSeed:
        let classes = node.type.dims[0]
        for s in 0..<n { for k in 0..<classes { dx[s * classes + k] += g[s * count + k * classes + k] } }
      case .lrpEpsilonDivide(let e):
        let classes = node.type.dims[0]
        let perClass = count / classes
        isn_lrp_epsilon_divide_backward(
          g, pointer(id), zValue(node.inputs[1]), Int32(n), Int32(classes), perClass, Float(e.epsilon), sampleEpsilonStorage.kernelArgument,
          operand == 0 ? dx : nil, operand == 1 ? dx : nil)
      case .lrpMultiply:
        let classes = node.type.dims[0]
        let perClass = count / classes
        isn_lrp_multiply_backward(g, pointer(node.inputs[0]), pointer(node.inputs[1]), Int32(n), Int32(classes), perClass, operand == 0 ? dx : nil, operand == 1 ? dx : nil)
      case .batchNormTranspose:
        let d = node.type.dims
        isn_channel_scale_add(g, Int32(n * d[0]), Int32(d[1]), d.dropFirst(2).reduce(1, *), lrpNormScale(node.name!), dx)
      case .conv2dTranspose(let a):
        // out = convᵀ(c, W), so dc = conv(g, W).
        let classes = node.type.dims[0]
        let outDims = Array(graph[input].type.dims.dropFirst())
        var geometry = Self.geometry(a.forward, input: a.inputDims, output: outDims, batch: n * classes)
        isn_conv2d(&geometry, g, count / classes, parameter("\(node.name!).weight"), nil, 0, scratch.pointer, inputCount / classes, workspace.pointer)
        isn_accumulate(scratch.pointer, n * inputCount, dx)
      case .linearTranspose(let a):
        // out = c·W ([rows, out] × [out, in]), so dc += g·Wᵀ.
        let rows = n * node.type.dims[0]
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(a.outFeatures), Int32(a.inFeatures), 1, g, Int32(a.inFeatures), parameter("\(node.name!).weight"), Int32(a.inFeatures), 1, dx, Int32(a.outFeatures))
      case .avgPool2dTranspose(let a):
        let d = graph[input].type.dims
        let rows = n * d[0]
        isn_avgpool2d(g, a.inputDims.reduce(1, *), Int32(rows), Int32(a.inputDims[0]), Int32(a.inputDims[1]), Int32(a.inputDims[2]), Int32(a.forward.kernel.h), Int32(a.forward.kernel.w), Int32(a.forward.stride.h), Int32(a.forward.stride.w), Int32(a.forward.padding.h), Int32(a.forward.padding.w), Int32(d[2]), Int32(d[3]), scratch.pointer, d.dropFirst().reduce(1, *))
        isn_accumulate(scratch.pointer, n * inputCount, dx)
      case .adaptiveAvgPool2dTranspose(let a):
        let d = graph[input].type.dims
        let rows = n * d[0]
        isn_adaptive_avgpool2d(g, a.inputDims.reduce(1, *), Int32(rows), Int32(a.inputDims[0]), Int32(a.inputDims[1]), Int32(a.inputDims[2]), Int32(a.forward.outputSize.h), Int32(a.forward.outputSize.w), scratch.pointer, d.dropFirst().reduce(1, *))
        isn_accumulate(scratch.pointer, n * inputCount, dx)
      case .maxUnpool2d(let a):
        let d = graph[input].type.dims
        isn_max_pool_gather(g, argmax[node.inputs[1].index], Int32(n), Int32(d[0]), Int32(d[1]), a.inputDims[1] * a.inputDims[2], d[2] * d[3], dx)
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
    }
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
        isn_batchnorm_backward(x, g, Int32(n), Int32(dims[0]), spatial, stats.mean, stats.inverseStd, parameter("\(node.name!).weight"), nil, role == .weight ? dw : nil, role == .bias ? dw : nil)
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
    case .input, .relu, .elementwise, .maxPool2d, .avgPool2d, .adaptiveAvgPool2d, .flatten,
      .dropout, .concat, .add, .lrpSeed, .lrpEpsilonDivide, .lrpMultiply, .avgPool2dTranspose,
      .adaptiveAvgPool2dTranspose, .maxUnpool2d, .sliceChannels, .unflatten:
      preconditionFailure("\(node.op.mnemonic) reads no parameter")
    }
  }

  /// out[c] += Σ over rows and positions of g (a bias gradient).
  private func channelSums(_ g: UnsafeMutablePointer<Float>, rows: Int, channels: Int, spatial: Int, into out: UnsafeMutablePointer<Float>) {
    var sums = [Double](repeating: 0, count: channels)
    isn_channel_sums(g, nil, Int32(rows), Int32(channels), spatial, &sums, nil)
    for c in 0..<channels { out[c] += Float(sums[c]) }
  }
}
