import Foundation
import SeededRandom

/// Colour objects on coloured, textured backgrounds with a class-coded watermark as the
/// bias: statistics unlike the chest's and the glyphs' (RGB; one solid object of varying
/// size, its outline and a thin margin the mask, 10–30% of the image; the class is the
/// object's shape; the bias a word of text).
///
/// - background: a gradient between two random colours, low-frequency waves, coloured
///   streaks (elongated, so none looks like a circle) and pixel noise;
/// - foreground: a circle, a triangle or a five-pointed star (the class), of random size,
///   place, rotation and colour (dark on a light background, light on a dark one),
///   textured with stripes of random frequency and direction;
/// - the mask: the object grown by `maskMargin` (3 pixels at 64²), as an annotator's
///   outline is drawn around an object, not inside it. A shape is told by its contour,
///   whose contrast lies on both of its sides, and the first layer's Zᴮ rule spreads a
///   feature's relevance over its whole 7×7 window: with masks that end at the outline the
///   ISNet defaults kept 38–44% of |R| outside (seeds 0, 1), with the margin 15–21%
///   (docs/training.md);
/// - the bias: a watermark, the class's two-letter word ("OK", "HI", "ZX") in a 5×7 font
///   at twice its size, blended over the background at `watermarkOpacity`, at a random
///   place clear of the object; absent in test-clean, the next class's word in test-swapped.
public struct SyntheticObjects: BiasBenchmark {
  public var classNames: [String] { ["circle", "triangle", "star"] }
  public var channels: Int { 3 }
  public var resolution: Int
  /// The watermark's opacity (0…1): larger is a stronger bias.
  public var watermarkOpacity: Double

  /// The mask's margin around the object, as a fraction of the side.
  public var maskMargin: Double

  public init(resolution: Int = 64, watermarkOpacity: Double = 0.8, maskMargin: Double = 3.0 / 64) {
    self.resolution = resolution
    self.watermarkOpacity = watermarkOpacity
    self.maskMargin = maskMargin
  }

