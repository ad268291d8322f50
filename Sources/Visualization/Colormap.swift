/// The diverging blue–white–red colormap of the paper's heatmaps: negative relevance blue,
/// zero white, positive red. Piecewise linear between five anchors (a ColorBrewer RdBu-like
/// ramp), symmetric around white.
public enum DivergingColormap {
  static let negative: [RGB] = [RGB(255, 255, 255), RGB(146, 197, 222), RGB(33, 102, 172), RGB(5, 48, 97)]
  static let positive: [RGB] = [RGB(255, 255, 255), RGB(244, 165, 130), RGB(178, 24, 43), RGB(103, 0, 31)]

  /// The colour of `value` in [−1, 1] (values outside are clamped).
  public static func color(_ value: Double) -> RGB {
    let v = value.isFinite ? value.clamped(-1, 1) : 0
    let ramp = v < 0 ? negative : positive
    let position = abs(v) * Double(ramp.count - 1)
    let index = min(Int(position), ramp.count - 2)
    return ramp[index].mixed(with: ramp[index + 1], position - Double(index))
  }
}
