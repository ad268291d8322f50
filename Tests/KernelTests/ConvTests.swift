// isn_conv2d and isn_conv2d_transpose against naive float64 loops, the adjoint identity
// between them, and isn_conv2d_workspace.
import CKernels
import Testing
import TestSupport

@Suite struct ConvTests {
  @Test(arguments: convCases)
  func forwardMatchesReference(_ c: ConvCase) {
    let d = ConvData(c)
    let y = runConv(c, d)
    expectClose(
      y, batch: c.batch, count: c.outCount, stride: c.yStride, referenceConv(c, d),
      magnitude: referenceConv(c, d.absolute), bound: Float32Bound.sum(terms: forwardTerms(c)), "conv")
    expectGapsUntouched(y, batch: c.batch, count: c.outCount, stride: c.yStride, "conv")
  }

  @Test(arguments: convCases)
  func transposeMatchesReference(_ c: ConvCase) {
    let d = ConvData(c)
    let dx = runConvTranspose(c, d)
    expectClose(
      dx, batch: c.batch, count: c.inCount, stride: c.xStride, referenceConvTranspose(c, d),
      magnitude: referenceConvTranspose(c, d.absolute), bound: Float32Bound.sum(terms: transposeTerms(c)), "conv transpose")
    expectGapsUntouched(dx, batch: c.batch, count: c.inCount, stride: c.xStride, "conv transpose")
  }

  /// <conv(x), dy> = <x, conv_transpose(dy)>: the transposed kernel is the exact adjoint.
  @Test(arguments: convCases)
  func transposeIsAdjoint(_ c: ConvCase) {
    var c = c
    c.bias = false
    c.relu = false
    let d = ConvData(c, seed: 77)
    let y = runConv(c, d)
    let dx = runConvTranspose(c, d)
    var lhs = 0.0, rhs = 0.0, mag = 0.0
    for n in 0..<c.batch {
      for i in 0..<c.outCount {
        let t = Double(y[n * c.yStride + i]) * Double(d.dy[n * c.yStride + i])
        lhs += t
        mag += abs(t)
      }
      for i in 0..<c.inCount {
        rhs += Double(d.x[n * c.xStride + i]) * Double(dx[n * c.xStride + i])
      }
    }
    // Each side rounds its float32 sums (conv or its transpose) before the float64 dot.
    let bound = Float32Bound.sum(terms: max(forwardTerms(c), transposeTerms(c)))
    #expect(abs(lhs - rhs) <= 2 * bound * mag, "<conv(x), dy> = \(lhs), <x, convT(dy)> = \(rhs)")
  }

