// Shared helpers for the kernel tests: deterministic random data, strided buffers with
// sentinel-filled gaps, tolerance checks against float64 references, and the naive
// convolution references every conv test compares with.
import CKernels
import Foundation
import Testing
import TestSupport

/// Fills the gaps between strided samples (and unused workspace); kernels must leave it.
let sentinel: Float = -12345.5

/// SplitMix64: reproducible test data without Foundation's global generator.
struct TestRandom {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
  /// Uniform in [-1, 1).
  mutating func float() -> Float { Float(next() >> 40) / Float(1 << 23) - 1 }
  mutating func floats(_ n: Int) -> [Float] { (0..<n).map { _ in float() } }
}

/// `batch` samples of `count` random floats, `stride` apart, gaps set to `sentinel`.
func stridedRandom(batch: Int, count: Int, stride: Int, seed: UInt64) -> [Float] {
  var rng = TestRandom(seed: seed)
  var a = [Float](repeating: sentinel, count: batch * stride)
  for n in 0..<batch { for i in 0..<count { a[n * stride + i] = rng.float() } }
  return a
}

/// Threads any kernel may run with during the tests: the thread suite switches between 1
/// and 2 while other suites run, and the default is OpenMP's (processors or OMP_NUM_THREADS).
let workspaceThreads: Int = {
  let env = ProcessInfo.processInfo.environment["OMP_NUM_THREADS"].flatMap { Int($0) } ?? 0
  return max(2, ProcessInfo.processInfo.activeProcessorCount, env, Int(isn_threads()))
}()

/// Expects each element of the strided `actual` within `bound` times its magnitude: the sum
/// of the absolute terms that make it (`magnitude`, e.g. the reference run on |x| and |w|:
/// the measure float32 summation error is relative to), or, where that is not given, the
/// largest |expected|. `bound` comes from `Float32Bound` (0: exact).
func expectClose(
  _ actual: [Float], batch: Int, count: Int, stride: Int, _ expected: [Double],
  magnitude: [Double]? = nil, bound: Double, _ what: String = "",
  sourceLocation: SourceLocation = #_sourceLocation
) {
  #expect(actual.count >= (batch - 1) * stride + count, sourceLocation: sourceLocation)
  let largest = max(expected.map(abs).max() ?? 0, 1e-30)
  var worst = 0.0, worstIndex = 0
  for n in 0..<batch {
    for i in 0..<count {
      let e = expected[n * count + i]
      let scale = max(magnitude?[n * count + i] ?? largest, 1e-30)
      let ratio = abs(Double(actual[n * stride + i]) - e) / scale
      if ratio > worst { (worst, worstIndex) = (ratio, n * count + i) }
    }
  }
  #expect(
    worst <= bound, "\(what): error \(worst) of the magnitude at \(worstIndex) exceeds \(bound)",
    sourceLocation: sourceLocation)
}

/// Expects every float between strided samples (from `count` to `stride` in each) to still
/// be the sentinel.
func expectGapsUntouched(
  _ a: [Float], batch: Int, count: Int, stride: Int, _ what: String = "",
  sourceLocation: SourceLocation = #_sourceLocation
) {
  var touched = 0
  for n in 0..<batch {
    for i in count..<stride where a[n * stride + i].bitPattern != sentinel.bitPattern {
      touched += 1
    }
  }
  #expect(touched == 0, "\(what): \(touched) gap floats overwritten", sourceLocation: sourceLocation)
}

func bits(_ a: [Float]) -> [UInt32] { a.map(\.bitPattern) }

/// Calls `body` with the array's base address, or nil.
func withOptionalPointer<R>(_ a: [Float]?, _ body: (UnsafePointer<Float>?) -> R) -> R {
  guard let a else { return body(nil) }
  return a.withUnsafeBufferPointer { body($0.baseAddress) }
}

// MARK: - Convolution cases and references

