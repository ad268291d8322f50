/// Histogram equalization, per image, on the luminance, with OpenCV's `equalizeHist` mapping.

/// The 256-entry lookup table of OpenCV's `cv::equalizeHist` for an 8-bit histogram:
/// with `total` pixels, `cdf(v)` the number of pixels `<= v` and `vmin` the smallest value present,
/// `lut[v] = round((cdf(v) - cdf(vmin)) * (255 / (total - cdf(vmin))))` (Float arithmetic,
/// round half to even), so `lut[vmin] = 0` and `lut[vmax] = 255`. A constant image maps to itself.
func equalizationTable(histogram: [Int]) -> [Int] {
  precondition(histogram.count == 256)
  let total = histogram.reduce(0, +)
  guard let first = histogram.firstIndex(where: { $0 > 0 }) else { return Array(0..<256) }
  if histogram[first] == total { return Array(0..<256) }
  let scale = Float(255) / Float(total - histogram[first])
  var table = Array(0..<256)
  table[first] = 0
  var sum = 0
  for v in (first + 1)..<256 {
    sum += histogram[v]
    table[v] = min(max(Int((Float(sum) * scale).rounded(.toNearestOrEven)), 0), 255)
  }
  return table
}

/// Equalizes the histogram of the image's luminance (alpha is left alone).
///
/// Values are binned into 256 levels as OpenCV's 8-bit input would be: `bin = round(v * 255)`
/// (clamped to 0...255). A gray image becomes `lut[bin] / 255` (so the output is quantized to
/// 8 bits). For RGB, the luma `Y = 0.299 R + 0.587 G + 0.114 B` is binned and equalized, and each
/// channel is shifted by `lut[bin(Y)] / 255 - Y` then clamped to [0, 1]: the same as converting to
/// YCbCr (JPEG, full range), replacing Y and converting back, since the inverse transform adds
/// Y with weight 1 to every channel.
public func equalizeHistogram(_ image: Image) -> Image {
  let plane = image.height * image.width
  guard plane > 0 else { return image }
  let colorChannels = image.hasAlpha ? image.channels - 1 : image.channels
  precondition(colorChannels == 1 || colorChannels == 3, "equalizeHistogram needs gray or RGB, not \(image.channels) channels")
  var luma = [Float](repeating: 0, count: plane)
  if colorChannels == 1 {
    luma = Array(image.pixels[0..<plane])
  } else {
    for i in 0..<plane {
      luma[i] = 0.299 * image.pixels[i] + 0.587 * image.pixels[plane + i] + 0.114 * image.pixels[2 * plane + i]
    }
  }
  let bins = luma.map { v -> Int in v.isNaN ? 0 : Int((min(max(v, 0), 1) * 255).rounded()) }
  var histogram = [Int](repeating: 0, count: 256)
  for b in bins { histogram[b] += 1 }
  let table = equalizationTable(histogram: histogram)

  var out = image
  if colorChannels == 1 {
    for i in 0..<plane { out.pixels[i] = Float(table[bins[i]]) / 255 }
  } else {
    for i in 0..<plane {
      let shift = Float(table[bins[i]]) / 255 - luma[i]
      for c in 0..<3 {
        out.pixels[c * plane + i] = min(max(image.pixels[c * plane + i] + shift, 0), 1)
      }
    }
  }
  return out
}
