import CKernels
import Testing
import TestSupport

/// The ε-rule kernels with one ε per sample (`sample_eps`): each sample's rows are, bit for
/// bit, what the kernel computes for that sample alone with its ε as the scalar, so a wrong
/// sample index shows at once; with NULL the scalar ε serves every sample.
@Suite struct LRPEpsilonKernelTests {
  static let (batch, classes, channels, plane) = (3, 2, 4, 5)
  static let epsilons: [Float] = [0.01, 0.5, 3]

  /// z with values near zero of both signs, so that ±ε matters.
  static func preactivations(seed: UInt64) -> [Float] {
    var rng = TestRandom(seed: seed)
    return (0..<(batch * channels * plane)).map { _ in rng.float() * 0.1 }
  }

  @Test func epsilonDivideTakesEachSamplesEpsilon() {
    let count = Self.channels * Self.plane
    var rng = TestRandom(seed: 1)
    let r = rng.floats(Self.batch * Self.classes * count)
    let z = Self.preactivations(seed: 2)
    var perSample = [Float](repeating: 0, count: r.count)
    isn_lrp_epsilon_divide(r, Self.classes * count, z, count, Int32(Self.batch), Int32(Self.classes), count, 1e6, Self.epsilons, &perSample, Self.classes * count)
    for b in 0..<Self.batch {
      var alone = [Float](repeating: 0, count: Self.classes * count)
      let rows = Array(r[(b * Self.classes * count)..<((b + 1) * Self.classes * count)])
      let zs = Array(z[(b * count)..<((b + 1) * count)])
      isn_lrp_epsilon_divide(rows, 0, zs, 0, 1, Int32(Self.classes), count, Self.epsilons[b], nil, &alone, 0)
      #expect(bitwiseDifferences(Array(perSample[(b * Self.classes * count)..<((b + 1) * Self.classes * count)]), alone) == 0, "sample \(b)")
    }
  }

  @Test(arguments: [false, true]) func fusedRatioTakesEachSamplesEpsilon(withScaleAndAddend: Bool) {
    let count = Self.channels * Self.plane
    let relevanceCount = Self.batch * Self.classes * count
    var rng = TestRandom(seed: 3)
    let a = rng.floats(Self.batch * count), c = rng.floats(relevanceCount)
    let scale = withScaleAndAddend ? rng.floats(Self.channels) : nil
    let addend = withScaleAndAddend ? rng.floats(relevanceCount) : nil
    let z = Self.preactivations(seed: 4)
    func run(_ samples: Int, from b: Int, eps: Float, sampleEps: [Float]?) -> [Float] {
      var out = [Float](repeating: 0, count: samples * Self.classes * count)
      let aSlice = Array(a[(b * count)...]), zSlice = Array(z[(b * count)...]), cSlice = Array(c[(b * Self.classes * count)...])
      let addendSlice = addend.map { Array($0[(b * Self.classes * count)...]) }
      isn_lrp_fused_ratio(
        aSlice, count, cSlice, Self.classes * count, zSlice, count, scale, addendSlice, Self.classes * count, count, Int32(samples),
        Int32(Self.classes), Int32(Self.channels), Self.plane, eps, sampleEps, &out, Self.classes * count)
      return out
    }
    let perSample = run(Self.batch, from: 0, eps: 1e6, sampleEps: Self.epsilons)
    for b in 0..<Self.batch {
      let alone = run(1, from: b, eps: Self.epsilons[b], sampleEps: nil)
      #expect(bitwiseDifferences(Array(perSample[(b * Self.classes * count)..<((b + 1) * Self.classes * count)]), alone) == 0, "sample \(b)")
    }
  }

  @Test func epsilonDivideBackwardTakesEachSamplesEpsilon() {
    let count = Self.channels * Self.plane
    let relevanceCount = Self.batch * Self.classes * count
    var rng = TestRandom(seed: 5)
    let g = rng.floats(relevanceCount), out = rng.floats(relevanceCount)
    let z = Self.preactivations(seed: 6)
    var dr = [Float](repeating: 0, count: relevanceCount), dz = [Float](repeating: 0, count: Self.batch * count)
    isn_lrp_epsilon_divide_backward(g, out, z, Int32(Self.batch), Int32(Self.classes), count, 1e6, Self.epsilons, 0, 0, &dr, &dz)
    for b in 0..<Self.batch {
      let rows = (b * Self.classes * count)..<((b + 1) * Self.classes * count)
      let zRange = (b * count)..<((b + 1) * count)
      // Assigned into storage that held other data: the bits of zeroing, then adding.
      var drAlone = [Float](repeating: .nan, count: Self.classes * count), dzAlone = [Float](repeating: .nan, count: count)
      isn_lrp_epsilon_divide_backward(
        Array(g[rows]), Array(out[rows]), Array(z[zRange]), 1, Int32(Self.classes), count, Self.epsilons[b], nil, 1, 1, &drAlone, &dzAlone)
      #expect(bitwiseDifferences(Array(dr[rows]), drAlone) == 0, "dr of sample \(b)")
      #expect(bitwiseDifferences(Array(dz[zRange]), dzAlone) == 0, "dz of sample \(b)")
    }
  }

