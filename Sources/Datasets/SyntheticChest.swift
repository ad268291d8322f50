import Foundation
import SeededRandom

/// A synthetic chest-X-ray-like classification task with a controllable background bias:
/// the benchmark of the background-bias experiment (paper sections 2.1 and 2.3, the
/// "artificially biased" datasets).
///
/// Each image is gray, [0, 1], `resolution`² pixels:
/// - background: a smooth textured gray field, pixel noise, clutter strokes and rows of
///   text-like marks (like the labels and markers on real radiographs);
/// - foreground (the mask): two lung-shaped regions, darker than the body around them;
/// - the class lives only inside the lungs: 0 normal, 1 nodular opacities (a few small
///   bright nodules), 2 diffuse haze (a smooth brightening of the lower lungs);
/// - the bias: a class-coded shape in the background (triangle for 0, square for 1,
///   circle for 2) at a random place outside the lungs, present, absent or assigned to the
///   wrong class depending on the split.
/// Everything is drawn from one seeded generator per image: the same seed gives the same
/// bytes.
public struct SyntheticChest: Sendable {
  public enum Shapes: String, Sendable, CaseIterable {
    /// The shape of the image's own class.
    case matching
    /// No shape.
    case none
    /// The shape of the next class (k + 1 mod 3): the shortcut points the wrong way.
    case swapped
  }

  public static let classNames = ["normal", "nodules", "haze"]
  public var resolution: Int
  /// Scales the class signal (the nodules' and the haze's contrast): lower is subtler.
  public var signal: Double
  /// The background shape's side as a fraction of the image's: larger is a stronger bias.
  public var shapeSize: Double
  public init(resolution: Int = 64, signal: Double = 1, shapeSize: Double = 0.125) {
    self.resolution = resolution
    self.signal = signal
    self.shapeSize = shapeSize
  }

  public struct Sample: Sendable, Equatable {
    public var label: Int
    /// [resolution, resolution] in [0, 1], rows top to bottom.
    public var image: [Float]
    /// 1 inside the lungs, 0 elsewhere.
    public var mask: [Float]
  }

  public func sample(label: Int, shapes: Shapes, seed: UInt64) -> Sample {
    var r = SplitMix64(seed: seed)
    let n = resolution
    let s = Double(n)
    var image = [Float](repeating: 0, count: n * n)
    var mask = [Float](repeating: 0, count: n * n)
    // Body: a smooth field plus two low-frequency waves.
    let (fx, fy, phase) = (r.uniform(1, 3), r.uniform(1, 3), r.uniform(0, 6.28))
    let base = r.uniform(0.45, 0.6)
    // Lungs: two ellipses, jittered.
    let cy = s * r.uniform(0.47, 0.53)
    let lungs = [(-1.0), 1.0].map { side in
      (x: s * (0.5 + side * r.uniform(0.17, 0.21)), y: cy, rx: s * r.uniform(0.12, 0.15), ry: s * r.uniform(0.25, 0.3))
    }
    for y in 0..<n {
      for x in 0..<n {
        let (u, v) = (Double(x) / s, Double(y) / s)
        var value = base + 0.06 * sin(6.28 * (fx * u + fy * v) + phase) + 0.04 * sin(6.28 * 3 * u * v)
        var inside = false
        for lung in lungs {
          let d = pow((Double(x) - lung.x) / lung.rx, 2) + pow((Double(y) - lung.y) / lung.ry, 2)
          if d <= 1 { inside = true; value -= 0.25 * (1 - 0.3 * d) }
        }
        mask[y * n + x] = inside ? 1 : 0
        image[y * n + x] = Float(value + r.normal() * 0.03)
      }
    }
    // Class signal, inside the lungs only.
    switch label {
    case 1:
      for _ in 0..<r.int(3...5) {
        let lung = lungs[r.int(0...1)]
        let (angle, radius) = (r.uniform(0, 6.28), r.uniform(0, 0.7))
        let (x0, y0) = (lung.x + cos(angle) * radius * lung.rx, lung.y + sin(angle) * radius * lung.ry)
        blob(&image, mask: mask, x: x0, y: y0, sigma: s * 0.025, amplitude: 0.22 * signal)
      }
    case 2:
      let strength = r.uniform(0.12, 0.18) * signal
      for y in 0..<n {
        for x in 0..<n where mask[y * n + x] > 0 {
          // Haze grows towards the lower lungs.
          let t = max(0, (Double(y) - cy + s * 0.05) / (s * 0.3))
          image[y * n + x] += Float(strength * min(1, t))
        }
      }
    default:
      break
    }
    clutter(&image, mask: mask, r: &r)
    let shapeClass: Int? =
      switch shapes {
      case .matching: label
      case .none: nil
      case .swapped: (label + 1) % 3
      }
    if let shapeClass { drawShape(shapeClass, on: &image, mask: mask, r: &r) }
    return Sample(label: label, image: image.map { min(1, max(0, $0)) }, mask: mask)
  }

