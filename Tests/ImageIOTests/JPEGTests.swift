// JPEG encode/decode round trips (within a tolerance: JPEG is lossy) for gray and RGB.

import Testing

@testable import ImageIO

@Suite struct JPEGTests {
  /// A smooth image (JPEG's best case), values in [0, 1].
  func smooth(channels: Int, height: Int = 16, width: Int = 24) -> Image {
    var pixels = [Float]()
    for c in 0..<channels {
      for y in 0..<height {
        for x in 0..<width {
          pixels.append(0.1 + 0.8 * Float(x + y + 3 * c) / Float(width + height + 6))
        }
      }
    }
    return Image(channels: channels, height: height, width: width, pixels: pixels)
  }

  @Test func grayRoundTrip() throws {
    let original = smooth(channels: 1)
    let decoded = try decodeImage(try JPEGCodec.encode(original, quality: 95))
    #expect(decoded.channels == 1)
    #expect(decoded.height == 16 && decoded.width == 24)
    #expect(maxAbsDifference(decoded.pixels, original.pixels) < 0.02)
  }

  @Test func rgbRoundTrip() throws {
    let original = smooth(channels: 3)
    let decoded = try decodeImage(try JPEGCodec.encode(original, quality: 95))
    #expect(decoded.channels == 3)
    #expect(maxAbsDifference(decoded.pixels, original.pixels) < 0.03)
  }

  @Test func lowerQualityIsSmallerAndLessExact() throws {
    let original = patternImage(channels: 3, height: 32, width: 32, maximum: 255)
    let high = try JPEGCodec.encode(original, quality: 95)
    let low = try JPEGCodec.encode(original, quality: 10)
    #expect(low.count < high.count)
  }

  @Test func writeAndRead() throws {
    let dir = try TemporaryDirectory()
    defer { dir.remove() }
    let path = "\(dir.path)/x.jpg"
    try JPEGCodec.write(smooth(channels: 3), to: path, quality: 90)
    #expect(try dir.entries() == ["x.jpg"])
    #expect(try readImage(path: path).channels == 3)
  }

  @Test func encoderRejectsBadArguments() {
    expectImageError("JPEG encoding needs 1 or 3 channels, not 4", file: nil) {
      _ = try JPEGCodec.encode(Image(channels: 4, height: 2, width: 2, filledWith: 0))
    }
    expectImageError("JPEG quality must be in 1...100", file: nil) {
      _ = try JPEGCodec.encode(Image(channels: 1, height: 2, width: 2, filledWith: 0), quality: 0)
    }
  }
}
