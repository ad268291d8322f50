// isn_winograd_conv2d against the naive float64 convolution, on the 3x3 stride-1 shapes it
// supports: odd sizes, both paddings, partial tiles, channel counts that are not multiples
// of the vector width, strided samples, bias and ReLU; and the same bits for 1 and 2 threads,
// and (on a CPU with AVX-512) for 16- and 8-lane products.
import CKernels
import Testing
import TestSupport

let winogradCases: [ConvCase] = [
  ConvCase(ph: 1, pw: 1, label: "3x3 pad 1"),
  ConvCase(ph: 1, pw: 1, bias: false, relu: true, label: "relu no bias"),
  ConvCase(label: "no padding"),
  ConvCase(batch: 2, cin: 3, cout: 9, h: 4, w: 5, ph: 1, pw: 1, label: "one partial tile"),
  ConvCase(batch: 1, cin: 33, cout: 17, h: 14, w: 14, ph: 1, pw: 1, relu: true, label: "14x14 odd channels"),
  ConvCase(batch: 2, cin: 128, cout: 32, h: 28, w: 28, ph: 1, pw: 1, bias: false, label: "DenseNet 28x28"),
  ConvCase(batch: 1, cin: 16, cout: 40, h: 57, w: 23, ph: 1, pw: 1, label: "several blocks"),
]

func runWinograd(_ c: ConvCase, _ d: ConvData, threads: Int32 = 2) -> [Float] {
  var g = c.geometry
  #expect(isn_winograd_supported(&g) != 0)
  var u = [Float](repeating: 0, count: isn_winograd_weight_size(&g))
  isn_winograd_weights(&g, d.weight, &u)
  let wsCount = isn_winograd_workspace(&g, threads)
  var ws = [Float](repeating: sentinel, count: wsCount + 64)
  var y = [Float](repeating: sentinel, count: c.batch * c.yStride)
  let previous = isn_threads()
  isn_set_threads(threads)
  defer { isn_set_threads(previous) }
  withOptionalPointer(d.bias) { bias in
    isn_winograd_conv2d(&g, d.x, c.xStride, u, bias, c.relu ? 1 : 0, &y, c.yStride, &ws, threads)
  }
  #expect(ws[wsCount...].allSatisfy { $0.bitPattern == sentinel.bitPattern }, "wrote past its workspace")
  return y
}

@Suite struct WinogradTests {
  @Test(arguments: winogradCases)
  func matchesReference(_ c: ConvCase) {
    let d = ConvData(c)
    let y = runWinograd(c, d)
    // F(4×4, 3×3) adds transforms summing up to 6 terms on each side of the products.
    expectClose(
      y, batch: c.batch, count: c.outCount, stride: c.yStride, referenceConv(c, d),
      magnitude: referenceConv(c, d.absolute),
      bound: Float32Bound.sum(terms: forwardTerms(c)) * (1 + 2 * 6.0.squareRoot()), "winograd")
    expectGapsUntouched(y, batch: c.batch, count: c.outCount, stride: c.yStride, "winograd")
  }

  @Test(arguments: winogradCases)
  func sameBitsForOneAndTwoThreads(_ c: ConvCase) {
    let d = ConvData(c)
    let one = runWinograd(c, d, threads: 1)
    let two = runWinograd(c, d, threads: 2)
    #expect(one.map(\.bitPattern) == two.map(\.bitPattern))
  }

  /// Whether this CPU runs the 16-lane products (`isn_wide_vectors`, its default).
  static let cpuHasWideVectors: Bool = {
    isn_set_wide_vectors(1)
    return isn_wide_vectors() == 1
  }()

  @Test(.serialized, .enabled(if: cpuHasWideVectors), arguments: winogradCases)
  func sameBitsForWideAndNarrowVectors(_ c: ConvCase) {
    let d = ConvData(c)
    let wide = runWinograd(c, d)
    isn_set_wide_vectors(0)
    #expect(isn_wide_vectors() == 0)
    let narrow = runWinograd(c, d)
    isn_set_wide_vectors(1)
    #expect(wide.map(\.bitPattern) == narrow.map(\.bitPattern))
  }

  @Test func refusesOtherGeometries() {
    for c in [ConvCase(sh: 2, sw: 2, label: ""), ConvCase(kh: 5, kw: 5, label: ""), ConvCase(cin: 4, cout: 6, groups: 2, label: ""), ConvCase(dh: 2, dw: 2, label: "")] {
      var g = c.geometry
      #expect(isn_winograd_supported(&g) == 0)
      #expect(isn_winograd_weight_size(&g) == 0)
    }
  }
}
