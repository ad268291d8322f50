// Corrupt, truncated, empty and non-image files: each gives an ImageError naming the file,
// never a crash.

import Testing

@testable import ImageIO

@Suite final class DecodeErrorTests {
  let dir: TemporaryDirectory
  let png: [UInt8]
  let jpeg: [UInt8]

  init() throws {
    dir = try TemporaryDirectory()
    png = try PNGCodec.encode(patternImage(channels: 3, height: 32, width: 32, maximum: 255))
    jpeg = try JPEGCodec.encode(patternImage(channels: 3, height: 32, width: 32, maximum: 255), quality: 90)
  }

  deinit { dir.remove() }

  @Test func missingFile() {
    let path = "\(dir.path)/absent.png"
    expectImageError("cannot open: No such file or directory", file: path) { _ = try readImage(path: path) }
  }

  @Test func directory() {
    expectImageError("is a directory", file: dir.path) { _ = try readImage(path: dir.path) }
  }

  @Test func emptyFile() throws {
    let path = try dir.write([], "empty.png")
    expectImageError("file is empty", file: path) { _ = try readImage(path: path) }
  }

  @Test func textFileNamedPNG() throws {
    let path = try dir.write(Array("hello, this is text\n".utf8), "notes.png")
    expectImageError("not a PNG, JPEG or DICOM file (unrecognised signature 68 65 6c 6c", file: path) { _ = try readImage(path: path) }
  }

  @Test func randomBytes() throws {
    var generator = SystemRandomNumberGenerator()
    let path = try dir.write((0..<1000).map { _ in UInt8.random(in: 1...254, using: &generator) }, "random.jpg")
    expectImageError("not a PNG, JPEG or DICOM file", file: path) { _ = try readImage(path: path) }
  }

  @Test(arguments: [9, 40, 100, 200])
  func truncatedPNG(length: Int) throws {
    let path = try dir.write(Array(png.prefix(length)), "cut\(length).png")
    expectImageError("PNG decoding failed", file: path) { _ = try readImage(path: path) }
  }

  @Test func pngMissingOnlyItsEnd() throws {
    let path = try dir.write(Array(png.dropLast(12)), "noiend.png")
    expectImageError("PNG decoding failed: unexpected end of file (truncated PNG)", file: path) { _ = try readImage(path: path) }
  }

  @Test func pngSignatureThenGarbage() throws {
    let path = try dir.write(Array(png.prefix(8)) + (0..<200).map { UInt8(truncatingIfNeeded: $0 &* 37) }, "garbage.png")
    expectImageError("PNG decoding failed", file: path) { _ = try readImage(path: path) }
  }

  @Test func pngCorruptedData() throws {
    var corrupt = png
    // Flip bytes inside the IDAT chunk (after the 8-byte signature and the 25-byte IHDR chunk).
    for i in stride(from: 50, to: min(corrupt.count - 20, 90), by: 3) { corrupt[i] ^= 0x5A }
    let path = try dir.write(corrupt, "corrupt.png")
    expectImageError("PNG decoding failed", file: path) { _ = try readImage(path: path) }
  }

  @Test(arguments: [3, 20, 200])
  func truncatedJPEG(length: Int) throws {
    let path = try dir.write(Array(jpeg.prefix(length)), "cut\(length).jpg")
    expectImageError("JPEG decoding failed", file: path) { _ = try readImage(path: path) }
  }

  @Test func jpegCutInTheScanData() throws {
    let path = try dir.write(Array(jpeg.prefix(jpeg.count - 100)), "cutscan.jpg")
    expectImageError("JPEG decoding failed: Premature end of JPEG file", file: path) { _ = try readImage(path: path) }
  }

  @Test func jpegSignatureThenGarbage() throws {
    let path = try dir.write([0xFF, 0xD8, 0xFF] + Array(repeating: 0x41, count: 64), "garbage.jpg")
    expectImageError("JPEG decoding failed", file: path) { _ = try readImage(path: path) }
  }

  @Test func cmykJPEGIsRefused() throws {
    let path = try dir.write(try JPEGCodec.encodeCMYK(Array(repeating: 100, count: 4 * 8 * 8), height: 8, width: 8), "cmyk.jpg")
    expectImageError("JPEG decoding failed: CMYK/YCCK JPEG is not supported", file: path) { _ = try readImage(path: path) }
  }

  @Test func loadImageNamesTheFile() throws {
    let path = try dir.write(Array("GIF89a....".utf8), "anim.gif")
    expectImageError("not a PNG, JPEG or DICOM", file: path) {
      _ = try loadImage(path: path, channels: 3, height: 4, width: 4)
    }
    let good = try dir.write(png, "good.png")
    expectImageError("only 1 (gray) or 3 (RGB)", file: good) { _ = try loadImage(path: good, channels: 2, height: 4, width: 4) }
    expectImageError("bad target size 0x4", file: good) { _ = try loadImage(path: good, channels: 3, height: 0, width: 4) }
  }
}
