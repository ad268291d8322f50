/// An 8-bit RGB picture: rows top to bottom, samples interleaved. Heatmaps and input
/// images are coloured pixel by pixel here, then placed on a Drawing; a Drawing's result
/// comes back as one, for the PNG writer.
public struct Canvas: Sendable, Equatable {
  public let width: Int
  public let height: Int
  public var rgb: [UInt8]

  /// `rgb`: `width * height * 3` bytes.
  init(width: Int, height: Int, rgb: [UInt8]) {
    precondition(rgb.count == width * height * 3)
    self.width = width
    self.height = height
    self.rgb = rgb
  }

  public init(width: Int, height: Int, fill: RGB = .white) {
    self.width = width
    self.height = height
    rgb = [UInt8](repeating: 0, count: width * height * 3)
    for i in 0..<(width * height) { set(i, fill) }
  }

  public subscript(x: Int, y: Int) -> RGB {
    get {
      let i = (y * width + x) * 3
      return RGB(rgb[i], rgb[i + 1], rgb[i + 2])
    }
    set {
      guard x >= 0, y >= 0, x < width, y < height else { return }
      set(y * width + x, newValue)
    }
  }

  private mutating func set(_ pixel: Int, _ c: RGB) {
    rgb[pixel * 3] = c.r
    rgb[pixel * 3 + 1] = c.g
    rgb[pixel * 3 + 2] = c.b
  }
}

public struct RGB: Sendable, Equatable {
  public var r: UInt8
  public var g: UInt8
  public var b: UInt8
  public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) {
    self.r = r
    self.g = g
    self.b = b
  }
  public static let white = RGB(255, 255, 255)
  public static let black = RGB(0, 0, 0)

  /// (1 − t)·self + t·other.
  public func mixed(with other: RGB, _ t: Double) -> RGB {
    func mix(_ a: UInt8, _ b: UInt8) -> UInt8 {
      UInt8((Double(a) * (1 - t) + Double(b) * t).rounded().clamped(0, 255))
    }
    return RGB(mix(r, other.r), mix(g, other.g), mix(b, other.b))
  }
}

extension Double {
  func clamped(_ low: Double, _ high: Double) -> Double { Swift.min(Swift.max(self, low), high) }
}
