// ReLU, add, copy, the channel affine map, channel moments and the linear layer against
// naive loops, on strided batches (gaps must survive) and in place where allowed.
import CKernels
import Testing
import TestSupport

@Suite struct ElementwiseTests {
  // Counts below and above the kernels' parallel threshold and chunk size.
  static let counts = [1, 7, 1000, 40_013]

  @Test(arguments: counts)
  func relu(_ count: Int) {
    let batch = 3, xs = count + 5, ys = count + 3
    let x = stridedRandom(batch: batch, count: count, stride: xs, seed: 21)
    var y = [Float](repeating: sentinel, count: batch * ys)
    isn_relu(x, xs, Int32(batch), count, &y, ys)
    let expected = (0..<batch).flatMap { n in (0..<count).map { Double(max(x[n * xs + $0], 0)) } }
    expectClose(y, batch: batch, count: count, stride: ys, expected, bound: 0)
    expectGapsUntouched(y, batch: batch, count: count, stride: ys)
    // In place.
    var z = x
    z.withUnsafeMutableBufferPointer { p in isn_relu(p.baseAddress, xs, Int32(batch), count, p.baseAddress, xs) }
    expectClose(z, batch: batch, count: count, stride: xs, expected, bound: 0)
    expectGapsUntouched(z, batch: batch, count: count, stride: xs)
  }

  @Test(arguments: counts, [false, true])
  func add(_ count: Int, relu: Bool) {
    let batch = 3, aS = count + 2, bS = count, yS = count + 9
    let a = stridedRandom(batch: batch, count: count, stride: aS, seed: 22)
    let b = stridedRandom(batch: batch, count: count, stride: bS, seed: 23)
    var y = [Float](repeating: sentinel, count: batch * yS)
    isn_add(a, aS, b, bS, Int32(batch), count, relu ? 1 : 0, &y, yS)
    let expected = (0..<batch).flatMap { n in
      (0..<count).map { i in
        let s = Double(a[n * aS + i] + b[n * bS + i])
        return relu ? max(s, 0) : s
      }
    }
    expectClose(y, batch: batch, count: count, stride: yS, expected, bound: 0)
    expectGapsUntouched(y, batch: batch, count: count, stride: yS)
    // In place into a.
    var z = a
    z.withUnsafeMutableBufferPointer { p in
      isn_add(p.baseAddress, aS, b, bS, Int32(batch), count, relu ? 1 : 0, p.baseAddress, aS)
    }
    expectClose(z, batch: batch, count: count, stride: aS, expected, bound: 0)
  }

  @Test(arguments: counts)
  func copy(_ count: Int) {
    let batch = 3, xs = count + 1, ys = 2 * count + 4  // y: a channel slice of a concatenation
    let x = stridedRandom(batch: batch, count: count, stride: xs, seed: 24)
    var y = [Float](repeating: sentinel, count: batch * ys)
    isn_copy(x, xs, Int32(batch), count, &y, ys)
    for n in 0..<batch {
      #expect(bits(Array(y[(n * ys)..<(n * ys + count)])) == bits(Array(x[(n * xs)..<(n * xs + count)])))
    }
    expectGapsUntouched(y, batch: batch, count: count, stride: ys)
  }

