/// Colours for the lines of plots: the Okabe–Ito palette, distinguishable with the common
/// colour-vision deficiencies, in an order whose first colours contrast most on white.
public enum Palette {
  public static let colors: [RGB] = [
    RGB(0, 114, 178),  // blue
    RGB(213, 94, 0),  // vermillion
    RGB(0, 158, 115),  // bluish green
    RGB(204, 121, 167),  // reddish purple
    RGB(230, 159, 0),  // orange
    RGB(86, 180, 233),  // sky blue
    RGB(0, 0, 0),  // black
    RGB(240, 228, 66),  // yellow
  ]

  /// The colour of series `index` (the palette repeats).
  public static func color(_ index: Int) -> RGB { colors[((index % colors.count) + colors.count) % colors.count] }

  public static let text = RGB(25, 25, 25)
  public static let secondaryText = RGB(90, 90, 90)
  public static let grid = RGB(228, 228, 228)
  public static let frame = RGB(120, 120, 120)
}
