/// Mapping pixel values from [0, 1] onto a model's declared input range.

/// Maps every value linearly from [0, 1] onto [low, high]: `v' = low + v * (high - low)`
/// (e.g. [-1, 1] for models trained on `2 * x - 1`). Values outside [0, 1] extrapolate.
public func scaleToRange(_ image: Image, low: Float, high: Float) -> Image {
  var out = image
  let span = high - low
  for i in out.pixels.indices { out.pixels[i] = low + out.pixels[i] * span }
  return out
}
