/// One call from an image file to a model input: decode, preprocess, CHW floats.

/// The optional preprocessing steps of the paper.
public struct PreprocessOptions: Sendable, Equatable {
  /// Zero-pad to a centred square before resizing (keeps the aspect ratio).
  public var padToSquare: Bool
  /// Equalize the histogram of the luminance (OpenCV's mapping) before anything else.
  public var equalizeHistogram: Bool

  public init(padToSquare: Bool = false, equalizeHistogram: Bool = false) {
    self.padToSquare = padToSquare
    self.equalizeHistogram = equalizeHistogram
  }
}

/// Reads a PNG or JPEG and returns `channels * height * width` floats (CHW) in `range`.
///
/// Steps, in order: decode to [0, 1] (8-bit / 255, 16-bit / 65535); drop alpha; equalize the
/// histogram if asked; adapt the channels (gray repeated to 3 for an RGB model, RGB to BT.601
/// luma for a gray model); pad to a square if asked; bilinear resize to `height` × `width`
/// (PyTorch `align_corners=False`, no antialiasing); map [0, 1] onto `range`.
/// Throws `ImageError` naming the file for unreadable, corrupt or unsupported files.
public func loadImage(
  path: String, channels: Int, height: Int, width: Int, range: ClosedRange<Float> = 0...1,
  options: PreprocessOptions = PreprocessOptions()
) throws -> [Float] {
  guard channels == 1 || channels == 3 else {
    throw ImageError(file: path, "the model expects \(channels) channels; only 1 (gray) or 3 (RGB) are supported")
  }
  guard height > 0, width > 0 else {
    throw ImageError(file: path, "bad target size \(height)x\(width)")
  }
  var image = dropAlpha(try readImage(path: path))
  guard image.height > 0, image.width > 0 else {
    throw ImageError(file: path, "image has no pixels")
  }
  if options.equalizeHistogram { image = equalizeHistogram(image) }
  switch (image.channels, channels) {
  case (1, 3): image = grayToRGB(image)
  case (3, 1): image = rgbToGray(image)
  default: break
  }
  if options.padToSquare { image = padToSquare(image) }
  image = resizeBilinear(image, height: height, width: width)
  return scaleToRange(image, low: range.lowerBound, high: range.upperBound).pixels
}
