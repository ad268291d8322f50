/// The colour bar of heatmap pictures: the blue–white–red ramp over ±R with ticks at −R,
/// −R/2, 0, R/2 and R in relevance units, then the range's statement and what the colours
/// mean, wrapped to the bar's width.
struct ColourBar {
  var scale: RelevanceScale
  /// Clauses after the range's statement (e.g. that the classes share it).
  var notes: [String]

  static let barHeight = 16.0
  static let tickLength = 4.0

  /// Ticks as (fraction along the bar, label); the half ticks unlabelled when labels would crowd.
  func ticks(on drawing: Drawing, width: Double) -> [(Double, String)] {
    guard scale.range > 0 else { return [(0.5, "0")] }
    let values = [-1.0, -0.5, 0, 0.5, 1].map { $0 * scale.range }
    let labels = values.map { NumberText.short($0) }
    // The end labels hang inwards from the bar's ends, the others are centred on their
    // ticks: the quarter labels fit when they clear both neighbours by a gap.
    let widths = labels.map { drawing.textWidth($0, .small) }
    let gap = 6.0
    let quarterFits =
      width / 4 - widths[1] / 2 >= widths[0] + gap && width / 4 - widths[1] / 2 - widths[2] / 2 >= gap
      && width / 4 - widths[3] / 2 >= widths[4] + gap && width / 4 - widths[3] / 2 - widths[2] / 2 >= gap
    return zip([0, 0.25, 0.5, 0.75, 1.0], labels).enumerated().map { i, tick in
      (tick.0, quarterFits || i % 2 == 0 ? tick.1 : "")
    }
  }

  func lines(on drawing: Drawing, width: Double) -> [String] {
    let text = ([scale.label] + notes).joined(separator: "; ") + ". Red: relevance for the class, blue: against it."
    return drawing.wrapped(text, width: width, font: .body)
  }

  func height(on drawing: Drawing, width: Double) -> Double {
    Self.barHeight + Self.tickLength + drawing.lineHeight(.small) + 6
      + Double(lines(on: drawing, width: width).count) * drawing.lineHeight(.body)
  }

  /// Draws the bar with its top-left corner at (x, y); returns the height used.
  @discardableResult
  func draw(on drawing: Drawing, x: Double, y: Double, width: Double) -> Double {
    let steps = max(Int(width.rounded()), 2)
    for i in 0..<steps {
      let color = DivergingColormap.color(Double(i) / Double(steps - 1) * 2 - 1)
      drawing.fill(x: x + Double(i), y: y, width: 1, height: Self.barHeight, color: color)
    }
    drawing.stroke(x: x + 0.5, y: y + 0.5, width: Double(steps) - 1, height: Self.barHeight - 1, color: Palette.frame)
    var top = y + Self.barHeight
    for (fraction, label) in ticks(on: drawing, width: width) {
      let tx = (x + fraction * (Double(steps) - 1)).rounded() + 0.5
      drawing.line([(tx, top), (tx, top + Self.tickLength)], color: Palette.frame, width: 1)
      let align: TextAlignment = fraction == 0 ? .left : fraction == 1 ? .right : .center
      drawing.text(label, x: fraction == 0 ? x : fraction == 1 ? x + Double(steps) : tx, y: top + Self.tickLength, font: .small, color: Palette.text, align: align)
    }
    top += Self.tickLength + drawing.lineHeight(.small) + 6
    for line in lines(on: drawing, width: width) {
      drawing.text(line, x: x, y: top, font: .body, color: Palette.secondaryText)
      top += drawing.lineHeight(.body)
    }
    return top - y
  }
}
