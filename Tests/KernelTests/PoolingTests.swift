// Max pooling (values and arg-max), max-unpool summing, average and adaptive average
// pooling against naive loops, on strided batches with odd sizes.
import CKernels
import Testing
import TestSupport

struct PoolCase: Sendable, CustomTestStringConvertible {
  var batch = 3, channels = 5, h = 9, w = 11
  var kh = 3, kw = 3, sh = 2, sw = 2, ph = 1, pw = 1
  var outH: Int { (h + 2 * ph - kh) / sh + 1 }
  var outW: Int { (w + 2 * pw - kw) / sw + 1 }
  var inCount: Int { channels * h * w }
  var outCount: Int { channels * outH * outW }
  var xStride: Int { inCount + 9 }
  var yStride: Int { outCount + 5 }
  var testDescription: String { "\(h)x\(w) k\(kh)x\(kw) s\(sh)x\(sw) p\(ph)x\(pw)" }
}

let poolCases: [PoolCase] = [
  PoolCase(),
  PoolCase(kh: 2, kw: 2, sh: 2, sw: 2, ph: 0, pw: 0),
  PoolCase(kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1),
  PoolCase(kh: 3, kw: 2, sh: 2, sw: 3, ph: 1, pw: 0),
  PoolCase(h: 12, w: 10, kh: 5, kw: 5, sh: 3, sw: 3, ph: 2, pw: 2),
  PoolCase(batch: 1, channels: 2, h: 1, w: 1, kh: 1, kw: 1, sh: 1, sw: 1, ph: 0, pw: 0),
]

/// Reference max pooling: value and PyTorch arg-max (first maximum in row-major order).
func referenceMaxPool(_ p: PoolCase, _ x: [Float]) -> ([Float], [Int32]) {
  var y: [Float] = []
  var arg: [Int32] = []
  for n in 0..<p.batch {
    for c in 0..<p.channels {
      let base = n * p.xStride + c * p.h * p.w
      for oh in 0..<p.outH {
        for ow in 0..<p.outW {
          var best = -Float.infinity
          var idx: Int32 = -1
          for ki in 0..<p.kh {
            for kj in 0..<p.kw {
              let ih = oh * p.sh - p.ph + ki, iw = ow * p.sw - p.pw + kj
              guard ih >= 0, ih < p.h, iw >= 0, iw < p.w else { continue }
              let v = x[base + ih * p.w + iw]
              if idx < 0 || v > best {
                best = v
                idx = Int32(ih * p.w + iw)
              }
            }
          }
          y.append(best)
          arg.append(idx)
        }
      }
    }
  }
  return (y, arg)
}

func runMaxPool(_ p: PoolCase, _ x: [Float], argmax: Bool = true) -> ([Float], [Int32]) {
  var y = [Float](repeating: sentinel, count: p.batch * p.yStride)
  var arg = [Int32](repeating: -7, count: p.batch * p.outCount)
  arg.withUnsafeMutableBufferPointer { a in
    isn_maxpool2d(
      x, p.xStride, Int32(p.batch), Int32(p.channels), Int32(p.h), Int32(p.w), Int32(p.kh),
      Int32(p.kw), Int32(p.sh), Int32(p.sw), Int32(p.ph), Int32(p.pw), Int32(p.outH),
      Int32(p.outW), &y, p.yStride, argmax ? a.baseAddress : nil)
  }
  return (y, arg)
}

/// Dense copy of a strided tensor.
func dense(_ a: [Float], batch: Int, count: Int, stride: Int) -> [Float] {
  (0..<batch).flatMap { n in a[(n * stride)..<(n * stride + count)] }
}

@Suite struct PoolingTests {
  @Test(arguments: poolCases)
  func maxPoolMatchesReference(_ p: PoolCase) {
    let x = stridedRandom(batch: p.batch, count: p.inCount, stride: p.xStride, seed: 11)
    let (y, arg) = runMaxPool(p, x)
    let (ry, rarg) = referenceMaxPool(p, x)
    #expect(bits(dense(y, batch: p.batch, count: p.outCount, stride: p.yStride)) == bits(ry))
    #expect(arg == rarg)
    expectGapsUntouched(y, batch: p.batch, count: p.outCount, stride: p.yStride)
    let (y2, untouched) = runMaxPool(p, x, argmax: false)
    #expect(bits(y2) == bits(y))
    #expect(untouched.allSatisfy { $0 == -7 })
  }