/// One convolution geometry plus the options a test runs it with.
struct ConvCase: Sendable, CustomTestStringConvertible {
  var batch = 3
  var cin = 5, cout = 7
  var h = 9, w = 11
  var kh = 3, kw = 3
  var sh = 1, sw = 1
  var ph = 0, pw = 0
  var dh = 1, dw = 1
  var groups = 1
  var bias = true
  var relu = false
  /// Floats added after each sample of x/dx and y/dy (strided samples).
  var xPad = 13, yPad = 7
  var label = ""

  var outH: Int { (h + 2 * ph - dh * (kh - 1) - 1) / sh + 1 }
  var outW: Int { (w + 2 * pw - dw * (kw - 1) - 1) / sw + 1 }
  var inCount: Int { cin * h * w }
  var outCount: Int { cout * outH * outW }
  var xStride: Int { inCount + xPad }
  var yStride: Int { outCount + yPad }
  var weightCount: Int { cout * (cin / groups) * kh * kw }

  var geometry: isn_conv_geometry {
    isn_conv_geometry(
      batch: Int32(batch), in_channels: Int32(cin), in_h: Int32(h), in_w: Int32(w),
      out_channels: Int32(cout), out_h: Int32(outH), out_w: Int32(outW),
      kernel_h: Int32(kh), kernel_w: Int32(kw), stride_h: Int32(sh), stride_w: Int32(sw),
      pad_h: Int32(ph), pad_w: Int32(pw), dilation_h: Int32(dh), dilation_w: Int32(dw),
      groups: Int32(groups))
  }

  var testDescription: String {
    let s =
      "\(label.isEmpty ? "" : label + ": ")n\(batch) \(cin)->\(cout) \(h)x\(w) k\(kh)x\(kw) "
      + "s\(sh)x\(sw) p\(ph)x\(pw) d\(dh)x\(dw) g\(groups)"
    return s + (bias ? " bias" : "") + (relu ? " relu" : "")
  }
}

/// Inputs of one case: strided x and dy, weights, optional bias.
struct ConvData {
  /// The same data with every value made non-negative: references run on it give each
  /// output's Σ|terms|, the magnitude its float32 rounding is relative to.
  var absolute: ConvData {
    var a = self
    a.x = x.map(abs)
    a.dy = dy.map(abs)
    a.weight = weight.map(abs)
    a.bias = bias?.map(abs)
    return a
  }

  var x: [Float]
  var dy: [Float]
  var weight: [Float]
  var bias: [Float]?

  init(_ c: ConvCase, seed: UInt64 = 1) {
    x = stridedRandom(batch: c.batch, count: c.inCount, stride: c.xStride, seed: seed)
    dy = stridedRandom(batch: c.batch, count: c.outCount, stride: c.yStride, seed: seed + 1)
    var rng = TestRandom(seed: seed + 2)
    weight = rng.floats(c.weightCount)
    bias = c.bias ? rng.floats(c.cout) : nil
  }
}

/// Visits every (sample, output channel, output position, input channel, kernel tap) whose
/// input position lies inside the image: body(yIndex, xIndex, weightIndex), indices dense.
func forEachTap(_ c: ConvCase, _ body: (Int, Int, Int) -> Void) {
  let cg = c.cin / c.groups, mg = c.cout / c.groups
  let oh = c.outH, ow = c.outW
  for n in 0..<c.batch {
    for co in 0..<c.cout {
      let g = co / mg
      for y in 0..<oh {
        for x in 0..<ow {
          let yi = ((n * c.cout + co) * oh + y) * ow + x
          for ci in 0..<cg {
            for ki in 0..<c.kh {
              let ih = y * c.sh - c.ph + ki * c.dh
              if ih < 0 || ih >= c.h { continue }
              for kj in 0..<c.kw {
                let iw = x * c.sw - c.pw + kj * c.dw
                if iw < 0 || iw >= c.w { continue }
                let xi = ((n * c.cin + g * cg + ci) * c.h + ih) * c.w + iw
                let wi = ((co * cg + ci) * c.kh + ki) * c.kw + kj
                body(yi, xi, wi)
              }
            }
          }
        }
      }
    }
  }
}

