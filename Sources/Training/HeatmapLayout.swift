/// How a batch's heatmaps and masks are laid out for the heatmap losses: heatmaps
/// [B, K, C, H, W] flattened (K: the explained classes), masks [B, C, H, W] or [B, H, W]
/// (then broadcast over channels). One place for the shapes both losses check.
struct HeatmapLayout {
  let batch: Int
  let classes: Int
  let channels: Int
  /// Values of one heatmap: C·H·W.
  let perClass: Int
  /// H·W.
  let plane: Int
  /// Mask values per sample (C·H·W or H·W), and the distance between two channels' masks
  /// (0 where one plane serves every channel).
  let maskPerSample: Int
  let maskChannelStride: Int
  let masks: [Double]

  init(heatmaps count: Int, masks: [Double], batch: Int, classes: Int, channels: Int) {
    perClass = count / (batch * classes)
    plane = perClass / channels
    precondition(batch * classes * perClass == count && channels * plane == perClass)
    maskPerSample = masks.count / batch
    precondition(maskPerSample == perClass || maskPerSample == plane, "masks must be [B, C, H, W] or [B, H, W]")
    maskChannelStride = maskPerSample == perClass ? plane : 0
    (self.batch, self.classes, self.channels, self.masks) = (batch, classes, channels, masks)
  }

  /// The mask value at position `i` (0..<C·H·W) of sample `b`'s heatmaps.
  func mask(_ b: Int, _ i: Int) -> Double { masks[b * maskPerSample + i / plane * maskChannelStride + i % plane] }

  /// Where heatmap (b, k) starts in the flattened heatmaps.
  func start(_ b: Int, _ k: Int) -> Int { (b * classes + k) * perClass }

  /// Calls `body(i, m)` for every position i of sample `b`'s heatmap in increasing order,
  /// m the mask there: the losses' loops, without a division per value.
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
