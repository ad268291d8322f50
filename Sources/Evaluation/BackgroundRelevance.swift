/// The share of a heatmap's absolute relevance that lies outside the foreground mask: the
/// ISNet's goal is to drive it to zero (paper section 4.2). `heatmap`: [C, H, W];
/// `mask`: [H, W], 1 = foreground (values in between weight partially). nil for an
/// all-zero heatmap.
public func backgroundRelevanceFraction(heatmap: [Float], channels: Int, mask: [Float]) -> Double? {
  let plane = mask.count
  precondition(heatmap.count == channels * plane)
  var total = 0.0
  var background = 0.0
  for c in 0..<channels {
    for i in 0..<plane {
      let r = abs(Double(heatmap[c * plane + i]))
      total += r
      background += r * (1 - Double(mask[i]))
    }
  }
  return total > 0 ? background / total : nil
}