/// Naive float64 convolution: dense [batch, cout, outH, outW], bias and ReLU per the case.
func referenceConv(_ c: ConvCase, _ d: ConvData) -> [Double] {
  var y = [Double](repeating: 0, count: c.batch * c.outCount)
  let x = d.x, w = d.weight
  let xs = c.xStride, inCount = c.inCount
  forEachTap(c) { yi, xi, wi in
    let n = xi / inCount
    y[yi] += Double(x[n * xs + xi - n * inCount]) * Double(w[wi])
  }
  let plane = c.outH * c.outW
  for i in y.indices {
    if let b = d.bias { y[i] += Double(b[(i / plane) % c.cout]) }
    if c.relu { y[i] = max(y[i], 0) }
  }
  return y
}

/// Terms summed into one output of the convolution: each input channel's taps, and the bias.
func forwardTerms(_ c: ConvCase) -> Int { c.cin / c.groups * c.kh * c.kw + (c.bias ? 1 : 0) }

/// Terms summed into one input position by the transposed convolution (at most).
func transposeTerms(_ c: ConvCase) -> Int { c.cout / c.groups * c.kh * c.kw }

/// Naive float64 transposed convolution: dense [batch, cin, h, w].
func referenceConvTranspose(_ c: ConvCase, _ d: ConvData) -> [Double] {
  var dx = [Double](repeating: 0, count: c.batch * c.inCount)
  let dy = d.dy, w = d.weight
  let ys = c.yStride, outCount = c.outCount
  forEachTap(c) { yi, xi, wi in
    let n = yi / outCount
    dx[xi] += Double(dy[n * ys + yi - n * outCount]) * Double(w[wi])
  }
  return dx
}

/// Runs isn_conv2d on a y prefilled with the sentinel, with a workspace of exactly the
/// advertised size followed by sentinel guard floats; expects the guard untouched.
func runConv(_ c: ConvCase, _ d: ConvData, sourceLocation: SourceLocation = #_sourceLocation)
  -> [Float]
{
  var g = c.geometry
  let wsCount = isn_conv2d_workspace(&g, Int32(workspaceThreads))
  var ws = [Float](repeating: sentinel, count: wsCount + 64)
  var y = [Float](repeating: sentinel, count: c.batch * c.yStride)
  withOptionalPointer(d.bias) { bias in
    isn_conv2d(
      &g, d.x, c.xStride, d.weight, bias, c.relu ? 1 : 0, &y, c.yStride, &ws, Int32(workspaceThreads))
  }
  #expect(
    ws[wsCount...].allSatisfy { $0.bitPattern == sentinel.bitPattern },
    "conv wrote past its workspace", sourceLocation: sourceLocation)
  return y
}

/// Runs isn_conv2d_transpose like `runConv` (dx prefilled with the sentinel).
func runConvTranspose(
  _ c: ConvCase, _ d: ConvData, sourceLocation: SourceLocation = #_sourceLocation
) -> [Float] {
  var g = c.geometry
  let wsCount = isn_conv2d_workspace(&g, Int32(workspaceThreads))
  var ws = [Float](repeating: sentinel, count: wsCount + 64)
  var dx = [Float](repeating: sentinel, count: c.batch * c.xStride)
  isn_conv2d_transpose(&g, d.dy, c.yStride, d.weight, &dx, c.xStride, &ws, Int32(workspaceThreads))
  #expect(
    ws[wsCount...].allSatisfy { $0.bitPattern == sentinel.bitPattern },
    "transposed conv wrote past its workspace", sourceLocation: sourceLocation)
  return dx
}

