import SeededRandom
import Testing

@testable import Datasets

/// The faces benchmark: same seed same bytes; attributes independent and balanced; the
/// attributes drawn on the head only; the test splits paired, their cues outside the mask
/// only; each cue showing its attribute's value, the opposite one in test-swapped.
@Suite struct SyntheticFacesTests {
  let faces = SyntheticFaces(resolution: 64)
  let plane = 64 * 64

  @Test func sameSeedSameBytesAndInRange() {
    for seed: UInt64 in [0, 7, 1 << 40] {
      let a = faces.sample(bias: .matching, seed: seed)
      let b = faces.sample(bias: .matching, seed: seed)
      #expect(a.image.map(\.bitPattern) == b.image.map(\.bitPattern) && a.mask == b.mask && a.attributes == b.attributes)
      #expect(faces.sample(bias: .matching, seed: seed + 1).image != a.image)
      #expect(a.image.count == 3 * plane && a.mask.count == plane && a.attributes.count == 4)
      #expect(a.image.allSatisfy { $0 >= 0 && $0 <= 1 })
      #expect(a.mask.allSatisfy { $0 == 0 || $0 == 1 })
      let share = a.mask.reduce(0, +) / Float(plane)
      #expect(share > 0.08 && share < 0.45, "mask share \(share)")
      #expect(a.labels == a.attributes.indices.filter { a.attributes[$0] })
    }
  }

  /// Over 2000 images each attribute is present about half the time and each pair about a
  /// quarter of the time (independent draws).
  @Test func attributesAreBalancedAndIndependent() {
    let samples = (0..<2000).map { faces.attributes(seed: SyntheticChest.seed(dataset: 0, stream: 0, index: $0)) }
    for i in 0..<5 {
      let seed = SyntheticChest.seed(dataset: 0, stream: 0, index: i)
      #expect(faces.sample(bias: .matching, seed: seed).attributes == faces.attributes(seed: seed))
    }
    for k in 0..<4 {
      let share = Double(samples.filter { $0[k] }.count) / 2000
      #expect(abs(share - 0.5) < 0.04, "attribute \(k): \(share)")
      for j in (k + 1)..<4 {
        let both = Double(samples.filter { $0[k] && $0[j] }.count) / 2000
        #expect(abs(both - 0.25) < 0.04, "attributes \(k) and \(j): \(both)")
      }
    }
  }