  static let words = ["OK", "HI", "ZX"]
  /// 5×7 glyphs, rows top to bottom, '#' set.
  static let font: [Character: [String]] = [
    "O": [".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."],
    "K": ["#...#", "#..#.", "#.#..", "##...", "#.#..", "#..#.", "#...#"],
    "H": ["#...#", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"],
    "I": [".###.", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."],
    "Z": ["#####", "....#", "...#.", "..#..", ".#...", "#....", "#####"],
    "X": ["#...#", "#...#", ".#.#.", "..#..", ".#.#.", "#...#", "#...#"],
  ]

  public func draw(label: Int, bias: SyntheticChest.Shapes, seed: UInt64) -> (image: [Float], mask: [Float]) {
    var r = SplitMix64(seed: seed)
    let n = resolution
    let s = Double(n)
    func colour() -> [Double] { (0..<3).map { _ in r.uniform(0.1, 0.9) } }
    let (c0, c1) = (colour(), colour())
    let (angle, waves, phase) = (r.uniform(0, 6.28), r.uniform(1, 3), r.uniform(0, 6.28))
    var image = [Float](repeating: 0, count: 3 * n * n)
    for y in 0..<n {
      for x in 0..<n {
        let (u, v) = (Double(x) / s, Double(y) / s)
        let t = 0.5 + 0.5 * sin(6.28 * waves * (u * cos(angle) + v * sin(angle)) + phase)
        for c in 0..<3 { image[c * n * n + y * n + x] = Float(c0[c] * (1 - t) + c1[c] * t) }
      }
    }
    // Streaks anywhere (the object covers some): soft ellipses, at least 2.5 times longer
    // than wide, so that no background blot looks like a circle, one of the classes.
    for _ in 0..<r.int(2...5) {
      let (bx, by, length, tint) = (r.uniform(0, s), r.uniform(0, s), s * r.uniform(0.12, 0.3), colour())
      let (width, tilt) = (length / r.uniform(2.5, 4), r.uniform(0, 3.14))
      let (cosTilt, sinTilt) = (cos(tilt), sin(tilt))
      for y in 0..<n {
        for x in 0..<n {
          let (dx, dy) = (Double(x) - bx, Double(y) - by)
          let (along, across) = ((dx * cosTilt + dy * sinTilt) / length, (-dx * sinTilt + dy * cosTilt) / width)
          let a = max(0, min(1, (1 - (along * along + across * across).squareRoot()) * width)) * 0.7
          for c in 0..<3 { image[c * n * n + y * n + x] = Float((1 - a) * Double(image[c * n * n + y * n + x]) + a * tint[c]) }
        }
      }
    }
    // The object.
    let radius = s * r.uniform(0.2, 0.3)
    let (ox, oy) = (r.uniform(radius + 1, s - radius - 1), r.uniform(radius + 1, s - radius - 1))
    let rotation = r.uniform(0, 6.28)
    func vertex(_ k: Int, of count: Int, radius rk: Double) -> (Double, Double) {
      let a: Double = rotation + Double(k) * 2 * Double.pi / Double(count)
      return (ox + rk * cos(a), oy + rk * sin(a))
    }
    let polygon: [(Double, Double)]
    switch label {
    case 1: polygon = (0..<3).map { vertex($0, of: 3, radius: radius) }
    case 2: polygon = (0..<10).map { vertex($0, of: 10, radius: $0 % 2 == 0 ? radius : radius * 0.4) }
    default: polygon = []
    }
    // The fill contrasts with the background around it: dark on light, light on dark.
    var (around, pixels) = (0.0, 0)
    for y in Int(oy - radius)..<Int(oy + radius) {
      for x in Int(ox - radius)..<Int(ox + radius) {
        for c in 0..<3 { around += Double(image[c * n * n + y * n + x]) }
        pixels += 3
      }
    }
    around /= Double(max(pixels, 1))
    let fill = (0..<3).map { _ in around > 0.5 ? r.uniform(0.05, 0.35) : r.uniform(0.65, 0.95) }
    let (stripeAngle, stripes, stripeDepth) = (r.uniform(0, 3.14), r.uniform(0.15, 0.45), r.uniform(0.05, 0.2))
    var mask = [Float](repeating: 0, count: n * n)
    for y in 0..<n {
      for x in 0..<n {
        let (px, py) = (Double(x) + 0.5, Double(y) + 0.5)
        let inside = polygon.isEmpty ? (px - ox) * (px - ox) + (py - oy) * (py - oy) <= radius * radius * 0.8 : Raster.inside(px, py, polygon)
        guard inside else { continue }
        mask[y * n + x] = 1
        let texture = stripeDepth * sin(stripes * (px * cos(stripeAngle) + py * sin(stripeAngle)) * 6.28 / 2)
        for c in 0..<3 { image[c * n * n + y * n + x] = Float(fill[c] + texture) }
      }
    }
    for i in 0..<(3 * n * n) { image[i] += Float(r.normal() * 0.03) }
    let word: Int? =
      switch bias {
      case .matching: label
      case .none: nil
      case .swapped: (label + 1) % 3
      }
    let outlined = Raster.dilate(mask, side: n, by: Double(n) * maskMargin)
    if let word { watermark(Self.words[word], on: &image, mask: outlined, r: &r) }
    return (image.map { min(1, max(0, $0)) }, outlined)
  }

  /// The word at twice the font's size, white, blended at `watermarkOpacity`, at the first
  /// of up to 100 random places whose box is clear of the object.
  private func watermark(_ word: String, on image: inout [Float], mask: [Float], r: inout SplitMix64) {
    let n = resolution
    let scale = max(1, n / 32)
    let (w, h) = ((word.count * 6 - 1) * scale, 7 * scale)
    guard w < n, h < n else { return }
    for _ in 0..<100 {
      let (x0, y0) = (r.int(0...(n - w)), r.int(0...(n - h)))
      var clear = true
      for y in y0..<y0 + h where clear { for x in x0..<x0 + w where mask[y * n + x] > 0 { clear = false } }
      guard clear else { continue }
      for (k, character) in word.enumerated() {
        let rows = Self.font[character]!
        for (row, line) in rows.enumerated() {
          for (column, bit) in line.enumerated() where bit == "#" {
            for dy in 0..<scale {
              for dx in 0..<scale {
                let (x, y) = (x0 + (k * 6 + column) * scale + dx, y0 + row * scale + dy)
                for c in 0..<3 {
                  let i = c * n * n + y * n + x
                  image[i] = Float((1 - watermarkOpacity) * Double(image[i]) + watermarkOpacity)
                }
              }
            }
          }
        }
      }
      return
    }
  }
}
