/// PNG decoding and encoding through the C shim (libpng). Decoding keeps stored sample values
/// (no gamma correction, no alpha compositing), as PIL and torchvision do.

import CImageShim

public enum PNGCodec {
  /// Decodes PNG bytes: 1/2/4/8/16-bit gray, gray+alpha, RGB, RGBA or palette (expanded to RGB,
  /// plus alpha when the file has a tRNS chunk). `file` names the source in errors.
  public static func decode(_ bytes: [UInt8], file: String? = nil) throws -> Image {
    var decoded = isn_decoded_image()
    let failure = bytes.withUnsafeBufferPointer { data in
      withErrorBuffer { isn_png_decode(data.baseAddress, data.count, &decoded, $0, $1) }
    }
    if let failure { throw ImageError(file: file, "PNG decoding failed: \(failure)") }
    return planarImage(consuming: decoded)
  }

  /// Encodes a 1-channel (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA) image with values in [0, 1]
  /// (clamped, rounded) at 8 or 16 bits per sample.
  public static func encode(_ image: Image, bitDepth: Int = 8) throws -> [UInt8] {
    let colorTypes: [Int32] = [ISN_PNG_GRAY, ISN_PNG_GRAY_ALPHA, ISN_PNG_RGB, ISN_PNG_RGBA]
    guard (1...4).contains(image.channels) else {
      throw ImageError(file: nil, "PNG encoding needs 1 to 4 channels, not \(image.channels)")
    }
    guard bitDepth == 8 || bitDepth == 16 else {
      throw ImageError(file: nil, "PNG encoding supports 8 or 16 bits per sample, not \(bitDepth)")
    }
    let colorType = colorTypes[image.channels - 1]
    if bitDepth == 16 {
      return try encodeRaw(interleaved16(image), height: image.height, width: image.width, colorType: colorType, bitDepth: 16)
    }
    return try encodeRaw(interleaved8(image), height: image.height, width: image.width, colorType: colorType, bitDepth: 8)
  }

  /// Encodes interleaved 8-bit RGB samples (`height * width * 3` bytes, row-major).
  public static func encode(rgb: [UInt8], height: Int, width: Int) throws -> [UInt8] {
    guard rgb.count == height * width * 3 else {
      throw ImageError(file: nil, "PNG encoding: \(rgb.count) bytes for a \(height)x\(width) RGB image")
    }
    return try encodeRaw(rgb, height: height, width: width, colorType: ISN_PNG_RGB, bitDepth: 8)
  }

  /// Encodes an image (see `encode(_:bitDepth:)`) and writes it to `path` atomically.
  public static func write(_ image: Image, to path: String, bitDepth: Int = 8) throws {
    let bytes: [UInt8]
    do {
      bytes = try encode(image, bitDepth: bitDepth)
    } catch let error as ImageError {
      throw ImageError(file: path, error.message)
    }
    try writeFileBytesAtomically(bytes, to: path)
  }

  /// Writes interleaved 8-bit RGB samples to `path` as PNG, atomically.
  public static func write(rgb: [UInt8], height: Int, width: Int, to path: String) throws {
    let bytes: [UInt8]
    do {
      bytes = try encode(rgb: rgb, height: height, width: width)
    } catch let error as ImageError {
      throw ImageError(file: path, error.message)
    }
    try writeFileBytesAtomically(bytes, to: path)
  }

  /// Encodes a palette image: one index per pixel, `palette` RGB entries (1...256), optional
  /// per-entry alpha (a tRNS chunk), `bitDepth` 1, 2, 4 or 8.
  public static func encodePalette(
    indices: [UInt8], height: Int, width: Int, palette: [(red: UInt8, green: UInt8, blue: UInt8)], alpha: [UInt8] = [],
    bitDepth: Int = 8
  ) throws -> [UInt8] {
    guard indices.count == height * width else {
      throw ImageError(file: nil, "PNG encoding: \(indices.count) indices for a \(height)x\(width) image")
    }
    guard let largest = indices.max().map(Int.init), largest < palette.count, largest < 1 << bitDepth else {
      throw ImageError(file: nil, "PNG encoding: palette index out of range")
    }
    let flat = palette.flatMap { [$0.red, $0.green, $0.blue] }
    return try encodeRaw(indices, height: height, width: width, colorType: ISN_PNG_PALETTE, bitDepth: bitDepth, palette: flat, alpha: alpha)
  }

  /// Encodes gray samples at 1, 2 or 4 bits (one sample value 0..<2^bitDepth per byte) or 8 bits.
  public static func encodeGray(samples: [UInt8], height: Int, width: Int, bitDepth: Int) throws -> [UInt8] {
    guard samples.count == height * width else {
      throw ImageError(file: nil, "PNG encoding: \(samples.count) samples for a \(height)x\(width) image")
    }
    guard [1, 2, 4, 8].contains(bitDepth), samples.allSatisfy({ Int($0) < 1 << bitDepth }) else {
      throw ImageError(file: nil, "PNG encoding: samples do not fit \(bitDepth) bits")
    }
    return try encodeRaw(samples, height: height, width: width, colorType: ISN_PNG_GRAY, bitDepth: bitDepth)
  }

  private static func encodeRaw<Sample>(
    _ samples: [Sample], height: Int, width: Int, colorType: Int32, bitDepth: Int, palette: [UInt8] = [], alpha: [UInt8] = []
  ) throws -> [UInt8] {
    guard height > 0, width > 0, height <= Int(Int32.max), width <= Int(Int32.max) else {
      throw ImageError(file: nil, "PNG encoding: bad image size \(height)x\(width)")
    }
    var output: UnsafeMutablePointer<UInt8>?
    var size = 0
    let failure = samples.withUnsafeBytes { raw in
      palette.withUnsafeBufferPointer { paletteBytes in
        alpha.withUnsafeBufferPointer { alphaBytes in
          withErrorBuffer {
            isn_png_encode(
              raw.baseAddress, Int32(width), Int32(height), colorType, Int32(bitDepth),
              paletteBytes.baseAddress, Int32(palette.count / 3), alphaBytes.baseAddress, Int32(alpha.count),
              &output, &size, $0, $1)
          }
        }
      }
    }
    if let failure { throw ImageError(file: nil, "PNG encoding failed: \(failure)") }
    defer { isn_image_free(output) }
    return Array(UnsafeBufferPointer(start: output, count: size))
  }
}