  /// The product's backward assigning into storage that held other data gives the bits of
  /// zeroing and adding: dc row by row, da summed over the classes from class 0's term.
  @Test func multiplyBackwardAssignsTheBitsOfZeroingAndAdding() {
    let count = Self.channels * Self.plane
    let relevanceCount = Self.batch * Self.classes * count
    var rng = TestRandom(seed: 7)
    let g = rng.floats(relevanceCount), c = rng.floats(relevanceCount), a = rng.floats(Self.batch * count)
    var da = [Float](repeating: 0, count: Self.batch * count), dc = [Float](repeating: 0, count: relevanceCount)
    isn_lrp_multiply_backward(g, a, c, Int32(Self.batch), Int32(Self.classes), count, 0, 0, &da, &dc)
    var daAssigned = [Float](repeating: .nan, count: Self.batch * count), dcAssigned = [Float](repeating: .nan, count: relevanceCount)
    isn_lrp_multiply_backward(g, a, c, Int32(Self.batch), Int32(Self.classes), count, 1, 1, &daAssigned, &dcAssigned)
    #expect(bitwiseDifferences(da, daAssigned) == 0)
    #expect(bitwiseDifferences(dc, dcAssigned) == 0)
    var scaled = [Float](repeating: 0, count: relevanceCount), scaledAssigned = [Float](repeating: .nan, count: relevanceCount)
    let scale = rng.floats(Self.channels)
    isn_channel_scale_add(g, Int32(Self.batch * Self.classes), Int32(Self.channels), Self.plane, scale, 0, &scaled)
    isn_channel_scale_add(g, Int32(Self.batch * Self.classes), Int32(Self.channels), Self.plane, scale, 1, &scaledAssigned)
    #expect(bitwiseDifferences(scaled, scaledAssigned) == 0)
  }

  /// Where the reverse needs both operands' adjoints it computes them in one pass: each
  /// output has the bits of its own pass, one assigned and the other added onto what it
  /// held, either way round.
  @Test func bothOperandsInOnePassGiveTheBitsOfOnePassEach() {
    let count = Self.channels * Self.plane
    let relevanceCount = Self.batch * Self.classes * count
    var rng = TestRandom(seed: 11)
    let g = rng.floats(relevanceCount), wide = rng.floats(relevanceCount), narrow = rng.floats(Self.batch * count)
    let z = Self.preactivations(seed: 12)
    let heldWide = rng.floats(relevanceCount), heldNarrow = rng.floats(Self.batch * count)
    for (assignWide, assignNarrow) in [(Int32(1), Int32(0)), (0, 1)] {
      // Storage that held other data: NaN where the output is assigned, values to add onto.
      func start(_ held: [Float], _ assign: Int32) -> [Float] { assign == 1 ? [Float](repeating: .nan, count: held.count) : held }
      var dr = start(heldWide, assignWide), dz = start(heldNarrow, assignNarrow)
      isn_lrp_epsilon_divide_backward(
        g, wide, z, Int32(Self.batch), Int32(Self.classes), count, 1e6, Self.epsilons, assignWide, assignNarrow, &dr, &dz)
      var drAlone = start(heldWide, assignWide), dzAlone = start(heldNarrow, assignNarrow)
      isn_lrp_epsilon_divide_backward(g, wide, z, Int32(Self.batch), Int32(Self.classes), count, 1e6, Self.epsilons, assignWide, 0, &drAlone, nil)
      isn_lrp_epsilon_divide_backward(g, wide, z, Int32(Self.batch), Int32(Self.classes), count, 1e6, Self.epsilons, 0, assignNarrow, nil, &dzAlone)
      #expect(bitwiseDifferences(dr, drAlone) == 0 && bitwiseDifferences(dz, dzAlone) == 0)
      #expect(!dr.contains { $0.isNaN } && !dz.contains { $0.isNaN })

      var da = start(heldNarrow, assignNarrow), dc = start(heldWide, assignWide)
      isn_lrp_multiply_backward(g, narrow, wide, Int32(Self.batch), Int32(Self.classes), count, assignNarrow, assignWide, &da, &dc)
      var daAlone = start(heldNarrow, assignNarrow), dcAlone = start(heldWide, assignWide)
      isn_lrp_multiply_backward(g, narrow, wide, Int32(Self.batch), Int32(Self.classes), count, assignNarrow, 0, &daAlone, nil)
      isn_lrp_multiply_backward(g, narrow, wide, Int32(Self.batch), Int32(Self.classes), count, 0, assignWide, nil, &dcAlone)
      #expect(bitwiseDifferences(da, daAlone) == 0 && bitwiseDifferences(dc, dcAlone) == 0)
      #expect(!da.contains { $0.isNaN } && !dc.contains { $0.isNaN })
    }
  }
}