/// The geometries every conv test runs: odd shapes, all kernel options, and sizes that
/// make the kernels split columns, output channels and input channels into several units.
let convCases: [ConvCase] = [
  ConvCase(ph: 1, pw: 1, label: "3x3 pad 1"),
  ConvCase(ph: 1, pw: 1, bias: false, relu: true, label: "3x3 relu no bias"),
  ConvCase(kh: 5, kw: 5, sh: 2, sw: 2, ph: 3, pw: 3, relu: true, label: "5x5 stride 2 pad 3"),
  ConvCase(h: 13, w: 16, kh: 7, kw: 7, sh: 3, sw: 3, bias: false, label: "7x7 stride 3"),
  ConvCase(batch: 2, cin: 3, cout: 8, h: 17, w: 15, kh: 7, kw: 7, sh: 2, sw: 2, ph: 3, pw: 3, label: "7x7 stride 2 pad 3"),
  ConvCase(kh: 3, kw: 1, sh: 2, sw: 1, ph: 1, pw: 0, label: "3x1"),
  ConvCase(kh: 1, kw: 3, sh: 1, sw: 3, ph: 0, pw: 1, relu: true, label: "1x3 stride 3"),
  ConvCase(kh: 3, kw: 3, ph: 2, pw: 2, dh: 2, dw: 2, label: "dilation 2"),
  ConvCase(kh: 3, kw: 3, sh: 2, sw: 2, ph: 1, pw: 3, dh: 2, dw: 1, label: "dilation 2x1 stride 2"),
  ConvCase(cin: 4, cout: 6, ph: 1, pw: 1, groups: 2, relu: true, label: "groups 2"),
  ConvCase(cin: 8, cout: 4, kh: 5, kw: 5, sh: 2, sw: 2, ph: 1, pw: 2, groups: 4, label: "groups 4"),
  ConvCase(cin: 6, cout: 6, ph: 1, pw: 1, groups: 6, label: "depthwise"),
  ConvCase(cin: 5, cout: 10, sh: 2, sw: 2, ph: 1, pw: 1, groups: 5, bias: false, label: "depthwise x2 stride 2"),
  ConvCase(kh: 1, kw: 1, relu: true, label: "1x1 direct"),
  ConvCase(cin: 6, cout: 4, kh: 1, kw: 1, groups: 2, bias: false, label: "1x1 direct groups 2"),
  ConvCase(kh: 1, kw: 1, sh: 2, sw: 2, label: "1x1 stride 2"),
  ConvCase(kh: 1, kw: 1, ph: 1, pw: 1, label: "1x1 pad 1"),
  ConvCase(batch: 2, cin: 3, cout: 4, h: 10, w: 10, sh: 2, sw: 2, ph: 1, pw: 1, label: "output padding"),
  ConvCase(batch: 2, cin: 3, cout: 4, h: 10, w: 9, kh: 3, kw: 2, sh: 2, sw: 3, label: "unreached rows"),
  ConvCase(batch: 1, cin: 4, cout: 5, h: 11, w: 13, ph: 1, pw: 1, relu: true, label: "column tiles"),
  ConvCase(batch: 1, cin: 3, cout: 5, h: 33, w: 33, kh: 1, kw: 1, label: "direct column tiles"),
  ConvCase(batch: 1, cin: 40, cout: 40, h: 7, w: 7, ph: 1, pw: 1, label: "channel blocks 7x7 map"),
  ConvCase(batch: 1, cin: 64, cout: 48, h: 7, w: 7, kh: 1, kw: 1, relu: true, label: "direct channel blocks"),
  ConvCase(batch: 1, cin: 8, cout: 4, h: 28, w: 28, kh: 7, kw: 7, ph: 3, pw: 3, label: "im2col budget tiles"),
  // K = 2 · 64 · 49 rows: tiles are limited by the L2 budget on any cache size up to 16 MiB.
  ConvCase(batch: 1, cin: 128, cout: 3, h: 36, w: 36, kh: 7, kw: 7, ph: 3, pw: 3, label: "im2col budget tiles, deep"),
  ConvCase(batch: 1, cin: 160, cout: 3, h: 9, w: 9, kh: 7, kw: 7, ph: 3, pw: 3, label: "deep K"),
]
