import Testing
import TestSupport

@testable import Training

@Suite struct AugmentationTests {
  let h = 9
  let w = 11

  /// A 2-channel image with a distinct value everywhere and a mask of a blob.
  func sample() -> (image: [Float], mask: [Float]) {
    let image = (0..<(2 * h * w)).map { Float($0 % 97) / 97 }
    let mask = (0..<(h * w)).map { i -> Float in (2...4).contains(i / w) && (3...6).contains(i % w) ? 1 : 0 }
    return (image, mask)
  }

  @Test func identityChangesNothing() {
    let (image, mask) = sample()
    let out = Augmentation.apply(.init(), image: image, channels: 2, height: h, width: w, mask: mask)
    #expect(out.image == image && out.mask == mask)
  }

  @Test func flipMirrorsColumnsAndTwiceIsIdentity() {
    let (image, mask) = sample()
    let once = Augmentation.apply(.init(flip: true), image: image, channels: 2, height: h, width: w, mask: mask)
    for y in 0..<h {
      for x in 0..<w { #expect(once.image[y * w + x] == image[y * w + (w - 1 - x)]) }
    }
    let twice = Augmentation.apply(.init(flip: true), image: once.image, channels: 2, height: h, width: w, mask: once.mask)
    #expect(twice.image == image && twice.mask == mask)
  }

  @Test func integerTranslationShiftsAndFillsZeros() {
    let (image, mask) = sample()
    let out = Augmentation.apply(.init(dx: 2, dy: -1), image: image, channels: 2, height: h, width: w, mask: mask)
    #expect(out.image[3 * w + 5] == image[4 * w + 3])
    #expect(out.image[0 * w + 0] == 0)  // came from x = -2
    #expect(out.mask[3 * w + 6] == mask[4 * w + 4])
  }

  @Test func rotationByNinetyDegreesOnASquare() {
    let n = 7
    let image = (0..<(n * n)).map(Float.init)
    let mask = image.map { $0 == 8 ? Float(1) : 0 }  // pixel (1, 1)
    let out = Augmentation.apply(.init(degrees: 90), image: image, channels: 1, height: n, width: n, mask: mask)
    // A quarter turn about the centre: the mask pixel lands where the image pixel went.
    let landed = out.mask.firstIndex(of: 1)!
    // Bilinear sampling at a rotated position: 4 taps of values ≤ 48, plus the rotation's
    // coordinates (sin/cos of 90° are not exact in float32) moving the taps by ~u.
    #expect(Double(abs(out.image[landed] - 8)) <= Float32Bound.sum(terms: 4 + 2 * n) * 48)
    #expect(out.mask.reduce(0, +) == 1)
  }

  @Test func imageAndMaskMoveTogether() {
    let n = 32
    var image = [Float](repeating: 0, count: n * n)
    var mask = [Float](repeating: 0, count: n * n)
    for y in 10..<20 { for x in 12..<22 { image[y * n + x] = 1; mask[y * n + x] = 1 } }
    let a = Augmentation.paper(size: n)
    for s in 0..<10 {
      let out = Augmentation.apply(a.parameters(seed: 1, epoch: 0, sample: s), image: image, channels: 1, height: n, width: n, mask: mask)
      // Inside the transformed mask the image is bright, far outside it dark.
      let inside = out.mask.indices.filter { out.mask[$0] == 1 }
      #expect(!inside.isEmpty)
      #expect(inside.map { out.image[$0] }.reduce(0, +) / Float(inside.count) > 0.7)
    }
  }

  @Test func parametersAreSeededAndWithinBounds() {
    let a = Augmentation.paper(size: 224)
    #expect(a.parameters(seed: 3, epoch: 2, sample: 5) == a.parameters(seed: 3, epoch: 2, sample: 5))
    #expect(a.parameters(seed: 3, epoch: 2, sample: 5) != a.parameters(seed: 3, epoch: 3, sample: 5))
    var flips = 0
    for s in 0..<400 {
      let p = a.parameters(seed: 0, epoch: 0, sample: s)
      #expect(abs(p.dx) <= 28 && abs(p.dy) <= 28 && abs(p.degrees) <= 40)
      if p.flip { flips += 1 }
    }
    #expect((150...250).contains(flips))
  }
}
