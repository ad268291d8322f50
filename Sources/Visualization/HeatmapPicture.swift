/// A heatmap [C, H, W] as the pictures show it: the channels summed into one relevance
/// value per pixel, coloured with the paper's blue–white–red map (section 2, Figures 2–5)
/// over a symmetric range ±R, alone or laid over the input image in gray.
///
/// R is a high percentile of |R| (RelevanceScale), not the largest value nor a multiple of
/// the standard deviation: LRP maps are heavy-tailed, and a range set by their few
/// largest pixels leaves everything else white.
public struct HeatmapPicture: Sendable {
  public let height: Int
  public let width: Int
  /// The channel-summed map [height, width].
  public let map: [Double]

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
    self.map = map
  }

  /// The map coloured over [−range, range] (values beyond take the end colours; a range
  /// of 0 draws white). Over `image` (gray [height, width] in [0, 1]) each colour is
  /// blended in by its strength, so weak relevance shows the image.
  public func render(range: Double, image: [Float]? = nil) -> Canvas {
    precondition(image == nil || image!.count == height * width)
    var canvas = Canvas(width: width, height: height)
    let scale = range > 0 && range.isFinite ? 1 / range : 0
    for y in 0..<height {
      for x in 0..<width {
        let i = y * width + x
        let v = (map[i] * scale).isFinite ? (map[i] * scale).clamped(-1, 1) : 0
        var color = DivergingColormap.color(v)
        if let image {
          let g = Double(image[i]).isFinite ? Double(image[i]).clamped(0, 1) : 0
          let gray = UInt8((g * 255).rounded())
          color = RGB(gray, gray, gray).mixed(with: color, Self.overlayOpacity(v))
        }
        canvas[x, y] = color
      }
    }
    return canvas
  }

  /// How much of a colour covers the image at relevance `v` in [−1, 1]: the square root
  /// of |v|, so relevance a tenth of the range still tints the image (a third opaque).
  static func overlayOpacity(_ v: Double) -> Double { abs(v).squareRoot() }
}

/// The symmetric colour range of the maps of one input: ±R with R the `percentile`-th
/// percentile of |R| over every pixel of every map (linear interpolation between ranks),
/// so the maps share one scale and compare. A map whose pixels are nearly all zero
/// (the percentile is 0) falls back to the largest |R|.
public struct RelevanceScale: Sendable, Equatable {
  public enum Basis: Sendable, Equatable {
    /// R is the percentile of |R|.
    case percentile(Double)
    /// R is the largest |R| (the percentile was 0).
    case maximum
    /// Every value is 0 (or not finite): the maps are drawn white.
    case zero
  }

  public let range: Double
  public let basis: Basis
  /// The largest finite |R|: pixels beyond `range` show the end colours.
  public let maximum: Double

  public init(maps: [[Double]], percentile: Double = 99.5) {
    precondition((0...100).contains(percentile))
    let magnitudes = maps.flatMap { $0 }.map(abs).filter(\.isFinite).sorted()
    maximum = magnitudes.last ?? 0
    let value = Self.percentile(ofSorted: magnitudes, percentile)
    if value > 0 {
      (range, basis) = (value, .percentile(percentile))
    } else if maximum > 0 {
      (range, basis) = (maximum, .maximum)
    } else {
      (range, basis) = (0, .zero)
    }
  }

  /// The `p`-th percentile of ascending `values`: rank p/100·(n − 1), interpolated.
  static func percentile(ofSorted values: [Double], _ p: Double) -> Double {
    guard !values.isEmpty else { return 0 }
    let rank = p / 100 * Double(values.count - 1)
    let low = Int(rank.rounded(.down))
    let high = min(low + 1, values.count - 1)
    return values[low] + (values[high] - values[low]) * (rank - Double(low))
  }

  /// The colour bar's statement of the range, e.g. "relevance, ±p99.5 of |R| = 0.0123".
  public var label: String {
    switch basis {
    case .percentile(let p): "relevance, ±p\(NumberText.short(p, digits: 4)) of |R| = \(NumberText.short(range))"
    case .maximum: "relevance, ±max |R| = \(NumberText.short(range))"
    case .zero: "relevance: every value is 0"
    }
  }
}
