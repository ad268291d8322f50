import Foundation
import SeededRandom

/// Hand-drawn-looking digit glyphs on a cluttered gray canvas, with a class-coded bright
/// patch in a corner as the bias: statistics unlike the chest benchmark's (one thin-stroked
/// object whose box is the mask, a third of the image or less; the class is the stroke's
/// shape; the bias a plain bright square at a fixed place).
///
/// - background: a gray field with a gradient, pixel noise and clutter strokes of the
///   glyphs' own thickness and brightness, all outside the glyph's box;
/// - foreground (the mask): the glyph's bounding box, two pixels wider on each side;
/// - classes: the digits 2, 4 and 7, each a polyline whose points are jittered, scaled,
///   slanted and drawn with a random thickness;
/// - the bias: a bright square at the class's corner (2: top left, 4: top right, 7: bottom
///   right) a few pixels in from the edges; absent in test-clean, the next class's corner
///   in test-swapped.
public struct SyntheticGlyphs: BiasBenchmark {
  public var classNames: [String] { ["two", "four", "seven"] }
  public var channels: Int { 1 }
  public var resolution: Int
  /// The corner patch's side as a fraction of the image's.
  public var patchSize: Double
  /// The patch's brightness above the background (0…1).
  public var patchContrast: Double

  /// The strokes' contrast against the background (1: bright ink; lower is fainter).
  public var signal: Double

  public init(resolution: Int = 64, patchSize: Double = 0.12, patchContrast: Double = 0.8, signal: Double = 0.5) {
    self.resolution = resolution
    self.patchSize = patchSize
    self.patchContrast = patchContrast
    self.signal = signal
  }

  /// The digits' strokes in a unit box (x right, y down).
  static let strokes: [[[(Double, Double)]]] = [
    [[(0.12, 0.28), (0.3, 0.06), (0.62, 0.04), (0.86, 0.22), (0.8, 0.46), (0.12, 0.96), (0.92, 0.96)]],
    [[(0.7, 0.96), (0.7, 0.04), (0.08, 0.66), (0.94, 0.66)]],
    [[(0.08, 0.06), (0.92, 0.06), (0.42, 0.96)], [(0.3, 0.52), (0.78, 0.52)]],
  ]

  public func draw(label: Int, bias: SyntheticChest.Shapes, seed: UInt64) -> (image: [Float], mask: [Float]) {
    var r = SplitMix64(seed: seed)
    let n = resolution
    let s = Double(n)
    // The glyph's box: height 40–60% of the side, width 60–80% of its height, centred
    // within the middle fifth, so it never reaches a corner patch.
    let height = s * r.uniform(0.4, 0.6)
    let width = height * r.uniform(0.6, 0.8)
    let (cx, cy) = (s * r.uniform(0.42, 0.58), s * r.uniform(0.42, 0.58))
    let slant = r.uniform(-0.25, 0.25)
    let halfWidth = r.uniform(0.8, 1.8) * s / 64
    let strokes = Self.strokes[label].map { line in
      line.map { p -> (Double, Double) in
        let (u, v) = (p.0 + r.uniform(-0.06, 0.06), p.1 + r.uniform(-0.05, 0.05))
        return (cx + (u - 0.5) * width + slant * (0.5 - v) * height, cy + (v - 0.5) * height)
      }
    }
    let points = strokes.flatMap { $0 }
    let margin = halfWidth + 2
    let box = (
      x0: Int(max(0, (points.map(\.0).min()! - margin).rounded(.down))), x1: Int(min(s - 1, (points.map(\.0).max()! + margin).rounded(.up))),
      y0: Int(max(0, (points.map(\.1).min()! - margin).rounded(.down))), y1: Int(min(s - 1, (points.map(\.1).max()! + margin).rounded(.up))))
    var mask = [Float](repeating: 0, count: n * n)
    for y in box.y0...box.y1 { for x in box.x0...box.x1 { mask[y * n + x] = 1 } }
    // Background field and noise.
    let base = r.uniform(0.2, 0.4)
    let (gx, gy) = (r.uniform(-0.15, 0.15), r.uniform(-0.15, 0.15))
    var image = [Float](repeating: 0, count: n * n)
    for y in 0..<n {
      for x in 0..<n { image[y * n + x] = Float(base + gx * (Double(x) / s - 0.5) + gy * (Double(y) / s - 0.5) + r.normal() * 0.08) }
    }
    let ink = base + signal * r.uniform(0.4, 0.6)
    func stroke(_ line: [(Double, Double)], halfWidth w: Double, shade: Double, where allowed: (Int) -> Bool) {
      for y in 0..<n {
        for x in 0..<n where allowed(y * n + x) {
          let d = zip(line, line.dropFirst()).map { Raster.distance(Double(x) + 0.5, Double(y) + 0.5, $0, $1) }.min() ?? .infinity
          let c = Raster.coverage(d, halfWidth: w)
          if c > 0 { image[y * n + x] = Float((1 - c) * Double(image[y * n + x]) + c * shade) }
        }
      }
    }
    for line in strokes { stroke(line, halfWidth: halfWidth, shade: ink) { mask[$0] > 0 } }
    // Clutter: strokes like the glyph's, outside its box.
    for _ in 0..<r.int(3...6) {
      var line = [(r.uniform(0, s), r.uniform(0, s))]
      for _ in 0..<r.int(1...2) {
        let (angle, length) = (r.uniform(0, 6.28), s * r.uniform(0.1, 0.25))
        line.append((line.last!.0 + cos(angle) * length, line.last!.1 + sin(angle) * length))
      }
      stroke(line, halfWidth: r.uniform(0.8, 1.8) * s / 64, shade: base + signal * r.uniform(0.3, 0.7)) { mask[$0] == 0 }
    }
    let corner: Int? =
      switch bias {
      case .matching: label
      case .none: nil
      case .swapped: (label + 1) % 3
      }
    if let corner {
      let side = max(2, Int((s * patchSize).rounded()))
      let inset = r.int(1...max(1, n / 16))
      let x0 = corner == 0 ? inset : n - inset - side
      let y0 = corner == 2 ? n - inset - side : inset
      for y in y0..<y0 + side {
        for x in x0..<x0 + side where mask[y * n + x] == 0 { image[y * n + x] = Float(min(1, Double(image[y * n + x]) + patchContrast)) }
      }
    }
    return (image.map { min(1, max(0, $0)) }, mask)
  }
}
