/// Bilinear resizing with exactly the arithmetic of PyTorch's
/// `F.interpolate(x, size=(H, W), mode="bilinear", align_corners=False, antialias=False)`
/// (also torchvision's tensor `Resize(..., antialias=False)`).

/// Source taps of one output index along one axis.
struct LinearTap {
  var index0: Int
  var index1: Int
  var weight0: Float
  var weight1: Float
}

/// Taps for resizing an axis of `inputSize` to `outputSize`, computed in Float as PyTorch does:
/// `scale = inputSize / outputSize`; `src = scale * (d + 0.5) - 0.5`, clamped below at 0;
/// `i0 = min(floor(src), inputSize - 1)`; `i1 = i0 + 1` unless `i0` is the last index (then `i0`);
/// `λ = clamp(src - i0, 0, 1)`; weights `1 - λ` and `λ`.
func linearTaps(inputSize: Int, outputSize: Int) -> [LinearTap] {
  let scale = Float(inputSize) / Float(outputSize)
  return (0..<outputSize).map { d in
    var source = scale * (Float(d) + 0.5) - 0.5
    if source < 0 { source = 0 }
    let i0 = min(Int(source.rounded(.down)), inputSize - 1)
    let lambda = min(max(source - Float(i0), 0), 1)
    let i1 = i0 < inputSize - 1 ? i0 + 1 : i0
    return LinearTap(index0: i0, index1: i1, weight0: 1 - lambda, weight1: lambda)
  }
}

/// Resizes every channel to `height` × `width` by bilinear interpolation with PyTorch's
/// `align_corners=False` convention (pixel centres at `i + 0.5`, see `linearTaps`): output
/// `h0 * (w0 * a + w1 * b) + h1 * (w0 * c + w1 * d)` where `a, b` are row `y0` at columns
/// `x0, x1` and `c, d` row `y1`. No antialiasing: when shrinking, each output still reads only
/// its 2×2 neighbours. Precondition: `height > 0`, `width > 0`, and a non-empty input.
public func resizeBilinear(_ image: Image, height: Int, width: Int) -> Image {
  precondition(height > 0 && width > 0, "resizeBilinear to \(height)x\(width)")
  precondition(image.height > 0 && image.width > 0, "resizeBilinear of an empty image")
  if height == image.height && width == image.width { return image }
  let rows = linearTaps(inputSize: image.height, outputSize: height)
  let columns = linearTaps(inputSize: image.width, outputSize: width)
  var out = [Float](repeating: 0, count: image.channels * height * width)
  image.pixels.withUnsafeBufferPointer { src in
    out.withUnsafeMutableBufferPointer { dst in
      for c in 0..<image.channels {
        let inPlane = c * image.height * image.width
        let outPlane = c * height * width
        for (y, row) in rows.enumerated() {
          let r0 = inPlane + row.index0 * image.width
          let r1 = inPlane + row.index1 * image.width
          for (x, col) in columns.enumerated() {
            let top = col.weight0 * src[r0 + col.index0] + col.weight1 * src[r0 + col.index1]
            let bottom = col.weight0 * src[r1 + col.index0] + col.weight1 * src[r1 + col.index1]
            dst[outPlane + y * width + x] = row.weight0 * top + row.weight1 * bottom
          }
        }
      }
    }
  }
  return Image(channels: image.channels, height: height, width: width, pixels: out)
}
