/// The kernels of the pooling family (GraphIR's Ops/Pooling.swift), in one place: the
/// inference and training sessions call these for every member, forward, adjoint and the
/// LRP block's transpose alike.

import CKernels
import GraphIR

extension Pooling {
  /// y = pool(x) over `rows` images [C, H, W] (`inputDims`) to [C, Ho, Wo] (`outputDims`).
  /// A winner-take-all member records each window's arg-max in `argmax` when given.
  func forward(
    _ x: UnsafePointer<Float>?, stride xStride: Int, rows: Int, inputDims: [Int], outputDims: [Int],
    _ y: UnsafeMutablePointer<Float>, stride yStride: Int, argmax: UnsafeMutablePointer<Int32>?
  ) {
    let (c, h, w) = (Int32(inputDims[0]), Int32(inputDims[1]), Int32(inputDims[2]))
    let (oh, ow) = (Int32(outputDims[1]), Int32(outputDims[2]))
    switch self {
    case .max(let a):
      isn_maxpool2d(x, xStride, Int32(rows), c, h, w, Int32(a.kernel.h), Int32(a.kernel.w), Int32(a.stride.h), Int32(a.stride.w), Int32(a.padding.h), Int32(a.padding.w), oh, ow, y, yStride, argmax)
    case .average(let a):
      isn_avgpool2d(x, xStride, Int32(rows), c, h, w, Int32(a.kernel.h), Int32(a.kernel.w), Int32(a.stride.h), Int32(a.stride.w), Int32(a.padding.h), Int32(a.padding.w), oh, ow, y, yStride)
    case .adaptiveAverage(let a):
      isn_adaptive_avgpool2d(x, xStride, Int32(rows), c, h, w, Int32(a.outputSize.h), Int32(a.outputSize.w), y, yStride)
    }
  }

  /// dx += poolᵀ(g): the adjoint of `forward`, over `samples` × `classes` rows of g
  /// [C, Ho, Wo] into dx [C, H, W] (dense). With classes = 1 it is the backward pass;
  /// with K it is the LRP block's transpose (winner-take-all routing for max pooling).
  func addAdjoint(
    of g: UnsafePointer<Float>?, argmax: UnsafePointer<Int32>?, samples: Int, classes: Int,
    inputDims: [Int], outputDims: [Int], into dx: UnsafeMutablePointer<Float>
  ) {
    let (c, h, w) = (Int32(inputDims[0]), Int32(inputDims[1]), Int32(inputDims[2]))
    let (oh, ow) = (Int32(outputDims[1]), Int32(outputDims[2]))
    let rows = Int32(samples * classes)
    switch self {
    case .max:
      isn_max_pool_scatter(g, argmax, Int32(samples), Int32(classes), c, inputDims[1] * inputDims[2], outputDims[1] * outputDims[2], dx)
    case .average(let a):
      isn_avgpool2d_backward(g, rows, c, h, w, Int32(a.kernel.h), Int32(a.kernel.w), Int32(a.stride.h), Int32(a.stride.w), Int32(a.padding.h), Int32(a.padding.w), oh, ow, dx)
    case .adaptiveAverage(let a):
      isn_adaptive_avgpool2d_backward(g, rows, c, h, w, Int32(a.outputSize.h), Int32(a.outputSize.w), dx)
    }
  }

  /// dc += pool(g): the adjoint of the LRP transpose (`addAdjoint` with K classes), g
  /// [K, C, H, W] and dc [K, C, Ho, Wo] per sample. `scratch` holds samples·K·C·Ho·Wo.
  func addTransposeAdjoint(
    of g: UnsafePointer<Float>?, argmax: UnsafePointer<Int32>?, samples: Int, classes: Int,
    inputDims: [Int], outputDims: [Int], into dc: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>
  ) {
    switch lrpRule {
    case .winnerTakesAll:
      isn_max_pool_gather(g, argmax, Int32(samples), Int32(classes), Int32(inputDims[0]), inputDims[1] * inputDims[2], outputDims[1] * outputDims[2], dc)
    case .epsilonLayer:
      let rows = samples * classes
      let perRow = outputDims.reduce(1, *)
      forward(g, stride: inputDims.reduce(1, *), rows: rows, inputDims: inputDims, outputDims: outputDims, scratch, stride: perRow, argmax: nil)
      isn_accumulate(scratch, rows * perRow, dc)
    }
  }
}
