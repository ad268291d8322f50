// Same inputs, 1 or 2 threads: every kernel must return the same bits.
//
// The suite that switches isn_set_threads (a process-wide setting); `.serialized` keeps
// its tests from interleaving. Other suites may run meanwhile at either count, which is
// harmless to them: a kernel never runs more threads than its workspace was sized for.
import CKernels
import Foundation
import Testing

/// Runs `body` with 1 thread, then 2, then 2 again, restoring the previous count; returns
/// the three results.
func atThreadCounts<T>(_ body: () -> T) -> [T] {
  let saved = isn_threads()
  defer { isn_set_threads(saved) }
  return [Int32(1), 2, 2].map { t in
    isn_set_threads(t)
    return body()
  }
}

@Suite(.serialized) struct ThreadDeterminismTests {
  @Test(arguments: convCases)
  func convSameBitsForOneAndTwoThreads(_ c: ConvCase) {
    let d = ConvData(c, seed: 5)
    let ys = atThreadCounts { runConv(c, d) }
    #expect(bits(ys[0]) == bits(ys[1]))
    #expect(bits(ys[1]) == bits(ys[2]))
    let dxs = atThreadCounts { runConvTranspose(c, d) }
    #expect(bits(dxs[0]) == bits(dxs[1]))
    #expect(bits(dxs[1]) == bits(dxs[2]))
  }

  @Test func poolingSameBits() {
    let p = PoolCase(batch: 4, channels: 64, h: 56, w: 56)
    let x = stridedRandom(batch: p.batch, count: p.inCount, stride: p.xStride, seed: 51)
    let runs = atThreadCounts { () -> ([Float], [Int32], [Float]) in
      let (y, arg) = runMaxPool(p, x)
      var dx = [Float](repeating: 0, count: p.batch * p.inCount)
      isn_max_unpool2d_sum(
        y, p.yStride, arg, Int32(p.batch), Int32(p.channels), Int32(p.h), Int32(p.w),
        Int32(p.outH), Int32(p.outW), &dx, p.inCount)
      return (y, arg, dx)
    }
    #expect(bits(runs[0].0) == bits(runs[1].0) && runs[0].1 == runs[1].1)
    #expect(bits(runs[0].2) == bits(runs[1].2))
  }

  @Test func momentsAndLinearSameBits() {
    let batch = 4, channels = 16, spatial = 3000, count = channels * spatial
    let x = stridedRandom(batch: batch, count: count, stride: count, seed: 52)
    let moments = atThreadCounts { () -> [Float] in
      var mean = [Float](repeating: 0, count: channels), variance = mean
      isn_channel_moments(x, count, Int32(batch), Int32(channels), spatial, &mean, &variance)
      return mean + variance
    }
    #expect(bits(moments[0]) == bits(moments[1]))
    var rng = TestRandom(seed: 53)
    let w = rng.floats(1000 * 1024), b = rng.floats(1000)
    let lin = atThreadCounts { () -> [Float] in
      var y = [Float](repeating: 0, count: 3 * 1000)
      isn_linear(x, 1024, 3, 1024, w, b, 1000, 0, &y, 1000)
      return y
    }
    #expect(bits(lin[0]) == bits(lin[1]))
  }

  /// A training batch norm's backward sums and input adjoint, and the Winograd weight
  /// transform a training step runs before each use (both parallel over channels).
  @Test func batchNormBackwardAndWinogradWeightsSameBits() {
    let batch = 4, channels = 16, spatial = 3001, count = channels * spatial
    let x = stridedRandom(batch: batch, count: count, stride: count, seed: 56)
    let dy = stridedRandom(batch: batch, count: count, stride: count, seed: 57)
    var rng = TestRandom(seed: 58)
    let mean = rng.floats(channels), inverseStd = rng.floats(channels).map { 1 + abs($0) }, gamma = rng.floats(channels)
    let backward = atThreadCounts { () -> [Double] in
      var sumDy = [Double](repeating: 0, count: channels), sumDyx = sumDy
      isn_batchnorm_sums(x, dy, Int32(batch), Int32(channels), spatial, mean, inverseStd, &sumDy, &sumDyx)
      var dx = [Float](repeating: 0, count: batch * count)
      isn_batchnorm_input_adjoint(x, dy, Int32(batch), Int32(channels), spatial, mean, inverseStd, gamma, sumDy, sumDyx, 1, &dx)
      return sumDy + sumDyx + dx.map(Double.init)
    }
    #expect(backward[0].map(\.bitPattern) == backward[1].map(\.bitPattern))
    var g = isn_conv_geometry(
      batch: 2, in_channels: 67, in_h: 9, in_w: 9, out_channels: 37, out_h: 9, out_w: 9,
      kernel_h: 3, kernel_w: 3, stride_h: 1, stride_w: 1, pad_h: 1, pad_w: 1, dilation_h: 1,
      dilation_w: 1, groups: 1)
    let weight = rng.floats(37 * 67 * 9)
    let transformed = atThreadCounts { () -> [Float] in
      var u = [Float](repeating: .nan, count: isn_winograd_weight_size(&g))
      isn_winograd_weights(&g, weight, &u)
      return u
    }
    #expect(bits(transformed[0]) == bits(transformed[1]))
    #expect(bits(transformed[1]) == bits(transformed[2]))
  }

