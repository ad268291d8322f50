/// The kernels of `mul` (a product with its second operand broadcast) and `upsample`, in
/// one place: the inference and training sessions call these forward and backward.

import CKernels
import GraphIR

/// How `mul`'s second operand is read against its first: the first's shape as four
/// dimensions and the second's step along each (0 where it broadcasts).
struct BroadcastLayout {
  var dims: [Int64]
  var steps: [Int64]

  /// `large` and `small` per sample, `small` broadcasting to `large` (aligned at the last
  /// dimension; `Op.broadcasts`), `large` of rank 4 at most (as shape inference admits).
  init(large: [Int], small: [Int]) {
    precondition(large.count <= 4 && small.count <= large.count, "mul: unsupported ranks \(large) and \(small)")
    let padded = Array(repeating: 1, count: 4 - large.count) + large
    let aligned = Array(repeating: 1, count: 4 - small.count) + small
    var steps = [Int64](repeating: 0, count: 4)
    var step: Int64 = 1
    for axis in (0..<4).reversed() {
      steps[axis] = aligned[axis] == padded[axis] ? step : 0
      step *= Int64(aligned[axis])
    }
    self.dims = padded.map(Int64.init)
    self.steps = steps
  }

  /// y (+)= a ⊙ b for `rows` samples.
  func multiply(
    _ a: UnsafePointer<Float>, stride aStride: Int, by b: UnsafePointer<Float>, stride bStride: Int,
    rows: Int, accumulate: Bool = false, into y: UnsafeMutablePointer<Float>, stride yStride: Int
  ) {
    isn_broadcast_multiply(a, aStride, b, bStride, Int32(rows), dims, steps, accumulate ? 1 : 0, y, yStride)
  }

  /// db += Σ g ⊙ a over what broadcasts, for `rows` samples (dense g, a and db).
  func reduce(_ g: UnsafePointer<Float>, times a: UnsafePointer<Float>, rows: Int, smallCount: Int, into db: UnsafeMutablePointer<Float>) {
    let count = Int(dims.reduce(1, *))
    isn_broadcast_multiply_reduce(g, count, a, count, Int32(rows), dims, steps, db, smallCount)
  }
}

extension UpsampleAttributes {
  /// y = upsample(x) over `rows` images [C, H, W] (`inputDims`).
  func forward(_ x: UnsafePointer<Float>, stride xStride: Int, rows: Int, inputDims: [Int], into y: UnsafeMutablePointer<Float>, stride yStride: Int) {
    isn_upsample(x, xStride, Int32(rows), Int32(inputDims[0]), Int32(inputDims[1]), Int32(inputDims[2]), Int32(scale.h), Int32(scale.w), mode == .bilinear ? 1 : 0, y, yStride)
  }

  /// dx += upsampleᵀ(g) over `rows` images (dense).
  func addAdjoint(of g: UnsafePointer<Float>, rows: Int, inputDims: [Int], into dx: UnsafeMutablePointer<Float>) {
    isn_upsample_backward(g, Int32(rows), Int32(inputDims[0]), Int32(inputDims[1]), Int32(inputDims[2]), Int32(scale.h), Int32(scale.w), mode == .bilinear ? 1 : 0, dx)
  }
}
