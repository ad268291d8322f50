// `mul`'s broadcast product and its reduction, and nearest and bilinear upsampling with
// their adjoints, against naive loops on strided batches with odd sizes.
import CKernels
import Testing
import TestSupport

struct BroadcastCase: Sendable, CustomTestStringConvertible {
  var dims: [Int]  // the large operand, four dimensions
  var small: [Int]  // the gate, four dimensions, each 1 or the large one's
  var batch = 3
  var count: Int { dims.reduce(1, *) }
  var smallCount: Int { small.reduce(1, *) }
  var steps: [Int64] {
    var steps = [Int64](repeating: 0, count: 4), step: Int64 = 1
    for axis in (0..<4).reversed() {
      steps[axis] = small[axis] == dims[axis] ? step : 0
      step *= Int64(small[axis])
    }
    return steps
  }
  var testDescription: String { "\(dims) ⊙ \(small)" }

  /// The gate's index for a flat index of the large operand.
  func smallIndex(_ flat: Int) -> Int {
    var rest = flat, index = 0
    for axis in (0..<4).reversed() {
      let i = rest % dims[axis]
      rest /= dims[axis]
      index += i * Int(steps[axis])
    }
    return index
  }
}

let broadcastCases: [BroadcastCase] = [
  BroadcastCase(dims: [1, 5, 7, 9], small: [1, 1, 7, 9]),  // a one-channel gate
  BroadcastCase(dims: [1, 5, 7, 9], small: [1, 5, 7, 9]),  // same shape
  BroadcastCase(dims: [1, 5, 7, 9], small: [1, 5, 1, 1]),  // per channel
  BroadcastCase(dims: [3, 5, 7, 9], small: [1, 1, 7, 9]),  // relevance [K, C, H, W] ⊙ gate
  BroadcastCase(dims: [1, 4, 6, 1], small: [1, 1, 6, 1]),
  BroadcastCase(dims: [2, 3, 40, 64], small: [1, 1, 40, 64], batch: 4),  // parallel
]

struct UpsampleCase: Sendable, CustomTestStringConvertible {
  var batch = 3, channels = 4, h = 5, w = 7, sh = 2, sw = 3
  var bilinear = false
  var outH: Int { h * sh }
  var outW: Int { w * sw }
  var inCount: Int { channels * h * w }
  var outCount: Int { channels * outH * outW }
  var testDescription: String { "\(bilinear ? "bilinear" : "nearest") \(h)x\(w) ×\(sh)x\(sw)" }
}

let upsampleCases: [UpsampleCase] = [
  UpsampleCase(), UpsampleCase(bilinear: true),
  UpsampleCase(h: 1, w: 1, sh: 2, sw: 2, bilinear: true),
  UpsampleCase(h: 4, w: 4, sh: 4, sw: 4, bilinear: true),
  UpsampleCase(batch: 2, channels: 16, h: 32, w: 32, sh: 2, sw: 2, bilinear: true),
]

/// PyTorch's bilinear source (align_corners=False) in double: lower, upper, upper weight.
func referenceBilinearSource(_ o: Int, _ scale: Int, _ size: Int) -> (Int, Int, Double) {
  let src = max((Double(o) + 0.5) / Double(scale) - 0.5, 0)
  let lo = min(Int(src), size - 1)
  return (lo, min(lo + 1, size - 1), src - Double(lo))
}

/// The upsampling as a sparse matrix: for each output of a plane, its (input, weight) terms.
func upsampleTerms(_ u: UpsampleCase) -> [[(Int, Double)]] {
  var terms: [[(Int, Double)]] = []
  for oh in 0..<u.outH {
    for ow in 0..<u.outW {
      if !u.bilinear {
        terms.append([((oh / u.sh) * u.w + ow / u.sw, 1)])
        continue
      }
      let (h0, h1, th) = referenceBilinearSource(oh, u.sh, u.h)
      let (w0, w1, tw) = referenceBilinearSource(ow, u.sw, u.w)
      terms.append([
        (h0 * u.w + w0, (1 - th) * (1 - tw)), (h0 * u.w + w1, (1 - th) * tw),
        (h1 * u.w + w0, th * (1 - tw)), (h1 * u.w + w1, th * tw),
      ])
    }
  }
  return terms
}

func runUpsample(_ u: UpsampleCase, _ x: [Float], xStride: Int) -> [Float] {
  var y = [Float](repeating: sentinel, count: u.batch * (u.outCount + 3))
  isn_upsample(x, xStride, Int32(u.batch), Int32(u.channels), Int32(u.h), Int32(u.w), Int32(u.sh), Int32(u.sw), u.bilinear ? 1 : 0, &y, u.outCount + 3)
  return y
}

func runUpsampleBackward(_ u: UpsampleCase, _ g: [Float]) -> [Float] {
  var dx = [Float](repeating: 0.25, count: u.batch * u.inCount)
  isn_upsample_backward(g, Int32(u.batch), Int32(u.channels), Int32(u.h), Int32(u.w), Int32(u.sh), Int32(u.sw), u.bilinear ? 1 : 0, &dx)
  return dx
}