  @Test func dropoutMaskIndependentOfThreads() {
    let batch = 3, count = 50_001
    let x = stridedRandom(batch: batch, count: count, stride: count, seed: 54)
    let runs = atThreadCounts { runDropout(batch: batch, count: count, stride: count, p: 0.4, seed: 99, x: x) }
    #expect(runs[0].mask == runs[1].mask)
    #expect(bits(runs[0].y) == bits(runs[1].y))
  }

  @Test func sumSameBits() {
    let batch = 5, count = 300_007, stride = count + 1
    let x = stridedRandom(batch: batch, count: count, stride: stride, seed: 55)
    let sums = atThreadCounts { isn_sum(x, stride, Int32(batch), count) }
    #expect(sums[0].bitPattern == sums[1].bitPattern)
    #expect(sums[1].bitPattern == sums[2].bitPattern)
  }

  /// A session sizes its workspace for its own thread count while another session may set
  /// the process-wide count higher; the kernels then stay within the workspace they got.
  @Test func workspaceForOneThreadHoldsWhenTheProcessRunsTwo() {
    var g = isn_conv_geometry(
      batch: 4, in_channels: 8, in_h: 32, in_w: 32, out_channels: 16, out_h: 16, out_w: 16,
      kernel_h: 3, kernel_w: 3, stride_h: 2, stride_w: 2, pad_h: 1, pad_w: 1, dilation_h: 1,
      dilation_w: 1, groups: 1)
    let count = isn_conv2d_workspace(&g, 1)
    let x = [Float](repeating: 0.5, count: 4 * 8 * 32 * 32)
    let weight = [Float](repeating: 0.25, count: 16 * 8 * 3 * 3)
    let previous = isn_threads()
    isn_set_threads(2)
    defer { isn_set_threads(previous) }
    var ws = [Float](repeating: sentinel, count: count + 64)
    var y = [Float](repeating: 0, count: 4 * 16 * 16 * 16)
    isn_conv2d(&g, x, 8 * 32 * 32, weight, nil, 0, &y, 16 * 16 * 16, &ws, 1)
    #expect(ws[count...].allSatisfy { $0.bitPattern == sentinel.bitPattern }, "conv ran more threads than its workspace holds")
    var dx = [Float](repeating: 0, count: 4 * 8 * 32 * 32)
    ws = [Float](repeating: sentinel, count: count + 64)
    isn_conv2d_transpose(&g, y, 16 * 16 * 16, weight, &dx, 8 * 32 * 32, &ws, 1)
    #expect(ws[count...].allSatisfy { $0.bitPattern == sentinel.bitPattern }, "transposed conv ran more threads than its workspace holds")
  }

  @Test func settingThreads() {
    let saved = isn_threads()
    defer { isn_set_threads(saved) }
    isn_set_threads(2)
    #expect(isn_threads() == 2)
    isn_set_threads(0)  // clamped
    #expect(isn_threads() == 1)
  }
}

/// The OpenBLAS kernel family in use, and, when `scripts/test-portability` forces one, that
/// it took effect (OPENBLAS_CORETYPE is ignored by a build without dynamic architecture).
@Test func blasKernelFamilyIsTheOneRequested() {
  let core = String(cString: isn_blas_core())
  print("OpenBLAS kernels: \(core)")
  if let expected = ProcessInfo.processInfo.environment["ISNETC_EXPECT_BLAS_CORE"] {
    #expect(core.lowercased() == expected.lowercased())
  }
}