  /// An attribute changes pixels on the head only: the same seed with one attribute
  /// flipped differs inside the mask (the hat's own pixels included), never outside it
  /// except where the hat itself adds to the mask.
  @Test func attributesAreDrawnOnTheHeadOnly() {
    for seed: UInt64 in [1, 2, 3, 4] {
      let clean = faces.sample(bias: .none, seed: seed)
      for k in 0..<4 {
        var flipped = clean.attributes
        flipped[k].toggle()
        let other = faces.sample(seed: seed, attributes: flipped) { _ in nil }
        #expect(other.attributes == flipped)
        let changed = (0..<(3 * plane)).filter { other.image[$0] != clean.image[$0] }
        #expect(changed.count > 10, "attribute \(k) changes \(changed.count) values")
        #expect(changed.allSatisfy { clean.mask[$0 % plane] == 1 || other.mask[$0 % plane] == 1 })
        if k != 2 { #expect(other.mask == clean.mask) }
      }
    }
  }

  /// Biased, clean and swapped images of one seed have the same attributes and mask and
  /// differ only outside the mask.
  @Test func testSplitsArePairedAndTheCuesAreOutsideTheMask() {
    for seed: UInt64 in [1, 2, 3, 11, 12] {
      let clean = faces.sample(bias: .none, seed: seed)
      for bias in [SyntheticChest.Shapes.matching, .swapped] {
        let biased = faces.sample(bias: bias, seed: seed)
        #expect(biased.mask == clean.mask && biased.attributes == clean.attributes)
        let changed = (0..<(3 * plane)).filter { biased.image[$0] != clean.image[$0] }
        let background = clean.mask.filter { $0 == 0 }.count
        #expect(changed.count > 2 * background, "the cues change \(changed.count) values")
        #expect(changed.allSatisfy { clean.mask[$0 % plane] == 0 })
      }
    }
  }

  /// At cue strength 0 every split is drawn as test-clean is: a reference without the bias.
  @Test func cueStrengthZeroDrawsNoCues() {
    let unbiased = SyntheticFaces(resolution: 64, cueStrength: 0)
    for seed: UInt64 in [1, 2] {
      let clean = faces.sample(bias: .none, seed: seed)
      for bias in SyntheticChest.Shapes.allCases { #expect(unbiased.sample(bias: bias, seed: seed) == clean) }
    }
  }

  /// Each cue on a flat gray image with no mask: the tint's hue, the stripes' direction,
  /// the badges' shapes follow their values.
  @Test func eachCueShowsItsValue() {
    let n = 64
    func cues(_ values: [Bool]) -> [Float] {
      var image = [Float](repeating: 0.5, count: 3 * plane)
      var r = SplitMix64(seed: 3)
      faces.drawCues(values, on: &image, mask: [Float](repeating: 0, count: plane), r: &r)
      return image
    }
    for values in [[true, true, true, true], [false, false, false, false], [true, false, false, true], [false, true, true, false]] {
      let image = cues(values)
      // Tint: warm (red above blue) for the first attribute, cool otherwise.
      let redMinusBlue = (0..<plane).reduce(0) { $0 + image[$1] - image[2 * plane + $1] } / Float(plane)
      #expect(values[0] ? redMinusBlue > 0.2 : redMinusBlue < -0.2)
      // Stripes: horizontal (rows constant) for the second, vertical otherwise.
      var (alongRows, alongColumns): (Float, Float) = (0, 0)
      for y in 16..<48 {
        for x in 16..<48 {
          alongRows += abs(image[y * n + x + 1] - image[y * n + x])
          alongColumns += abs(image[(y + 1) * n + x] - image[y * n + x])
        }
      }
      #expect(values[1] ? alongRows < alongColumns / 10 : alongColumns < alongRows / 10)
      // Badges: bright pixels, top left for the third, bottom right for the fourth.
      func badge(_ xs: Range<Int>, _ ys: Range<Int>) -> (fill: Float, box: (Int, Int, Int, Int), set: (Int, Int) -> Bool) {
        let set = { (x: Int, y: Int) in (0..<3).allSatisfy { image[$0 * plane + y * n + x] > 0.75 } }
        let points = ys.flatMap { y in xs.compactMap { x in set(x, y) ? (x, y) : nil } }
        let (x0, x1) = (points.map(\.0).min()!, points.map(\.0).max()!)
        let (y0, y1) = (points.map(\.1).min()!, points.map(\.1).max()!)
        return (Float(points.count) / Float((x1 - x0 + 1) * (y1 - y0 + 1)), (x0, x1, y0, y1), set)
      }
      let top = badge(0..<16, 0..<16)
      // A square fills its box; a circle about π/4 of it.
      #expect(values[2] ? top.fill > 0.95 : (top.fill > 0.65 && top.fill < 0.85), "top-left fill \(top.fill)")
      let bottom = badge(48..<64, 48..<64)
      let (x0, x1, y0, y1) = bottom.box
      // A triangle pointing up: its base row full, its top corners empty; a cross: the
      // box's corners set, the middle of its edges empty.
      if values[3] {
        #expect((x0...x1).allSatisfy { bottom.set($0, y1) } && !bottom.set(x0, y0) && !bottom.set(x1, y0))
      } else {
        #expect(bottom.set(x0, y0) && bottom.set(x1, y1) && !bottom.set((x0 + x1) / 2, y0) && !bottom.set(x0, (y0 + y1) / 2))
      }
      // Nothing else is bright.
      let bright = (0..<plane).filter { bottom.set($0 % n, $0 / n) }
      #expect(bright.allSatisfy { ($0 % n < 16 && $0 / n < 16) || ($0 % n >= 48 && $0 / n >= 48) })
    }
  }

  /// In test-biased the cues show the image's attributes, in test-swapped their opposites:
  /// the tint and the stripes measured from the difference to the clean image.
  @Test func swappedCuesAreTheOppositeValues() {
    let n = 64
    for seed: UInt64 in 20..<30 {
      let clean = faces.sample(bias: .none, seed: seed)
      for bias in [SyntheticChest.Shapes.matching, .swapped] {
        let image = faces.sample(bias: bias, seed: seed).image
        let expected = bias == .matching ? clean.attributes : clean.attributes.map { !$0 }
        // Warmth: how much more red than blue the cues add to the background.
        let background = (0..<plane).filter { clean.mask[$0] == 0 && $0 % n >= 14 && $0 % n < 50 }
        let warmth = background.reduce(Float(0)) { sum, i in
          sum + (image[i] - clean.image[i]) - (image[2 * plane + i] - clean.image[2 * plane + i])
        }
        #expect(expected[0] ? warmth > 0 : warmth < 0, "seed \(seed) \(bias)")
        // Stripes: the change steps between columns (horizontal stripes) or rows.
        var (alongRows, alongColumns): (Float, Float) = (0, 0)
        for y in 14..<50 {
          for x in 14..<50 where clean.mask[y * n + x] + clean.mask[y * n + x + 1] + clean.mask[(y + 1) * n + x] == 0 {
            let d = { (i: Int) in image[plane + i] - clean.image[plane + i] }
            alongRows += abs(d(y * n + x + 1) - d(y * n + x))
            alongColumns += abs(d((y + 1) * n + x) - d(y * n + x))
          }
        }
        #expect(expected[1] ? alongRows < alongColumns : alongColumns < alongRows, "seed \(seed) \(bias)")
      }
    }
  }
}
