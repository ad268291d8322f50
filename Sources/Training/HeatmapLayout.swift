/// How a batch's heatmaps and masks are laid out for the heatmap losses: heatmaps
/// [B, K, C, H, W] flattened (K: the explained classes), masks [B, C, H, W] or [B, H, W]
/// (then broadcast over channels). One place for the shapes both losses check.
struct HeatmapLayout {
  let channels: Int
  /// Values of one heatmap: C·H·W.
  let perClass: Int
  /// H·W.
  let plane: Int
  /// Mask values per sample (C·H·W or H·W), and the distance between two channels' masks
  /// (0 where one plane serves every channel).
  private let maskPerSample: Int
  private let maskChannelStride: Int
  private let masks: [Double]

  init(heatmaps count: Int, masks: [Double], batch: Int, classes: Int, channels: Int) {
    perClass = count / (batch * classes)
    plane = perClass / channels
    precondition(batch * classes * perClass == count && channels * plane == perClass)
    maskPerSample = masks.count / batch
    precondition(maskPerSample == perClass || maskPerSample == plane, "masks must be [B, C, H, W] or [B, H, W]")
    maskChannelStride = maskPerSample == perClass ? plane : 0
    (self.channels, self.masks) = (channels, masks)
  }

  /// Calls `body(i, m)` for every position i of sample `b`'s heatmap in increasing order,
  /// m the mask there (broadcast over the channels where it is one plane).
  @inline(__always)
  func forEachPosition(of b: Int, _ body: (Int, Double) -> Void) {
    masks.withUnsafeBufferPointer { m in
      let base = b * maskPerSample
      for c in 0..<channels {
        let row = base + c * maskChannelStride
        let offset = c * plane
        for p in 0..<plane { body(offset + p, m[row + p]) }
      }
    }
  }
}

/// sign(x) with sign(0) = 0: |x|'s derivative as PyTorch takes it, in the losses' gradients.
func absDerivative(_ x: Double) -> Double { x > 0 ? 1 : (x < 0 ? -1 : 0) }
