/// Kernel calls for the LRP block's ops. Relevance values are [K, …] per sample; the
/// kernels see them as batch × K rows (each class's slice contiguous), so a transposed
/// convolution explains all K classes in one call and forward values are broadcast over
/// the classes instead of being copied K times.

import CKernels
import GraphIR

extension InferenceSession {
  func makeLRPStep(_ id: NodeID) -> ((Int) -> Void)? {
    let node = graph[id]
    let y = pointer(id)
    let yStride = plan.location(of: id).sampleStride
    let operands = node.inputs.map { (pointer: pointer($0), stride: plan.location(of: $0).sampleStride, dims: graph[$0].type.dims) }
    let c = constants.constants[id.index]
    let workspace = self.workspace
    let scratch = self.scratch
    let classes = node.type.dims.first ?? 1
    /// Floats per class of the output.
    let perClass = node.type.dims.dropFirst().reduce(1, *)
    switch node.op {
    case .lrpSeed:
      let logits = operands[0]
      return { samples in isn_lrp_seed(logits.pointer, logits.stride, Int32(samples), Int32(classes), y, yStride) }
    case .lrpEpsilonDivide(let a):
      let (r, z) = (operands[0], operands[1])
      return { samples in
        isn_lrp_epsilon_divide(r.pointer, r.stride, z.pointer, z.stride, Int32(samples), Int32(classes), perClass, Float(a.epsilon), y, yStride)
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
      return transposedConvolution(a.forward, inputDims: a.inputDims, weight: c!.weight, relevance: operands[0], classes: classes, y: y)
    case .linearTranspose(let a):
      let r = operands[0]
      let weight = c!.weight
      return { samples in
        isn_linear(r.pointer, a.outFeatures, Int32(samples * classes), Int32(a.outFeatures), weight, nil, Int32(a.inFeatures), 0, y, a.inFeatures)
      }
    case .avgPool2dTranspose, .adaptiveAvgPool2dTranspose:
      let (forward, inputDims) = Self.poolingAsConvolution(node.op)!
      let window = forward.kernel.h * forward.kernel.w
      let weight = [Float](repeating: 1 / Float(window), count: inputDims[0] * window)
      return transposedConvolution(forward, inputDims: inputDims, weight: weight, relevance: operands[0], classes: classes, y: y)
    case .maxUnpool2d(let a):
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
        isn_conv2d(&geometry, x.pointer, x.stride, weight, bias, 0, y, yStride, workspace)
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
        isn_conv2d_transpose(&geometry, s.pointer, sPerClass, weight, y, perClass, workspace)
        isn_conv2d_transpose(&geometry, s.pointer, sPerClass, boundsWeight, scratch, perClass, workspace)
        isn_lrp_zb_combine(x.pointer, x.stride, y, scratch, Int32(samples), Int32(classes), perClass, low, high, y)
      }
    default:
      return nil
    }
  }

  /// Average pooling as the per-channel convolution it is (weights 1/(kh·kw)); adaptive
  /// pooling only with evenly dividing windows (kernel = stride = input / output), which
  /// `InferenceSession.init` checks.
  static func poolingAsConvolution(_ op: Op) -> (Conv2DAttributes, inputDims: [Int])? {
    switch op {
    case .avgPool2dTranspose(let a):
      let conv = Conv2DAttributes(
        outChannels: a.inputDims[0], kernel: a.forward.kernel, stride: a.forward.stride,
        padding: a.forward.padding, groups: a.inputDims[0], hasBias: false)
      return (conv, a.inputDims)
    case .adaptiveAvgPool2dTranspose(let a):
      let kernel = Pair(a.inputDims[1] / a.forward.outputSize.h, a.inputDims[2] / a.forward.outputSize.w)
      let conv = Conv2DAttributes(outChannels: a.inputDims[0], kernel: kernel, stride: kernel, groups: a.inputDims[0], hasBias: false)
      return (conv, a.inputDims)
    default:
      return nil
    }
  }

  /// convᵀ over samples × classes rows: relevance [K, out, Ho, Wo] → [K, in, H, W].
  private func transposedConvolution(
    _ forward: Conv2DAttributes, inputDims: [Int], weight: [Float],
    relevance r: (pointer: UnsafeMutablePointer<Float>, stride: Int, dims: [Int]), classes: Int,
    y: UnsafeMutablePointer<Float>
  ) -> (Int) -> Void {
    var geometry = Self.geometry(forward, input: inputDims, output: Array(r.dims.dropFirst()), batch: plan.batchSize * classes)
    let rPerClass = r.dims.dropFirst().reduce(1, *)
    let yPerClass = inputDims.reduce(1, *)
    let workspace = self.workspace
    return { samples in
      geometry.batch = Int32(samples * classes)
      isn_conv2d_transpose(&geometry, r.pointer, rPerClass, weight, y, yPerClass, workspace)
    }
  }
}
