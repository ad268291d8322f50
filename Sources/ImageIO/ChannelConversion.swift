/// Channel conversions: dropping alpha, gray to three channels, RGB to gray.

/// Removes the alpha channel (2 → 1 or 4 → 3 channels) without compositing onto a background,
/// as PIL's `convert("RGB")` / `convert("L")` do. Images without alpha come back unchanged.
public func dropAlpha(_ image: Image) -> Image {
  guard image.hasAlpha else { return image }
  let kept = image.channels - 1
  return Image(
    channels: kept, height: image.height, width: image.width,
    pixels: Array(image.pixels[0..<(kept * image.height * image.width)]))
}

/// Repeats a single gray channel three times (R = G = B = gray), as the paper does to feed
/// gray images to RGB models. Precondition: 1 channel.
public func grayToRGB(_ image: Image) -> Image {
  precondition(image.channels == 1, "grayToRGB needs 1 channel, not \(image.channels)")
  return Image(channels: 3, height: image.height, width: image.width, pixels: image.pixels + image.pixels + image.pixels)
}

/// Luma of an RGB image: Y = 0.299 R + 0.587 G + 0.114 B (ITU-R BT.601, the coefficients of
/// PIL's `convert("L")`, without its rounding to 8 bits). Precondition: 3 channels.
public func rgbToGray(_ image: Image) -> Image {
  precondition(image.channels == 3, "rgbToGray needs 3 channels, not \(image.channels)")
  let plane = image.height * image.width
  var out = [Float](repeating: 0, count: plane)
  for i in 0..<plane {
    out[i] = 0.299 * image.pixels[i] + 0.587 * image.pixels[plane + i] + 0.114 * image.pixels[2 * plane + i]
  }
  return Image(channels: 1, height: image.height, width: image.width, pixels: out)
}
