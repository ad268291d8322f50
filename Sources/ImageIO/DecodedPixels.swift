/// Turning the C shim's interleaved 8/16-bit samples into a planar float `Image` in [0, 1]
/// (8-bit divided by 255, 16-bit by 65535, like torchvision's ToTensor), and back.

import CImageShim

/// Copies a decoded image into planar floats and releases the C buffer.
func planarImage(consuming decoded: isn_decoded_image) -> Image {
  defer { isn_image_free(decoded.pixels) }
  let (c, h, w) = (Int(decoded.channels), Int(decoded.height), Int(decoded.width))
  let plane = h * w
  var pixels = [Float](repeating: 0, count: c * plane)
  pixels.withUnsafeMutableBufferPointer { out in
    if decoded.bit_depth == 16 {
      let samples = decoded.pixels.assumingMemoryBound(to: UInt16.self)
      for i in 0..<plane {
        for k in 0..<c {
          out[k * plane + i] = Float(samples[i * c + k]) / 65535
        }
      }
    } else {
      let samples = decoded.pixels.assumingMemoryBound(to: UInt8.self)
      for i in 0..<plane {
        for k in 0..<c {
          out[k * plane + i] = Float(samples[i * c + k]) / 255
        }
      }
    }
  }
  return Image(channels: c, height: h, width: w, pixels: pixels)
}

/// Rounds a [0, 1] value to 0...maximum (values outside are clamped, NaN becomes 0).
@inline(__always)
func quantize(_ value: Float, maximum: Float) -> Float {
  if value.isNaN { return 0 }
  return (min(max(value, 0), 1) * maximum).rounded()
}

/// Interleaved 8-bit samples (HWC) of a planar image.
func interleaved8(_ image: Image) -> [UInt8] {
  let plane = image.height * image.width
  var out = [UInt8](repeating: 0, count: image.channels * plane)
  for i in 0..<plane {
    for k in 0..<image.channels {
      out[i * image.channels + k] = UInt8(quantize(image.pixels[k * plane + i], maximum: 255))
    }
  }
  return out
}

/// Interleaved 16-bit samples (HWC, native endian) of a planar image.
func interleaved16(_ image: Image) -> [UInt16] {
  let plane = image.height * image.width
  var out = [UInt16](repeating: 0, count: image.channels * plane)
  for i in 0..<plane {
    for k in 0..<image.channels {
      out[i * image.channels + k] = UInt16(quantize(image.pixels[k * plane + i], maximum: 65535))
    }
  }
  return out
}

/// Calls a shim function that fills a message buffer, returning the message on failure.
func withErrorBuffer(_ body: (UnsafeMutablePointer<CChar>, Int) -> Int32) -> String? {
  var buffer = [CChar](repeating: 0, count: 512)
  let status = buffer.withUnsafeMutableBufferPointer { body($0.baseAddress!, $0.count) }
  if status == 0 { return nil }
  let message = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
  return message.isEmpty ? "unknown error" : message
}