  /// Many equal values: the first maximum in row-major window order wins.
  @Test(arguments: poolCases)
  func maxPoolTiesGoToFirst(_ p: PoolCase) {
    var x = stridedRandom(batch: p.batch, count: p.inCount, stride: p.xStride, seed: 12)
    for i in x.indices where x[i] != sentinel { x[i] = (x[i] * 1.5).rounded() }  // -2...2
    let (y, arg) = runMaxPool(p, x)
    let (ry, rarg) = referenceMaxPool(p, x)
    #expect(bits(dense(y, batch: p.batch, count: p.outCount, stride: p.yStride)) == bits(ry))
    #expect(arg == rarg)
    // All-equal input: every window picks its top-left valid position.
    let flat = [Float](repeating: 1, count: p.batch * p.xStride)
    let (_, farg) = runMaxPool(p, flat)
    let (_, frarg) = referenceMaxPool(p, flat)
    #expect(farg == frarg)
  }

  /// NaN propagates as in PyTorch: a window holding NaN outputs NaN and points at it.
  @Test func maxPoolPropagatesNaN() {
    let p = PoolCase(batch: 1, channels: 1)
    var x = stridedRandom(batch: 1, count: p.inCount, stride: p.xStride, seed: 17)
    x[4 * p.w + 6] = .nan  // row 4 lies in window row 2 only; column 6 in window columns 3
    let (y, arg) = runMaxPool(p, x)
    for oh in 0..<p.outH {
      for ow in 0..<p.outW {
        let o = oh * p.outW + ow
        let inWindow = oh == 2 && ow == 3
        #expect(y[o].isNaN == inWindow)
        if inWindow { #expect(arg[o] == Int32(4 * p.w + 6)) }
      }
    }
  }

  @Test(arguments: poolCases)
  func maxUnpoolSumsSharedArgmax(_ p: PoolCase) {
    var x = stridedRandom(batch: p.batch, count: p.inCount, stride: p.xStride, seed: 13)
    // Plant a maximum at (3, 3): with 3x3 stride-2 windows it wins four of them.
    if p.h > 3 && p.w > 3 {
      for n in 0..<p.batch { for c in 0..<p.channels { x[n * p.xStride + c * p.h * p.w + 3 * p.w + 3] = 10 } }
    }
    let (_, arg) = runMaxPool(p, x)
    let dyStride = p.outCount + 3, dxStride = p.inCount + 4
    let dy = stridedRandom(batch: p.batch, count: p.outCount, stride: dyStride, seed: 14)
    var dx = [Float](repeating: sentinel, count: p.batch * dxStride)
    isn_max_unpool2d_sum(
      dy, dyStride, arg, Int32(p.batch), Int32(p.channels), Int32(p.h), Int32(p.w),
      Int32(p.outH), Int32(p.outW), &dx, dxStride)
    var expected = [Double](repeating: 0, count: p.batch * p.inCount)
    let plane = p.outH * p.outW
    for n in 0..<p.batch {
      for c in 0..<p.channels {
        for o in 0..<plane {
          let a = Int(arg[(n * p.channels + c) * plane + o])
          expected[n * p.inCount + c * p.h * p.w + a] += Double(dy[n * dyStride + c * plane + o])
        }
      }
    }
    // Each position sums the windows that pick it: at most kh·kw of them.
    var magnitude = [Double](repeating: 0, count: p.batch * p.inCount)
    for n in 0..<p.batch {
      for c in 0..<p.channels {
        for o in 0..<plane {
          let a = Int(arg[(n * p.channels + c) * plane + o])
          magnitude[n * p.inCount + c * p.h * p.w + a] += abs(Double(dy[n * dyStride + c * plane + o]))
        }
      }
    }
    expectClose(
      dx, batch: p.batch, count: p.inCount, stride: dxStride, expected, magnitude: magnitude,
      bound: Float32Bound.sum(terms: p.kh * p.kw), "unpool")
    expectGapsUntouched(dx, batch: p.batch, count: p.inCount, stride: dxStride, "unpool")
    if p.kh == 3 && p.kw == 3 && p.sh == 2 && p.sw == 2 && p.ph == 1 && p.pw == 1 {
      // Windows (1,1), (1,2), (2,1), (2,2) all pick (3, 3): it receives their sum.
      for n in 0..<p.batch {
        for c in 0..<p.channels {
          let g = { (oh: Int, ow: Int) in dy[n * dyStride + c * plane + oh * p.outW + ow] }
          let sum = g(1, 1) + g(1, 2) + g(2, 1) + g(2, 2)
          let magnitude = abs(g(1, 1)) + abs(g(1, 2)) + abs(g(2, 1)) + abs(g(2, 2))
          #expect(Double(abs(dx[n * dxStride + c * p.h * p.w + 3 * p.w + 3] - sum)) <= Float32Bound.sum(terms: 4) * Double(magnitude))
        }
      }
    }
  }

  @Test(arguments: poolCases)
  func avgPoolCountsPadding(_ p: PoolCase) {
    let x = stridedRandom(batch: p.batch, count: p.inCount, stride: p.xStride, seed: 15)
    var y = [Float](repeating: sentinel, count: p.batch * p.yStride)
    isn_avgpool2d(
      x, p.xStride, Int32(p.batch), Int32(p.channels), Int32(p.h), Int32(p.w), Int32(p.kh),
      Int32(p.kw), Int32(p.sh), Int32(p.sw), Int32(p.ph), Int32(p.pw), Int32(p.outH),
      Int32(p.outW), &y, p.yStride)
    var expected: [Double] = [], magnitude: [Double] = []
    for n in 0..<p.batch {
      for c in 0..<p.channels {
        for oh in 0..<p.outH {
          for ow in 0..<p.outW {
            var s = 0.0, m = 0.0
            for ki in 0..<p.kh {
              for kj in 0..<p.kw {
                let ih = oh * p.sh - p.ph + ki, iw = ow * p.sw - p.pw + kj
                if ih >= 0 && ih < p.h && iw >= 0 && iw < p.w {
                  s += Double(x[n * p.xStride + c * p.h * p.w + ih * p.w + iw])
                  m += abs(Double(x[n * p.xStride + c * p.h * p.w + ih * p.w + iw]))
                }
              }
            }
            expected.append(s / Double(p.kh * p.kw))
            magnitude.append(m / Double(p.kh * p.kw))
          }
        }
      }
    }
    // A window's sum and one division.
    expectClose(
      y, batch: p.batch, count: p.outCount, stride: p.yStride, expected, magnitude: magnitude,
      bound: Float32Bound.sum(terms: p.kh * p.kw + 1), "avgpool")
    expectGapsUntouched(y, batch: p.batch, count: p.outCount, stride: p.yStride, "avgpool")
  }

  @Test(arguments: [(10, 12, 3, 5), (7, 7, 7, 7), (5, 9, 1, 1), (9, 11, 4, 5), (3, 2, 5, 3), (224, 1, 7, 1)])
  func adaptiveAvgPoolUsesPyTorchWindows(_ sizes: (Int, Int, Int, Int)) {
    let (h, w, oh, ow) = sizes
    let batch = 3, channels = 5
    let xStride = channels * h * w + 6, yStride = channels * oh * ow + 2
    let x = stridedRandom(batch: batch, count: channels * h * w, stride: xStride, seed: 16)
    var y = [Float](repeating: sentinel, count: batch * yStride)
    isn_adaptive_avgpool2d(
      x, xStride, Int32(batch), Int32(channels), Int32(h), Int32(w), Int32(oh), Int32(ow), &y,
      yStride)
    var expected: [Double] = [], magnitude: [Double] = [], window = 0
    for n in 0..<batch {
      for c in 0..<channels {
        for i in 0..<oh {
          let hs = (i * h) / oh, he = ((i + 1) * h + oh - 1) / oh
          for j in 0..<ow {
            let ws = (j * w) / ow, we = ((j + 1) * w + ow - 1) / ow
            var s = 0.0, m = 0.0
            for r in hs..<he {
              for q in ws..<we {
                s += Double(x[n * xStride + c * h * w + r * w + q])
                m += abs(Double(x[n * xStride + c * h * w + r * w + q]))
              }
            }
            let count = (he - hs) * (we - ws)
            window = max(window, count)
            expected.append(s / Double(count))
            magnitude.append(m / Double(count))
          }
        }
      }
    }
    // A window's sum and one division.
    expectClose(
      y, batch: batch, count: channels * oh * ow, stride: yStride, expected, magnitude: magnitude,
      bound: Float32Bound.sum(terms: window + 1), "adaptive")
    expectGapsUntouched(y, batch: batch, count: channels * oh * ow, stride: yStride, "adaptive")
  }

  /// 10 -> 3 windows are rows 0-3, 3-6, 6-9 (overlapping, PyTorch's floor/ceil rule).
  @Test func adaptiveWindowsTenToThree() {
    let x = (0..<10).map { Float($0) }
    var y = [Float](repeating: 0, count: 3)
    isn_adaptive_avgpool2d(x, 10, 1, 1, 10, 1, 3, 1, &y, 3)
    #expect(y == [1.5, 4.5, 7.5])
  }
}
