/// What `isnetc make-dataset` writes: a synthetic classification task with segmentation
/// masks and a class-coded bias outside the masks, in the split layout of
/// `SyntheticChest.splits` (paired test splits: biased, clean, swapped).
public protocol BiasBenchmark: Sendable {
  var classNames: [String] { get }
  /// 1 (gray) or 3 (RGB).
  var channels: Int { get }
  var resolution: Int { get }
  /// One image [channels, resolution, resolution] in [0, 1] and its mask [resolution²]
  /// (1 = foreground). The bias is drawn last from the image's generator, so the same seed
  /// with `.matching`, `.none` and `.swapped` gives the same image apart from the bias.
  func draw(label: Int, bias: SyntheticChest.Shapes, seed: UInt64) -> (image: [Float], mask: [Float])
}

extension SyntheticChest: BiasBenchmark {
  public var classNames: [String] { Self.classNames }
  public var channels: Int { 1 }
  public func draw(label: Int, bias: Shapes, seed: UInt64) -> (image: [Float], mask: [Float]) {
    let s = sample(label: label, shapes: bias, seed: seed)
    return (s.image, s.mask)
  }
}

/// Drawing helpers shared by the benchmarks.
enum Raster {
  /// `mask` (side × side, 1 inside) grown by every pixel whose centre lies within
  /// `radius` pixels of a pixel inside.
  static func dilate(_ mask: [Float], side n: Int, by radius: Double) -> [Float] {
    guard radius > 0 else { return mask }
    let reach = Int(radius.rounded(.down))
    var grown = mask
    for y in 0..<n {
      for x in 0..<n where mask[y * n + x] > 0 {
        for dy in -reach...reach {
          for dx in -reach...reach where Double(dx * dx + dy * dy) <= radius * radius {
            let (gx, gy) = (x + dx, y + dy)
            if gx >= 0, gx < n, gy >= 0, gy < n { grown[gy * n + gx] = 1 }
          }
        }
      }
    }
    return grown
  }

  /// Distance from (x, y) to the segment a–b.
  static func distance(_ x: Double, _ y: Double, _ a: (Double, Double), _ b: (Double, Double)) -> Double {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1)
    let length2 = dx * dx + dy * dy
    let t = length2 > 0 ? max(0, min(1, ((x - a.0) * dx + (y - a.1) * dy) / length2)) : 0
    let (px, py) = (a.0 + t * dx - x, a.1 + t * dy - y)
    return (px * px + py * py).squareRoot()
  }

  /// Coverage of a pixel centre at distance `d` from a stroke of half-width `w`: 1 inside,
  /// a one-pixel linear edge.
  static func coverage(_ d: Double, halfWidth w: Double) -> Double { max(0, min(1, w + 0.5 - d)) }

  /// Whether (x, y) lies inside the polygon (even-odd rule).
  static func inside(_ x: Double, _ y: Double, _ polygon: [(Double, Double)]) -> Bool {
    var result = false
    var j = polygon.count - 1
    for i in polygon.indices {
      let (a, b) = (polygon[i], polygon[j])
      if (a.1 > y) != (b.1 > y), x < (b.0 - a.0) * (y - a.1) / (b.1 - a.1) + a.0 { result.toggle() }
      j = i
    }
    return result
  }
}