@Suite struct ProductKernelTests {
  /// Each output is one float32 product: bit-equal to Swift's; gaps untouched.
  @Test(arguments: broadcastCases)
  func broadcastProductIsExact(_ c: BroadcastCase) {
    let aStride = c.count + 7, bStride = c.smallCount + 2, yStride = c.count + 5
    let a = stridedRandom(batch: c.batch, count: c.count, stride: aStride, seed: 61)
    let b = stridedRandom(batch: c.batch, count: c.smallCount, stride: bStride, seed: 62)
    var y = [Float](repeating: sentinel, count: c.batch * yStride)
    isn_broadcast_multiply(a, aStride, b, bStride, Int32(c.batch), c.dims.map(Int64.init), c.steps, 0, &y, yStride)
    var expected: [Double] = []
    for n in 0..<c.batch {
      for i in 0..<c.count { expected.append(Double(a[n * aStride + i] * b[n * bStride + c.smallIndex(i)])) }
    }
    expectClose(y, batch: c.batch, count: c.count, stride: yStride, expected, bound: 0, "a ⊙ b")
    expectGapsUntouched(y, batch: c.batch, count: c.count, stride: yStride, "a ⊙ b")
    // Accumulating: y + a·b, one rounding (or two without a fused multiply-add).
    var acc = y
    isn_broadcast_multiply(a, aStride, b, bStride, Int32(c.batch), c.dims.map(Int64.init), c.steps, 1, &acc, yStride)
    let doubled = expected.map { 2 * $0 }
    expectClose(acc, batch: c.batch, count: c.count, stride: yStride, doubled, magnitude: doubled.map(abs), bound: 2 * Float32Bound.unitRoundoff, "y += a ⊙ b")
  }

  /// The gate's adjoint: Σ g·a over the elements that read each gate element, against
  /// double sums, within the float32 bound of the longest sum.
  @Test(arguments: broadcastCases)
  func broadcastReductionSumsWhatReadsEachElement(_ c: BroadcastCase) {
    let g = stridedRandom(batch: c.batch, count: c.count, stride: c.count, seed: 63)
    let a = stridedRandom(batch: c.batch, count: c.count, stride: c.count, seed: 64)
    var db = [Float](repeating: 0.5, count: c.batch * c.smallCount)
    isn_broadcast_multiply_reduce(g, c.count, a, c.count, Int32(c.batch), c.dims.map(Int64.init), c.steps, &db, c.smallCount)
    var expected = [Double](repeating: 0.5, count: c.batch * c.smallCount), magnitude = expected
    for n in 0..<c.batch {
      for i in 0..<c.count {
        let term = Double(g[n * c.count + i]) * Double(a[n * c.count + i])
        expected[n * c.smallCount + c.smallIndex(i)] += term
        magnitude[n * c.smallCount + c.smallIndex(i)] += abs(term)
      }
    }
    let terms = c.count / c.smallCount + 1
    expectClose(db, batch: c.batch, count: c.smallCount, stride: c.smallCount, expected, magnitude: magnitude, bound: Float32Bound.sum(terms: terms + 1), "db")
  }

  @Test(arguments: upsampleCases)
  func upsamplingMatchesItsDefinition(_ u: UpsampleCase) {
    let xStride = u.inCount + 4
    let x = stridedRandom(batch: u.batch, count: u.inCount, stride: xStride, seed: 65)
    let y = runUpsample(u, x, xStride: xStride)
    let terms = upsampleTerms(u)
    var expected: [Double] = [], magnitude: [Double] = []
    for n in 0..<u.batch {
      for c in 0..<u.channels {
        let base = n * xStride + c * u.h * u.w
        for t in terms {
          expected.append(t.reduce(0) { $0 + $1.1 * Double(x[base + $1.0]) })
          magnitude.append(t.reduce(0) { $0 + abs($1.1 * Double(x[base + $1.0])) })
        }
      }
    }
    // Nearest copies (exact). Bilinear: the float32 source coordinate (up to the side) is
    // off by side·u at most, each of the four weights by twice that, and three roundings
    // follow: relative to the largest magnitude, (4·2·side + 8)·u.
    let largest = magnitude.max() ?? 0
    let side = max(u.h, u.w)
    expectClose(
      y, batch: u.batch, count: u.outCount, stride: u.outCount + 3, expected, magnitude: magnitude.map { _ in largest },
      bound: u.bilinear ? Double(8 * side + 8) * Float32Bound.unitRoundoff : 0, "upsample")
    expectGapsUntouched(y, batch: u.batch, count: u.outCount, stride: u.outCount + 3, "upsample")
  }

  /// The backward adds the transpose: each input gathers every output term that reads it.
  @Test(arguments: upsampleCases)
  func upsamplingAdjointIsItsTranspose(_ u: UpsampleCase) {
    let g = stridedRandom(batch: u.batch, count: u.outCount, stride: u.outCount, seed: 66)
    let dx = runUpsampleBackward(u, g)
    let terms = upsampleTerms(u)
    var expected = [Double](repeating: 0.25, count: u.batch * u.inCount), magnitude = expected
    for n in 0..<u.batch {
      for c in 0..<u.channels {
        let plane = n * u.inCount + c * u.h * u.w
        for (o, t) in terms.enumerated() {
          let v = Double(g[n * u.outCount + c * u.outH * u.outW + o])
          for (i, weight) in t {
            expected[plane + i] += weight * v
            magnitude[plane + i] += abs(weight * v)
          }
        }
      }
    }
    // Each input sums at most 4·(s+1)² terms; the weights are off as in the forward.
    let reads = u.bilinear ? 4 * (u.sh + 1) * (u.sw + 1) : u.sh * u.sw
    let largest = magnitude.max() ?? 0
    let side = max(u.h, u.w)
    expectClose(
      dx, batch: u.batch, count: u.inCount, stride: u.inCount, expected, magnitude: magnitude.map { _ in largest },
      bound: Float32Bound.sum(terms: reads + 1) + (u.bilinear ? Double(8 * side) * Float32Bound.unitRoundoff : 0), "upsampleᵀ")
  }
}
