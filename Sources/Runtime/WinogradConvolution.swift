/// When a convolution runs as Winograd F(4×4, 3×3) (winograd.c), for the inference and
/// training sessions alike: a 3×3 stride-1 forward convolution directly, and the transposed
/// convolution of one (the LRP block's relevance pass, a training step's input adjoint) as
/// the forward convolution of the flipped, channel-swapped kernel with padding 2 − p.

import CKernels
import GraphIR

enum WinogradConvolution {
  /// The geometry of forward convolution `a` from `input` [C, H, W] to `output` when
  /// Winograd computes it, else nil.
  static func forward(_ a: Conv2DAttributes, input: [Int], output: [Int], batch: Int) -> isn_conv_geometry? {
    var g = ConvolutionSizing.geometry(a, input: input, output: output, batch: batch)
    return isn_winograd_supported(&g) != 0 ? g : nil
  }

  /// The geometry of the convolution equivalent to the transpose of forward convolution
  /// `forward` (input [C, H, W] `inputDims`, output `outputDims`) when Winograd computes it,
  /// else nil.
  static func transpose(_ forward: Conv2DAttributes, inputDims: [Int], outputDims: [Int], batch: Int) -> isn_conv_geometry? {
    guard forward.kernel == Pair(square: 3), forward.stride == Pair(square: 1), forward.dilation == Pair(square: 1),
      forward.groups == 1, forward.padding.h <= 2, forward.padding.w <= 2
    else { return nil }
    let equivalent = Conv2DAttributes(
      outChannels: inputDims[0], kernel: forward.kernel, padding: Pair(2 - forward.padding.h, 2 - forward.padding.w), hasBias: false)
    var g = ConvolutionSizing.geometry(equivalent, input: outputDims, output: inputDims, batch: batch)
    return isn_winograd_supported(&g) != 0 ? g : nil
  }

  /// Winograd weights of the transpose's equivalent convolution `g` (from `transpose`):
  /// W'[ci][co][i][j] = W[co][ci][2−i][2−j], written into `u` (isn_winograd_weight_size
  /// floats) through `flipped` (as many floats as the weight).
  static func transposedWeights(
    _ g: inout isn_conv_geometry, weight: UnsafePointer<Float>, flipped: UnsafeMutablePointer<Float>, into u: UnsafeMutablePointer<Float>
  ) {
    let (outs, ins) = (Int(g.in_channels), Int(g.out_channels))  // the forward's out and in
    for co in 0..<outs {
      for ci in 0..<ins {
        for t in 0..<9 { flipped[(ci * outs + co) * 9 + t] = weight[(co * ins + ci) * 9 + 8 - t] }
      }
    }
    isn_winograd_weights(&g, flipped, u)
  }

  /// `transposedWeights` into a new array.
  static func transposedWeights(_ g: inout isn_conv_geometry, weight: [Float]) -> [Float] {
    var u = [Float](repeating: 0, count: isn_winograd_weight_size(&g))
    var flipped = [Float](repeating: 0, count: weight.count)
    weight.withUnsafeBufferPointer { w in
      flipped.withUnsafeMutableBufferPointer { f in
        u.withUnsafeMutableBufferPointer { transposedWeights(&g, weight: w.baseAddress!, flipped: f.baseAddress!, into: $0.baseAddress!) }
      }
    }
    return u
  }
}
