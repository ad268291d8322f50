/// Turns a heatmap [C, H, W] into a picture as the paper shows them (section 2, Figures
/// 2–5): the channels summed into one map, the map divided by its standard deviation, and
/// coloured with the diverging colormap over a symmetric range, optionally laid over the
/// input image in gray.
public struct HeatmapPicture: Sendable {
  public let height: Int
  public let width: Int
  /// The channel-summed map divided by its standard deviation (all zeros for a constant map).
  public let normalized: [Double]

  /// `values`: [channels, height, width].
  public init(values: [Float], channels: Int, height: Int, width: Int) {
    precondition(values.count == channels * height * width)
    self.height = height
    self.width = width
    let plane = height * width
    var map = [Double](repeating: 0, count: plane)
    for c in 0..<channels {
      for i in 0..<plane { map[i] += Double(values[c * plane + i]) }
    }
    let mean = map.reduce(0, +) / Double(max(plane, 1))
    let variance = map.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(max(plane, 1))
    let deviation = variance.squareRoot()
    normalized = deviation > 0 && deviation.isFinite ? map.map { $0 / deviation } : map.map { _ in 0 }
  }

  /// The largest |value| of the normalized map: a range that shows it without clipping.
  public var extent: Double { normalized.map(abs).max() ?? 0 }

  /// The map coloured over [−range, range]; over `image` (gray [height, width] in [0, 1])
  /// colours are blended with the image by their strength, so weak relevance shows it.
  public func render(range: Double, image: [Float]? = nil) -> Canvas {
    var canvas = Canvas(width: width, height: height)
    let scale = range > 0 ? 1 / range : 0
    for y in 0..<height {
      for x in 0..<width {
        let v = normalized[y * width + x] * scale
        var color = DivergingColormap.color(v)
        if let image {
          let g = UInt8((Double(image[y * width + x]).clamped(0, 1) * 255).rounded())
          color = RGB(g, g, g).mixed(with: color, min(1, abs(v) * 1.5))
        }
        canvas[x, y] = color
      }
    }
    return canvas
  }
}
