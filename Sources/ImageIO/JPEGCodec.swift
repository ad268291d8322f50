/// JPEG decoding and encoding through the C shim (libjpeg-turbo, default settings: the integer
/// slow DCT and fancy upsampling, the same as PIL). Gray and YCbCr/RGB files; CMYK is refused.

import CImageShim

public enum JPEGCodec {
  /// Decodes JPEG bytes to a 1-channel (gray) or 3-channel (RGB) image in [0, 1].
  /// A truncated file is an error (libjpeg would fill the rest with grey).
  public static func decode(_ bytes: [UInt8], file: String? = nil) throws -> Image {
    var decoded = isn_decoded_image()
    let failure = bytes.withUnsafeBufferPointer { data in
      withErrorBuffer { isn_jpeg_decode(data.baseAddress, data.count, &decoded, $0, $1) }
    }
    if let failure { throw ImageError(file: file, "JPEG decoding failed: \(failure)") }
    return planarImage(consuming: decoded)
  }

  /// Encodes a gray (1-channel) or RGB (3-channel) image with values in [0, 1] as a baseline
  /// JPEG; `quality` is libjpeg's 1...100 scale (4:2:0 chroma subsampling for RGB).
  public static func encode(_ image: Image, quality: Int = 90) throws -> [UInt8] {
    guard image.channels == 1 || image.channels == 3 else {
      throw ImageError(file: nil, "JPEG encoding needs 1 or 3 channels, not \(image.channels)")
    }
    guard (1...100).contains(quality) else {
      throw ImageError(file: nil, "JPEG quality must be in 1...100, not \(quality)")
    }
    guard image.height > 0, image.width > 0, image.height <= 65_500, image.width <= 65_500 else {
      throw ImageError(file: nil, "JPEG encoding: bad image size \(image.height)x\(image.width)")
    }
    return try encodeRaw(interleaved8(image), height: image.height, width: image.width, channels: image.channels, quality: quality)
  }

  /// Encodes interleaved 8-bit CMYK samples (for tests: the decoder refuses CMYK files).
  static func encodeCMYK(_ samples: [UInt8], height: Int, width: Int) throws -> [UInt8] {
    try encodeRaw(samples, height: height, width: width, channels: 4, quality: 90)
  }

  private static func encodeRaw(_ samples: [UInt8], height: Int, width: Int, channels: Int, quality: Int) throws -> [UInt8] {
    precondition(samples.count == height * width * channels)
    var output: UnsafeMutablePointer<UInt8>?
    var size = 0
    let failure = samples.withUnsafeBufferPointer { raw in
      withErrorBuffer {
        isn_jpeg_encode(raw.baseAddress, Int32(width), Int32(height), Int32(channels), Int32(quality), &output, &size, $0, $1)
      }
    }
    if let failure { throw ImageError(file: nil, "JPEG encoding failed: \(failure)") }
    defer { isn_image_free(output) }
    return Array(UnsafeBufferPointer(start: output, count: size))
  }

  /// Encodes and writes a JPEG to `path` atomically.
  public static func write(_ image: Image, to path: String, quality: Int = 90) throws {
    let bytes: [UInt8]
    do {
      bytes = try encode(image, quality: quality)
    } catch let error as ImageError {
      throw ImageError(file: path, error.message)
    }
    try writeFileBytesAtomically(bytes, to: path)
  }
}