  /// Positions no window reaches (PyTorch's output_padding rows/columns) become zero.
  @Test func transposeZeroesUnreachedPositions() {
    let c = ConvCase(batch: 2, cin: 3, cout: 4, h: 10, w: 9, kh: 3, kw: 2, sh: 2, sw: 3, label: "")
    #expect(c.outH == 4 && c.outW == 3)
    let dx = runConvTranspose(c, ConvData(c))
    for n in 0..<c.batch {
      for ch in 0..<c.cin {
        let plane = n * c.xStride + ch * c.h * c.w
        for x in 0..<c.w { #expect(dx[plane + 9 * c.w + x] == 0) }  // row 9: beyond 3*2+2
        for y in 0..<c.h { #expect(dx[plane + y * c.w + 8] == 0) }  // column 8: beyond 2*3+1
      }
    }
  }

  /// The fused epilogue: with bias and ReLU the output is max(plain conv + bias[c], 0).
  @Test func biasAndReluEpilogue() {
    var c = ConvCase(ph: 1, pw: 1, label: "")
    c.bias = false
    var d = ConvData(c)
    let plain = runConv(c, d)
    c.bias = true
    c.relu = true
    d.bias = (0..<c.cout).map { Float($0) - 3 }
    let fused = runConv(c, d)
    let plane = c.outH * c.outW
    var worst: Float = 0, largest: Float = 0
    for n in 0..<c.batch {
      for i in 0..<c.outCount {
        let expected = max(plain[n * c.yStride + i] + Float(i / plane) - 3, 0)
        worst = max(worst, abs(fused[n * c.yStride + i] - expected))
        largest = max(largest, abs(expected))
      }
    }
    // The bias joins the same float32 sum at another point: the sum's bound for one more term.
    #expect(Double(worst) <= Float32Bound.sum(terms: forwardTerms(c)) * Double(largest))
  }

  @Test func workspaceSizes() {
    var direct = ConvCase(kh: 1, kw: 1, label: "").geometry
    #expect(isn_conv2d_workspace(&direct, 1) == 0)
    #expect(isn_conv2d_workspace(&direct, 8) == 0)
    var general = ConvCase(ph: 1, pw: 1, label: "").geometry
    let one = isn_conv2d_workspace(&general, 1)
    #expect(one > 0)
    #expect(isn_conv2d_workspace(&general, 2) == 2 * one)
    #expect(isn_conv2d_workspace(&general, 0) == one)
    // A 1x1 stride-2 convolution needs im2col.
    var strided = ConvCase(kh: 1, kw: 1, sh: 2, sw: 2, label: "").geometry
    #expect(isn_conv2d_workspace(&strided, 1) > 0)
    // Sizes past size_t (or OpenBLAS's int) cannot be served.
    var huge = ConvCase(cin: 1 << 30, kh: 1 << 15, kw: 1 << 15, label: "").geometry
    huge.out_h = 1
    huge.out_w = 1
    #expect(UInt(bitPattern: isn_conv2d_workspace(&huge, 2)) == UInt.max)  // SIZE_MAX
    var manyThreads = ConvCase(cin: 1 << 20, kh: 32, kw: 32, label: "").geometry
    manyThreads.out_h = 16  // 256 columns: 16-column tiles of 2^30 rows, 2^34 floats a thread
    manyThreads.out_w = 16
    #expect(UInt(bitPattern: isn_conv2d_workspace(&manyThreads, Int32.max)) == UInt.max)
    // DenseNet's 3x3 growth convolution stays within the L2-sized tile per thread.
    var dense = isn_conv_geometry(
      batch: 1, in_channels: 128, in_h: 28, in_w: 28, out_channels: 32, out_h: 28, out_w: 28,
      kernel_h: 3, kernel_w: 3, stride_h: 1, stride_w: 1, pad_h: 1, pad_w: 1, dilation_h: 1,
      dilation_w: 1, groups: 1)
    #expect(isn_conv2d_workspace(&dense, 1) <= isn_im2col_budget() + 1152 * 8)
  }

  /// A session plans its workspace for its largest batch and then runs smaller ones; a
  /// smaller batch splits the work into other blocks, so the size must cover them all.
  /// (DenseNet's first layer, transposed over samples × 3 classes, once overflowed here.)
  @Test func workspaceCoversSmallerBatches() {
    var planned = isn_conv_geometry(
      batch: 6, in_channels: 3, in_h: 64, in_w: 64, out_channels: 16, out_h: 32, out_w: 32,
      kernel_h: 7, kernel_w: 7, stride_h: 2, stride_w: 2, pad_h: 3, pad_w: 3, dilation_h: 1,
      dilation_w: 1, groups: 1)
    let count = isn_conv2d_workspace(&planned, Int32(workspaceThreads))
    let dy = [Float](repeating: 0.5, count: 6 * 16 * 32 * 32)
    let weight = [Float](repeating: 0.25, count: 16 * 3 * 7 * 7)
    for batch in 1...6 {
      var g = planned
      g.batch = Int32(batch)
      var ws = [Float](repeating: sentinel, count: count + 64)
      var dx = [Float](repeating: 0, count: 6 * 3 * 64 * 64)
      isn_conv2d_transpose(&g, dy, 16 * 32 * 32, weight, &dx, 3 * 64 * 64, &ws, Int32(workspaceThreads))
      #expect(ws[count...].allSatisfy { $0.bitPattern == sentinel.bitPattern }, "batch \(batch) wrote past the workspace planned for 6")
    }
  }
}
