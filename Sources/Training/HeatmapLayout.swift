/// How a batch's heatmaps and masks are laid out for the heatmap losses: heatmaps
/// [B, K, C, H, W] flattened (K: the explained classes), masks [B, C, H, W] or [B, H, W]
/// (then broadcast over channels). One place for the shapes both losses check.
struct HeatmapLayout {
  let batch: Int
  let classes: Int
  /// Values of one heatmap: C·H·W.
  let perClass: Int
  /// H·W.
  let plane: Int
  private let maskPerSample: Int
  private let masks: [Double]
  /// 1 − mask at every position of every sample's heatmap ([B, C·H·W]): the losses read it
  /// once per value of every class's heatmap.
  let backgrounds: [Double]

  init(heatmaps count: Int, masks: [Double], batch: Int, classes: Int, channels: Int) {
    perClass = count / (batch * classes)
    plane = perClass / channels
    precondition(batch * classes * perClass == count && channels * plane == perClass)
    maskPerSample = masks.count / batch
    precondition(maskPerSample == perClass || maskPerSample == plane, "masks must be [B, C, H, W] or [B, H, W]")
    (self.batch, self.classes, self.masks) = (batch, classes, masks)
    var backgrounds = [Double](repeating: 0, count: batch * perClass)
    for b in 0..<batch {
      for i in 0..<perClass { backgrounds[b * perClass + i] = 1 - masks[b * maskPerSample + (maskPerSample == perClass ? i : i % plane)] }
    }
    self.backgrounds = backgrounds
  }

  /// 1 − the mask value at position `i` (0..<C·H·W) of sample `b`'s heatmaps.
  func background(_ b: Int, _ i: Int) -> Double { backgrounds[b * perClass + i] }

  /// The mask value at position `i` (0..<C·H·W) of sample `b`'s heatmaps.
  func mask(_ b: Int, _ i: Int) -> Double {
    masks[b * maskPerSample + (maskPerSample == perClass ? i : i % plane)]
  }

  /// Where heatmap (b, k) starts in the flattened heatmaps.
  func start(_ b: Int, _ k: Int) -> Int { (b * classes + k) * perClass }
}
