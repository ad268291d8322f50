// isn_conv2d_weight_grad against a naive float64 loop: it accumulates Σ dy · x over samples
// and output positions into dw. Stride-1 undilated kernels run as shifted GEMMs over padded
// planes; the others through im2col, with samples whose planes are short taken several at a
// time (one GEMM over their positions side by side) and longer planes in column tiles.
import CKernels
import Testing
import TestSupport

@Suite struct WeightGradientTests {
  /// The convolution cases without groups (the kernel's domain), and shapes that take each
  /// path: samples grouped (all in one GEMM, or in groups with a remainder), and tiles.
  static let cases: [ConvCase] =
    convCases.filter { $0.groups == 1 } + [
      ConvCase(batch: 7, cin: 6, cout: 5, h: 10, w: 10, kh: 1, kw: 1, label: "direct, 7 samples in one group"),
      ConvCase(batch: 5, cin: 4, cout: 6, h: 20, w: 20, ph: 1, pw: 1, label: "3x3, groups of 3 and 2"),
      ConvCase(batch: 3, cin: 3, cout: 4, h: 34, w: 33, kh: 1, kw: 1, label: "direct, plane over a tile"),
      ConvCase(batch: 2, cin: 3, cout: 4, h: 40, w: 40, ph: 1, pw: 1, label: "3x3, column tiles"),
      ConvCase(batch: 4, cin: 130, cout: 3, h: 5, w: 5, kh: 1, kw: 1, label: "channel blocks with a remainder"),
      // Stride 1 without dilation: the shifted GEMMs over padded planes.
      ConvCase(batch: 3, cin: 5, cout: 4, h: 9, w: 7, label: "3x3 unpadded, shifted"),
      ConvCase(batch: 6, cin: 70, cout: 6, h: 12, w: 10, kh: 5, kw: 3, ph: 2, pw: 1, label: "5x3 padded, shifted, channel blocks"),
    ]

  /// dw0 + Σ over samples and positions of dy[n, o, p] · x[n / repeat, c, p shifted by (ki, kj)],
  /// and the same sum of absolute values (the magnitude its rounding is relative to).
  func reference(_ c: ConvCase, _ d: ConvData, repeat: Int, initial: [Float]) -> (value: [Double], magnitude: [Double]) {
    var value = initial.map(Double.init), magnitude = initial.map { Double(abs($0)) }
    for n in 0..<c.batch {
      for o in 0..<c.cout {
        for i in 0..<c.cin {
          for ki in 0..<c.kh {
            for kj in 0..<c.kw {
              var sum = 0.0, size = 0.0
              for oh in 0..<c.outH {
                for ow in 0..<c.outW {
                  let ih = oh * c.sh - c.ph + ki * c.dh, iw = ow * c.sw - c.pw + kj * c.dw
                  guard ih >= 0, ih < c.h, iw >= 0, iw < c.w else { continue }
                  let term = Double(d.dy[n * c.yStride + (o * c.outH + oh) * c.outW + ow]) * Double(d.x[(n / `repeat`) * c.xStride + (i * c.h + ih) * c.w + iw])
                  sum += term
                  size += abs(term)
                }
              }
              let index = ((o * c.cin + i) * c.kh + ki) * c.kw + kj
              value[index] += sum
              magnitude[index] += size
            }
          }
        }
      }
    }
    return (value, magnitude)
  }

  @Test(arguments: cases, [1, 2])
  func accumulatesTheReference(_ c: ConvCase, repeat: Int) {
    guard c.batch % `repeat` == 0 || `repeat` == 1 else { return }
    let d = ConvData(c)
    var g = c.geometry
    var rng = TestRandom(seed: 9)
    let initial = rng.floats(c.weightCount)
    var dw = initial
    isn_conv2d_weight_grad(&g, d.x, c.xStride, Int32(`repeat`), d.dy, c.yStride, &dw)
    let (value, magnitude) = reference(c, d, repeat: `repeat`, initial: initial)
    expectClose(
      dw, batch: 1, count: c.weightCount, stride: c.weightCount, value, magnitude: magnitude,
      bound: Float32Bound.sum(terms: c.batch * c.outH * c.outW + 1), "\(c.testDescription), x repeated \(`repeat`)×")
  }

  /// Units own fixed blocks of input channels, each summed in one order: any thread count
  /// gives the same bits. (Only 1 and 2: other suites' sessions, running alongside, size
  /// their workspaces for the tests' thread count.)
  @Test(arguments: cases.suffix(7))
  func independentOfThreads(_ c: ConvCase) {
    let d = ConvData(c)
    var results: [[Float]] = []
    for threads in [1, 2] {
      isn_set_threads(Int32(threads))
      var g = c.geometry
      var dw = [Float](repeating: 0, count: c.weightCount)
      isn_conv2d_weight_grad(&g, d.x, c.xStride, 1, d.dy, c.yStride, &dw)
      results.append(dw)
    }
    isn_set_threads(Int32(testThreads))
    #expect(results[1].map(\.bitPattern) == results[0].map(\.bitPattern))
  }
}
