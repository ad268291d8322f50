// PNG encode/decode round trips for every colour type and bit depth (exact), palettes with and
// without transparency, sub-byte gray, and detection by magic bytes rather than by extension.

import Testing

@testable import ImageIO

@Suite struct PNGTests {
  @Test(arguments: [1, 2, 3, 4])
  func eightBitRoundTripIsExact(channels: Int) throws {
    let original = patternImage(channels: channels, height: 7, width: 11, maximum: 255)
    let decoded = try decodeImage(try PNGCodec.encode(original))
    #expect(decoded == original)
  }

  @Test(arguments: [1, 2, 3, 4])
  func sixteenBitRoundTripIsExact(channels: Int) throws {
    let original = patternImage(channels: channels, height: 5, width: 9, maximum: 65535)
    let bytes = try PNGCodec.encode(original, bitDepth: 16)
    #expect(bytes[24] == 16)  // IHDR bit depth
    let decoded = try decodeImage(bytes)
    #expect(decoded.channels == channels)
    #expect(decoded == original)
  }

  @Test func sixteenBitKeepsFullPrecision() throws {
    let values: [Float] = [0, 1, 257, 32768, 65534, 65535].map { Float($0) / 65535 }
    let original = Image(channels: 1, height: 1, width: 6, pixels: values)
    #expect(try decodeImage(try PNGCodec.encode(original, bitDepth: 16)).pixels == values)
  }

  @Test func encoderRoundsAndClamps() throws {
    let original = Image(channels: 1, height: 1, width: 5, pixels: [-0.5, 0.5, 1.7, .nan, 0.1])
    let decoded = try decodeImage(try PNGCodec.encode(original))
    #expect(decoded.pixels == [0, 128, 255, 0, 26].map { Float($0) / 255 })
  }

  @Test func uint8RGBEncoding() throws {
    let rgb: [UInt8] = [255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30]
    let decoded = try decodeImage(try PNGCodec.encode(rgb: rgb, height: 2, width: 2))
    #expect(decoded.channels == 3)
    #expect(decoded.plane(0).map { $0 * 255 } == [255, 0, 0, 10])
    #expect(decoded.plane(1).map { $0 * 255 } == [0, 255, 0, 20])
    #expect(decoded.plane(2).map { $0 * 255 } == [0, 0, 255, 30])
    expectImageError("12 bytes for a 3x2 RGB image", file: nil) { _ = try PNGCodec.encode(rgb: rgb, height: 3, width: 2) }
  }

  @Test func paletteExpandsToRGB() throws {
    let palette: [(red: UInt8, green: UInt8, blue: UInt8)] = [(0, 0, 0), (255, 128, 1), (10, 20, 30)]
    let bytes = try PNGCodec.encodePalette(indices: [0, 1, 2, 1, 1, 0], height: 2, width: 3, palette: palette)
    #expect(bytes[25] == 3)  // IHDR colour type: palette
    let decoded = try decodeImage(bytes)
    #expect(decoded.channels == 3)
    #expect(decoded.plane(0).map { $0 * 255 } == [0, 255, 10, 255, 255, 0])
    #expect(decoded.plane(1).map { $0 * 255 } == [0, 128, 20, 128, 128, 0])
    #expect(decoded.plane(2).map { $0 * 255 } == [0, 1, 30, 1, 1, 0])
  }

  @Test func paletteWithTransparencyGetsAlpha() throws {
    let palette: [(red: UInt8, green: UInt8, blue: UInt8)] = [(0, 0, 0), (255, 255, 255)]
    let bytes = try PNGCodec.encodePalette(indices: [0, 1, 1, 0], height: 2, width: 2, palette: palette, alpha: [0, 200], bitDepth: 1)
    let decoded = try decodeImage(bytes)
    #expect(decoded.channels == 4)
    #expect(decoded.plane(0).map { $0 * 255 } == [0, 255, 255, 0])
    #expect(decoded.plane(3).map { $0 * 255 } == [0, 200, 200, 0])
    // Dropping alpha keeps the colours as stored (no compositing), like PIL's convert("RGB").
    #expect(dropAlpha(decoded).pixels == Array(decoded.pixels[0..<12]))
  }

  @Test(arguments: [(1, 255), (2, 85), (4, 17)])
  func subByteGrayIsScaledTo8Bits(bitDepth: Int, step: Int) throws {
    let levels = 1 << bitDepth
    let samples = (0..<8).map { UInt8($0 % levels) }
    let decoded = try decodeImage(try PNGCodec.encodeGray(samples: samples, height: 2, width: 4, bitDepth: bitDepth))
    #expect(decoded.channels == 1)
    #expect(decoded.pixels == samples.map { Float(Int($0) * step) / 255 })
  }

  @Test func formatIsDetectedByMagicBytesNotExtension() throws {
    let dir = try TemporaryDirectory()
    defer { dir.remove() }
    let original = patternImage(channels: 3, height: 4, width: 4, maximum: 255)
    let png = try dir.write(try PNGCodec.encode(original), "really-a-png.jpg")
    #expect(try readImage(path: png) == original)
    let jpeg = try dir.write(try JPEGCodec.encode(original, quality: 90), "really-a-jpeg.png")
    #expect(try readImage(path: jpeg).channels == 3)
    #expect(ImageFormat(magic: try PNGCodec.encode(original)) == .png)
    #expect(ImageFormat(magic: [0xFF, 0xD8, 0xFF, 0xE0]) == .jpeg)
    #expect(ImageFormat(magic: Array("GIF89a".utf8)) == nil)
  }

  @Test func atomicWriteLeavesOnlyTheFile() throws {
    let dir = try TemporaryDirectory()
    defer { dir.remove() }
    let path = "\(dir.path)/heat.png"
    try PNGCodec.write(patternImage(channels: 1, height: 3, width: 3, maximum: 255), to: path)
    try PNGCodec.write(rgb: [1, 2, 3], height: 1, width: 1, to: path)
    #expect(try dir.entries() == ["heat.png"])
    #expect(try readImage(path: path).pixels == [1, 2, 3].map { Float($0) / 255 })
    expectImageError("PNG encoding needs 1 to 4 channels", file: path) {
      try PNGCodec.write(Image(channels: 5, height: 1, width: 1, filledWith: 0), to: path)
    }
    expectImageError("cannot create a temporary file", file: "\(dir.path)/missing/x.png") {
      try PNGCodec.write(rgb: [1, 2, 3], height: 1, width: 1, to: "\(dir.path)/missing/x.png")
    }
    #expect(try dir.entries() == ["heat.png"])
  }
}
