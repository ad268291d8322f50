/// Gradients of the Zᴮ first layer (paper section 4.4.3) in training. With W', b' the
/// convolution folded with its batch norm by the batch's statistics (W' = W·γ/σ,
/// b' = (b − μ)·γ/σ + β, only γ and W trainable) and W'⁺ = max(W', 0), W'⁻ = min(W', 0):
///
///   z   = conv(x, W') + b' − conv(L, W'⁺) − l·b'⁺ − conv(H, W'⁻) − h·b'⁻
///   R_x = x ⊙ convᵀ(s, W') − l·convᵀ(s, W'⁺) − h·convᵀ(s, W'⁻)
///
/// Each node's gradient by W' and b' is computed once per step, then mapped to W and γ, and,
/// with statistics differentiated, to the norm's input through μ and σ (TrainingBackward).

import CKernels
import GraphIR

extension TrainingSession {
  /// ds += conv((x − l) ⊙ g, W'⁺) + conv((x − h) ⊙ g, W'⁻), x broadcast over the classes.
  func zBetaRelevanceOperandGradient(_ id: NodeID, _ a: ZBetaAttributes, g: UnsafeMutablePointer<Float>, ds: UnsafeMutablePointer<Float>) {
    let node = graph[id]
    let classes = node.type.dims[0]
    let rows = samples * classes
    let perClass = perSample(id) / classes
    let x = pointer(node.inputs[0])
    let sDims = Array(graph[node.inputs[1]].type.dims.dropFirst())
    let sPerClass = sDims.reduce(1, *)
    let folded = foldedFirstLayer(a, name: node.name!)
    let scaledLow = scratch.pointer
    let scaledHigh = scratch.pointer + rows * perClass
    let convolved = scratch.pointer + 2 * rows * perClass
    for r in 0..<rows {
      let xs = x + (r / classes) * perClass
      for i in 0..<perClass {
        let gi = g[r * perClass + i]
        scaledLow[r * perClass + i] = (xs[i] - Float(a.low)) * gi
        scaledHigh[r * perClass + i] = (xs[i] - Float(a.high)) * gi
      }
    }
    var geometry = Self.geometry(a.conv, input: a.inputDims, output: sDims, batch: rows)
    for (input, weights) in [(scaledLow, folded.weight.map { max(0, $0) }), (scaledHigh, folded.weight.map { min(0, $0) })] {
      isn_conv2d(&geometry, input, perClass, weights, nil, 0, convolved, sPerClass, workspace.pointer, Int32(threads))
      isn_accumulate(convolved, rows * sPerClass, ds)
    }
  }

  /// Adds the node's share of the gradient of `name` (the convolution's weight, or its
  /// folded batch norm's γ) into `dw`.
  func zBetaParameterGradient(_ id: NodeID, _ a: ZBetaAttributes, name: String, g: UnsafeMutablePointer<Float>, into dw: UnsafeMutablePointer<Float>) {
    let node = graph[id]
    let folded = foldedFirstLayer(a, name: node.name!)
    let (dWeight, dBias) = zBetaFoldedGradients(id, a, g: g)
    let out = a.conv.outChannels
    let perOutput = dWeight.count / out
    if name == "\(node.name!).weight" {
      for o in 0..<out {
        for i in o * perOutput..<(o + 1) * perOutput { dw[i] += dWeight[i] * folded.scale[o] }
      }
      return
    }
    guard let norm = a.conv.epilogue.foldedNorm, name == "\(norm.name).weight" else {
      preconditionFailure("Zᴮ layer \(node.name!) has no trainable parameter \(name)")
    }
    let (_, stats) = statistics(named: norm.name)
    let weight = parameter("\(node.name!).weight")
    let bias = a.conv.hasBias ? parameter("\(node.name!).bias") : nil
    for o in 0..<out {
      var sum = 0.0
      for i in o * perOutput..<(o + 1) * perOutput { sum += Double(dWeight[i]) * Double(weight[i]) }
      sum += Double(dBias[o]) * (Double(bias?[o] ?? 0) - Double(stats.viewMean[o]))
      dw[o] += Float(sum * Double(stats.inverseStdUnbiased[o]))
    }
  }

  /// The node's gradient by W' and b' for its adjoint `g`, computed once per step.
  func zBetaFoldedGradients(_ id: NodeID, _ a: ZBetaAttributes, g: UnsafeMutablePointer<Float>) -> (weight: [Float], bias: [Float]) {
    if let known = foldedGradients[id.index] { return known }
    let gradients = zBetaFoldedGradient(id, a, folded: foldedFirstLayer(a, name: graph[id].name!), g: g)
    foldedGradients[id.index] = gradients
    return gradients
  }

  private func zBetaFoldedGradient(_ id: NodeID, _ a: ZBetaAttributes, folded: (weight: [Float], bias: [Float], scale: [Float]), g: UnsafeMutablePointer<Float>) -> (weight: [Float], bias: [Float]) {
    let node = graph[id]
    let (low, high) = (Float(a.low), Float(a.high))
    let inCount = a.inputDims.reduce(1, *)
    var dWeight = [Float](repeating: 0, count: folded.weight.count)
    var bounds = [Float](repeating: 0, count: folded.weight.count)
    var dBias = [Float](repeating: 0, count: a.conv.outChannels)
    let x = pointer(node.inputs[0])
    switch node.op {
    case .zbPreactivation:
      // dW' = wgrad(x, g) − l·[W' > 0]·wgrad(1, g) − h·[W' < 0]·wgrad(1, g); 1 the unpadded ones image.
      var geometry = Self.geometry(a.conv, input: a.inputDims, output: node.type.dims, batch: samples)
      let count = perSample(id)
      isn_conv2d_weight_grad(&geometry, x, inCount, 1, g, count, &dWeight)
      let ones = [Float](repeating: 1, count: inCount)
      isn_conv2d_weight_grad(&geometry, ones, inCount, Int32(samples), g, count, &bounds)
      var sums = [Double](repeating: 0, count: a.conv.outChannels)
      isn_channel_sums(g, nil, Int32(samples), Int32(a.conv.outChannels), count / a.conv.outChannels, &sums, nil)
      for o in 0..<a.conv.outChannels {
        let b = folded.bias[o]
        dBias[o] = Float(sums[o] * Double(1 - (b > 0 ? low : 0) - (b < 0 ? high : 0)))
      }
    case .zbRelevance:
      // dW' = wgrad(x ⊙ g, s) − l·[W' > 0]·wgrad(g, s) − h·[W' < 0]·wgrad(g, s).
      let classes = node.type.dims[0]
      let rows = samples * classes
      let perClass = perSample(id) / classes
      let s = node.inputs[1]
      let sPerClass = perSample(s) / classes
      let weighted = scratch.pointer
      for r in 0..<rows {
        let xs = x + (r / classes) * perClass
        for i in 0..<perClass { weighted[r * perClass + i] = xs[i] * g[r * perClass + i] }
      }
      var geometry = Self.geometry(a.conv, input: a.inputDims, output: Array(graph[s].type.dims.dropFirst()), batch: rows)
      isn_conv2d_weight_grad(&geometry, weighted, perClass, 1, pointer(s), sPerClass, &dWeight)
      isn_conv2d_weight_grad(&geometry, g, perClass, 1, pointer(s), sPerClass, &bounds)
    default:
      preconditionFailure("not a Zᴮ op")
    }
    for i in dWeight.indices {
      let w = folded.weight[i]
      dWeight[i] -= (w > 0 ? low : 0) * bounds[i] + (w < 0 ? high : 0) * bounds[i]
    }
    return (dWeight, dBias)
  }
}