  /// Adds a Gaussian blob, only inside the mask.
  private func blob(_ image: inout [Float], mask: [Float], x x0: Double, y y0: Double, sigma: Double, amplitude: Double) {
    let n = resolution
    let reach = Int((3 * sigma).rounded(.up))
    for y in max(0, Int(y0) - reach)...min(n - 1, Int(y0) + reach) {
      for x in max(0, Int(x0) - reach)...min(n - 1, Int(x0) + reach) where mask[y * n + x] > 0 {
        let d2 = pow(Double(x) - x0, 2) + pow(Double(y) - y0, 2)
        image[y * n + x] += Float(amplitude * exp(-d2 / (2 * sigma * sigma)))
      }
    }
  }

  /// Background clutter: strokes and rows of text-like marks, outside the lungs.
  private func clutter(_ image: inout [Float], mask: [Float], r: inout SplitMix64) {
    let n = resolution
    let s = Double(n)
    for _ in 0..<r.int(2...4) {
      let (x0, y0, angle, length) = (r.uniform(0, s), r.uniform(0, s), r.uniform(0, 3.14), r.uniform(0.1, 0.3) * s)
      let shade = Float(r.uniform(-0.2, 0.25))
      for step in 0..<Int(length) {
        let (x, y) = (Int(x0 + cos(angle) * Double(step)), Int(y0 + sin(angle) * Double(step)))
        if x >= 0, y >= 0, x < n, y < n, mask[y * n + x] == 0 { image[y * n + x] += shade }
      }
    }
    // A row of "letters" near a corner: small bright bars of random heights.
    let (row, left) = (r.bool() ? r.int(1...max(1, n / 12)) : n - 1 - r.int(max(1, n / 10)...max(2, n / 6)), r.int(1...max(1, n / 3)))
    let letterHeight = max(2, n / 16)
    for k in 0..<r.int(3...6) {
      let x0 = left + k * max(2, n / 20)
      for y in row..<min(n, row + letterHeight) where r.uniform(0, 1) < 0.8 {
        for x in x0..<min(n, x0 + max(1, n / 40)) where x < n && mask[y * n + x] == 0 { image[y * n + x] = 0.95 }
      }
    }
  }

  /// The class-coded shape (filled, bright) at a random place clear of the lungs.
  private func drawShape(_ shape: Int, on image: inout [Float], mask: [Float], r: inout SplitMix64) {
    let n = resolution
    let size = max(4, Int((Double(n) * shapeSize).rounded()))
    for _ in 0..<50 {
      let (x0, y0) = (r.int(0...(n - size)), r.int(0...(n - size)))
      var pixels: [(Int, Int)] = []
      for dy in 0..<size {
        for dx in 0..<size {
          let (u, v) = ((Double(dx) + 0.5) / Double(size), (Double(dy) + 0.5) / Double(size))
          let inside: Bool =
            switch shape {
            case 0: v >= 0.1 && abs(u - 0.5) <= (v - 0.1) / 0.9 * 0.5  // triangle, apex up
            case 1: u >= 0.1 && u <= 0.9 && v >= 0.1 && v <= 0.9  // square
            default: pow(u - 0.5, 2) + pow(v - 0.5, 2) <= 0.16  // circle
            }
          if inside { pixels.append((x0 + dx, y0 + dy)) }
        }
      }
      guard pixels.allSatisfy({ mask[$0.1 * n + $0.0] == 0 }) else { continue }
      for (x, y) in pixels { image[y * n + x] = 1 }
      return
    }
  }
}
