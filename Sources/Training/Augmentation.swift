import Foundation
import SeededRandom

/// The paper's training augmentation (section 4.11): a random translation of up to 28
/// pixels at 224×224 (scaled with the input size), a rotation of up to ±40° about the
/// centre and a horizontal flip half of the time, applied identically to an image and its
/// mask. The image is resampled bilinearly, the mask by nearest neighbour (it stays a mask);
/// pixels brought in from outside are 0. Parameters come from a seeded generator, so the
/// same (seed, epoch, sample) always gives the same picture.
public struct Augmentation: Sendable, Equatable {
  public var maxTranslation: Double
  public var maxRotationDegrees: Double
  public var flipProbability: Double

  /// The paper's settings for an input of side `size` pixels.
  public static func paper(size: Int) -> Augmentation {
    Augmentation(maxTranslation: 28 * Double(size) / 224, maxRotationDegrees: 40, flipProbability: 0.5)
  }

  public init(maxTranslation: Double, maxRotationDegrees: Double, flipProbability: Double) {
    self.maxTranslation = maxTranslation
    self.maxRotationDegrees = maxRotationDegrees
    self.flipProbability = flipProbability
  }

  /// One draw of the transform's parameters.
  public struct Parameters: Sendable, Equatable {
    public var dx: Double
    public var dy: Double
    public var degrees: Double
    public var flip: Bool
    public init(dx: Double = 0, dy: Double = 0, degrees: Double = 0, flip: Bool = false) {
      self.dx = dx
      self.dy = dy
      self.degrees = degrees
      self.flip = flip
    }
  }

  public func parameters(seed: UInt64, epoch: Int, sample: Int) -> Parameters {
    var random = SplitMix64(seed: seed ^ (UInt64(truncatingIfNeeded: epoch) &* 0x9E37_79B9_7F4A_7C15) ^ (UInt64(truncatingIfNeeded: sample) &* 0xD1B5_4A32_D192_ED03))
    func uniform() -> Double { random.unit() }
    return Parameters(
      dx: (uniform() * 2 - 1) * maxTranslation, dy: (uniform() * 2 - 1) * maxTranslation,
      degrees: (uniform() * 2 - 1) * maxRotationDegrees, flip: uniform() < flipProbability)
  }

  /// Applies `p` to `image` [C, H, W] and `mask` [H, W] (or [C', H, W]).
  public static func apply(_ p: Parameters, image: [Float], channels: Int, height: Int, width: Int, mask: [Float]) -> (image: [Float], mask: [Float]) {
    let plane = height * width
    let maskChannels = mask.count / plane
    var outImage = [Float](repeating: 0, count: image.count)
    var outMask = [Float](repeating: 0, count: mask.count)
    // Output pixel → source position: undo the translation, the rotation, then the flip
    // (the forward order is flip, rotate, translate).
    let (cx, cy) = (Double(width - 1) / 2, Double(height - 1) / 2)
    let angle = p.degrees * .pi / 180
    let (cosA, sinA) = (cos(angle), sin(angle))
    for y in 0..<height {
      for x in 0..<width {
        let (tx, ty) = (Double(x) - p.dx - cx, Double(y) - p.dy - cy)
        var sx = cosA * tx + sinA * ty + cx
        let sy = -sinA * tx + cosA * ty + cy
        if p.flip { sx = Double(width - 1) - sx }
        let out = y * width + x
        // Nearest neighbour for the mask.
        let (nx, ny) = (Int(sx.rounded()), Int(sy.rounded()))
        if nx >= 0, ny >= 0, nx < width, ny < height {
          for c in 0..<maskChannels { outMask[c * plane + out] = mask[c * plane + ny * width + nx] }
        }
        // Bilinear for the image, zeros outside.
        let (x0, y0) = (Int(sx.rounded(.down)), Int(sy.rounded(.down)))
        let (fx, fy) = (Float(sx - Double(x0)), Float(sy - Double(y0)))
        for c in 0..<channels {
          func at(_ xx: Int, _ yy: Int) -> Float {
            xx >= 0 && yy >= 0 && xx < width && yy < height ? image[c * plane + yy * width + xx] : 0
          }
          let top = at(x0, y0) * (1 - fx) + at(x0 + 1, y0) * fx
          let bottom = at(x0, y0 + 1) * (1 - fx) + at(x0 + 1, y0 + 1) * fx
          outImage[c * plane + out] = top * (1 - fy) + bottom * fy
        }
      }
    }
    return (outImage, outMask)
  }
}