  @Test(arguments: [(5, 99), (7, 1), (3, 20_000)], [false, true])
  func channelAffine(_ shape: (Int, Int), relu: Bool) {
    let (channels, spatial) = shape
    let batch = 3, count = channels * spatial, xs = count + 4, ys = count + 11
    let x = stridedRandom(batch: batch, count: count, stride: xs, seed: 25)
    var rng = TestRandom(seed: 26)
    let scale = rng.floats(channels), shift = rng.floats(channels)
    var y = [Float](repeating: sentinel, count: batch * ys)
    isn_channel_affine(x, xs, Int32(batch), Int32(channels), spatial, scale, shift, relu ? 1 : 0, &y, ys)
    let expected = (0..<batch).flatMap { n in
      (0..<count).map { i in
        let c = i / spatial
        let v = Double(x[n * xs + i]) * Double(scale[c]) + Double(shift[c])
        return relu ? max(v, 0) : v
      }
    }
    let magnitude = (0..<batch).flatMap { n in
      (0..<count).map { i in abs(Double(x[n * xs + i]) * Double(scale[i / spatial])) + abs(Double(shift[i / spatial])) }
    }
    let bound = Float32Bound.sum(terms: 2)  // x·scale + shift
    expectClose(y, batch: batch, count: count, stride: ys, expected, magnitude: magnitude, bound: bound)
    expectGapsUntouched(y, batch: batch, count: count, stride: ys)
    var z = x
    z.withUnsafeMutableBufferPointer { p in
      isn_channel_affine(p.baseAddress, xs, Int32(batch), Int32(channels), spatial, scale, shift, relu ? 1 : 0, p.baseAddress, xs)
    }
    expectClose(z, batch: batch, count: count, stride: xs, expected, magnitude: magnitude, bound: bound)
    expectGapsUntouched(z, batch: batch, count: count, stride: xs)
  }

  @Test(arguments: [(5, 99), (7, 1), (2, 30_000)])
  func channelMoments(_ shape: (Int, Int)) {
    let (channels, spatial) = shape
    let batch = 3, count = channels * spatial, xs = count + 4
    var x = stridedRandom(batch: batch, count: count, stride: xs, seed: 27)
    for i in x.indices where x[i] != sentinel { x[i] = x[i] * 2 + 100 }  // large mean
    var mean = [Float](repeating: 0, count: channels), variance = mean
    isn_channel_moments(x, xs, Int32(batch), Int32(channels), spatial, &mean, &variance)
    for c in 0..<channels {
      var vals: [Double] = []
      for n in 0..<batch { for i in 0..<spatial { vals.append(Double(x[n * xs + c * spatial + i])) } }
      let m = vals.reduce(0, +) / Double(vals.count)
      let v = vals.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(vals.count)
      // A sum of n positive values; the variance's mean error enters squared (Σ(x − m) = 0).
      let meanBound = Float32Bound.sum(terms: vals.count) * vals.map(abs).reduce(0, +) / Double(vals.count)
      #expect(abs(Double(mean[c]) - m) <= meanBound)
      #expect(abs(Double(variance[c]) - v) <= Float32Bound.sum(terms: vals.count) * v + meanBound * meanBound)
    }
  }

  @Test(arguments: [(1, 1024, 300), (3, 37, 5), (5, 100, 129)], [false, true])
  func linear(_ shape: (Int, Int, Int), relu: Bool) {
    let (batch, inF, outF) = shape
    let xs = inF + 3, ys = outF + 2
    let x = stridedRandom(batch: batch, count: inF, stride: xs, seed: 28)
    var rng = TestRandom(seed: 29)
    let w = rng.floats(outF * inF)
    for withBias in [false, true] {
      let bias: [Float]? = withBias ? rng.floats(outF) : nil
      var y = [Float](repeating: sentinel, count: batch * ys)
      withOptionalPointer(bias) { b in
        isn_linear(x, xs, Int32(batch), Int32(inF), w, b, Int32(outF), relu ? 1 : 0, &y, ys)
      }
      var expected: [Double] = [], magnitude: [Double] = []
      for n in 0..<batch {
        for o in 0..<outF {
          var s = bias.map { Double($0[o]) } ?? 0
          var m = abs(s)
          for i in 0..<inF {
            s += Double(x[n * xs + i]) * Double(w[o * inF + i])
            m += abs(Double(x[n * xs + i]) * Double(w[o * inF + i]))
          }
          expected.append(relu ? max(s, 0) : s)
          magnitude.append(m)
        }
      }
      expectClose(
        y, batch: batch, count: outF, stride: ys, expected, magnitude: magnitude,
        bound: Float32Bound.sum(terms: inF + 1), "linear bias \(withBias)")
      expectGapsUntouched(y, batch: batch, count: outF, stride: ys)
    }
  }
}
