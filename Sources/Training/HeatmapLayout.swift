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
  /// The masks broadcast to every position of a sample's heatmap, [B, C·H·W]: the losses
  /// read them once per value of every class's heatmap.
  private let masks: [Double]

  init(heatmaps count: Int, masks: [Double], batch: Int, classes: Int, channels: Int) {
    perClass = count / (batch * classes)
    plane = perClass / channels
    precondition(batch * classes * perClass == count && channels * plane == perClass)
    let maskPerSample = masks.count / batch
    precondition(maskPerSample == perClass || maskPerSample == plane, "masks must be [B, C, H, W] or [B, H, W]")
    (self.batch, self.classes) = (batch, classes)
    let (perClass, plane) = (perClass, plane)
    self.masks = maskPerSample == perClass ? masks : (0..<batch * perClass).map { masks[$0 / perClass * plane + $0 % plane] }
  }

  /// The mask value at position `i` (0..<C·H·W) of sample `b`'s heatmaps.
  func mask(_ b: Int, _ i: Int) -> Double { masks[b * perClass + i] }

  /// Where heatmap (b, k) starts in the flattened heatmaps.
  func start(_ b: Int, _ k: Int) -> Int { (b * classes + k) * perClass }
}

/// sign(x) with sign(0) = 0: |x|'s derivative as PyTorch takes it, in the losses' gradients.
func absDerivative(_ x: Double) -> Double { x > 0 ? 1 : (x < 0 ? -1 : 0) }
