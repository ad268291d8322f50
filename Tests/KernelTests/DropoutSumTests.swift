// Dropout (keep rate, scaling, mask, reproducibility) and isn_sum against float64 sums.
import CKernels
import Testing
import TestSupport

func runDropout(batch: Int, count: Int, stride: Int, p: Float, seed: UInt64, x: [Float])
  -> (y: [Float], mask: [UInt8])
{
  var y = [Float](repeating: sentinel, count: batch * stride)
  var mask = [UInt8](repeating: 9, count: batch * count)
  isn_dropout(x, stride, Int32(batch), count, p, seed, &y, stride, &mask)
  return (y, mask)
}

@Suite struct DropoutTests {
  @Test(arguments: [Float(0.1), 0.3, 0.5, 0.9])
  func keepsOneMinusPAndScales(_ p: Float) {
    let batch = 3, count = 40_000, stride = count + 3
    let x = stridedRandom(batch: batch, count: count, stride: stride, seed: 31)
    let (y, mask) = runDropout(batch: batch, count: count, stride: stride, p: p, seed: 42, x: x)
    let kept = mask.reduce(0) { $0 + Int($1) }
    let fraction = Double(kept) / Double(batch * count)
    // 5 standard deviations of a binomial proportion.
    let sigma = (Double(1 - p) * Double(p) / Double(batch * count)).squareRoot()
    #expect(abs(fraction - Double(1 - p)) <= 5 * sigma, "kept \(fraction), expected \(1 - p)")
    #expect(mask.allSatisfy { $0 <= 1 })
    let scale = 1 / (1 - p)
    var bad = 0
    for n in 0..<batch {
      for i in 0..<count {
        let expected: Float = mask[n * count + i] == 1 ? x[n * stride + i] * scale : 0
        // x·(1/(1 − p)) or x/(1 − p): at most two float32 roundings apart, 2u relative.
        if Double(abs(y[n * stride + i] - expected)) > 2 * Float32Bound.unitRoundoff * Double(abs(expected)) { bad += 1 }
      }
    }
    #expect(bad == 0)
    expectGapsUntouched(y, batch: batch, count: count, stride: stride)
    // Each sample gets its own mask.
    #expect(mask[0..<count] != mask[count..<(2 * count)])
  }

  @Test func reproducibleForASeed() {
    let batch = 2, count = 5000
    let x = stridedRandom(batch: batch, count: count, stride: count, seed: 32)
    let a = runDropout(batch: batch, count: count, stride: count, p: 0.5, seed: 7, x: x)
    let b = runDropout(batch: batch, count: count, stride: count, p: 0.5, seed: 7, x: x)
    let c = runDropout(batch: batch, count: count, stride: count, p: 0.5, seed: 8, x: x)
    #expect(bits(a.y) == bits(b.y) && a.mask == b.mask)
    #expect(a.mask != c.mask)
    // The mask is a function of (seed, sample, index): a shorter run is its prefix.
    let short = stridedRandom(batch: batch, count: 100, stride: 100, seed: 33)
    let s = runDropout(batch: batch, count: 100, stride: 100, p: 0.5, seed: 7, x: short)
    #expect(Array(s.mask[0..<100]) == Array(a.mask[0..<100]))
    #expect(Array(s.mask[100..<200]) == Array(a.mask[count..<(count + 100)]))
  }

  @Test func extremeProbabilities() {
    let count = 1000
    let x = stridedRandom(batch: 1, count: count, stride: count, seed: 34)
    let keepAll = runDropout(batch: 1, count: count, stride: count, p: 0, seed: 1, x: x)
    #expect(bits(keepAll.y) == bits(x) && keepAll.mask.allSatisfy { $0 == 1 })
    let dropAll = runDropout(batch: 1, count: count, stride: count, p: 1, seed: 1, x: x)
    #expect(dropAll.y.allSatisfy { $0 == 0 } && dropAll.mask.allSatisfy { $0 == 0 })
    // The mask is optional.
    var y = [Float](repeating: 0, count: count)
    isn_dropout(x, count, 1, count, 0.5, 1, &y, count, nil)
    let withMask = runDropout(batch: 1, count: count, stride: count, p: 0.5, seed: 1, x: x)
    #expect(bits(y) == bits(withMask.y))
  }
}

@Suite struct SumTests {
  @Test(arguments: [(1, 1), (3, 7), (3, 100_003), (700, 5_000)])
  func matchesFloat64(_ shape: (Int, Int)) {
    let (batch, count) = shape
    let stride = count + 5
    let x = stridedRandom(batch: batch, count: count, stride: stride, seed: 35)
    var expected = 0.0
    for n in 0..<batch { for i in 0..<count { expected += Double(x[n * stride + i]) } }
    let s = isn_sum(x, stride, Int32(batch), count)
    // A float64 sum of n terms (u = 2⁻⁵³ for float64): λ·√n·u of Σ|x|.
    let magnitude = (0..<batch).reduce(0.0) { t, n in t + (0..<count).reduce(0.0) { $0 + abs(Double(x[n * stride + $1])) } }
    #expect(abs(s - expected) <= Float32Bound.confidence * Double(batch * count).squareRoot() * 0x1p-53 * magnitude)
    #expect(isn_sum(x, stride, Int32(batch), count).bitPattern == s.bitPattern)
  }

  @Test func emptyIsZero() {
    let x: [Float] = [1]
    #expect(isn_sum(x, 1, 0, 1) == 0)
    #expect(isn_sum(x, 1, 1, 0) == 0)
  }
}
