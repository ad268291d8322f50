/// Padding to a square canvas, the paper's option before resizing (keeps the aspect ratio).

/// Pads the shorter side with `value` (0 by default) so that height == width, centring the image:
/// for a size difference `d`, the top (or left) gets `d / 2` rows (columns), rounded down, and the
/// bottom (or right) the remaining `d - d / 2`. A square image comes back unchanged.
public func padToSquare(_ image: Image, value: Float = 0) -> Image {
  let side = max(image.height, image.width)
  if image.height == side && image.width == side { return image }
  let top = (side - image.height) / 2
  let left = (side - image.width) / 2
  var out = Image(channels: image.channels, height: side, width: side, filledWith: value)
  for c in 0..<image.channels {
    for y in 0..<image.height {
      let source = (c * image.height + y) * image.width
      let destination = (c * side + top + y) * side + left
      out.pixels.replaceSubrange(destination..<(destination + image.width), with: image.pixels[source..<(source + image.width)])
    }
  }
  return out
}
