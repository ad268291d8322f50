/// A planar float image: channel-major (CHW) like a model input, values normally in [0, 1].

public struct Image: Sendable, Equatable {
  /// 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA (alpha is always the last channel).
  public let channels: Int
  public let height: Int
  public let width: Int
  /// `channels * height * width` values, index `(c * height + y) * width + x`.
  public var pixels: [Float]

  /// Precondition: `pixels.count == channels * height * width`, all sizes non-negative.
  public init(channels: Int, height: Int, width: Int, pixels: [Float]) {
    precondition(channels >= 0 && height >= 0 && width >= 0, "negative image size")
    precondition(pixels.count == channels * height * width, "Image: \(pixels.count) pixels for \(channels)x\(height)x\(width)")
    self.channels = channels
    self.height = height
    self.width = width
    self.pixels = pixels
  }

  /// An image filled with `value`.
  public init(channels: Int, height: Int, width: Int, filledWith value: Float = 0) {
    self.init(channels: channels, height: height, width: width, pixels: Array(repeating: value, count: channels * height * width))
  }

  /// The value at channel `c`, row `y`, column `x`.
  public subscript(c: Int, y: Int, x: Int) -> Float {
    get { pixels[(c * height + y) * width + x] }
    set { pixels[(c * height + y) * width + x] = newValue }
  }

  /// The values of one channel (height × width, row-major).
  public func plane(_ c: Int) -> ArraySlice<Float> {
    pixels[(c * height * width)..<((c + 1) * height * width)]
  }

  /// Whether the last channel is alpha (2 or 4 channels).
  public var hasAlpha: Bool { channels == 2 || channels == 4 }
}
