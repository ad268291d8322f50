/// A line chart drawn into a box of a Drawing: a title, a framed plot area with grid lines,
/// ticks and labelled axes, the series as lines (dashed or solid, with markers when
/// points are few), an optional labelled vertical marker and chance diagonal, and a legend
/// below the plot or inside its lower right corner.
public struct LineChart: Sendable {
  public struct Series: Sendable {
    public var name: String
    public var x: [Double]
    /// nil where the series has no value (the line breaks there).
    public var y: [Double?]
    public var color: RGB
    public var dashed: Bool
    public init(name: String, x: [Double], y: [Double?], color: RGB, dashed: Bool = false) {
      precondition(x.count == y.count)
      self.name = name
      self.x = x
      self.y = y
      self.color = color
      self.dashed = dashed
    }
  }

  public enum LegendPlacement: Sendable { case below, insideLowerRight }

  public var title: String
  public var xLabel: String
  public var yLabel: String
  public var series: [Series]
  public var xRange: ClosedRange<Double>?
  public var yRange: ClosedRange<Double>?
  /// nil: logarithmic when the values are positive and span over 30 times.
  public var logarithmicY: Bool?
  public var integerX = false
  /// Whether a linear y axis extends to 0.
  public var includeZero = true
  /// Whether points get markers; nil: where a series has at most 40 points.
  public var markers: Bool?
  /// A dotted vertical line at x, labelled (e.g. the best epoch).
  public var marker: (x: Double, label: String)?
  /// The dashed line y = x (an ROC curve's chance level).
  public var diagonal = false
  public var legend: LegendPlacement = .below
  /// At most this many legend entries; the rest are counted in a last line.
  public var legendLimit = 12

  public init(title: String, xLabel: String, yLabel: String, series: [Series]) {
    self.title = title
    self.xLabel = xLabel
    self.yLabel = yLabel
    self.series = series
  }

  var xAxis: Axis {
    Axis.linear(values: series.flatMap(\.x), fixed: xRange, integer: integerX, count: 6)
  }

  var yAxis: Axis {
    let values = series.flatMap { $0.y.compactMap { $0 } }
    if yRange == nil, logarithmicY ?? Axis.prefersLogarithmic(values) { return .logarithmic(values: values) }
    return Axis.linear(values: values, fixed: yRange, includeZero: includeZero)
  }

  static let dash = [6.0, 4.0]
  /// Pixels between the frame and the data range, so points on the range's ends show whole.
  static let inset = 6.0

  // MARK: - Layout

  /// Space left of the plot area: the y tick labels and the rotated axis label.
  func leftPad(_ d: Drawing) -> Double {
    (yAxis.labels.map { d.textWidth($0, .small) }.max() ?? 0) + 10 + d.lineHeight(.body) + 4
  }

  func legendEntries() -> [(String, RGB, Bool)] {
    var entries = series.prefix(legendLimit).map { ($0.name, $0.color, $0.dashed) }
    if series.count > legendLimit { entries.append(("… and \(series.count - legendLimit) more", Palette.secondaryText, false)) }
    return entries
  }

  /// Legend rows below the plot: entries flowed left to right in `width`.
  func legendRows(_ d: Drawing, width: Double) -> [[(String, RGB, Bool)]] {
    var rows: [[(String, RGB, Bool)]] = [[]]
    var used = 0.0
    for entry in legendEntries() {
      let w = 30 + d.textWidth(entry.0, .body) + 18
      if used + w > width, !rows[rows.count - 1].isEmpty {
        rows.append([])
        used = 0
      }
      rows[rows.count - 1].append(entry)
      used += w
    }
    return rows.filter { !$0.isEmpty }
  }

  /// The height the chart takes at `width` with a plot area `plotHeight` tall.
  func height(_ d: Drawing, width: Double, plotHeight: Double) -> Double {
    let legendHeight = legend == .below ? Double(legendRows(d, width: width).count) * d.lineHeight(.body) + 6 : 0
    return d.lineHeight(.heading) + 8 + plotHeight + 6 + d.lineHeight(.small) + d.lineHeight(.body) + 6 + legendHeight
  }

  // MARK: - Drawing

  /// Draws the chart in the box from (x, y), `width` wide, its plot area `plotHeight` tall.
  func draw(on d: Drawing, x: Double, y: Double, width: Double, plotHeight: Double) {
    let (xAxis, yAxis) = (self.xAxis, self.yAxis)
    d.text(d.shortened(title, toFit: width, font: .heading), x: x, y: y, font: .heading, color: Palette.text)
    let left = (x + leftPad(d)).rounded(), top = (y + d.lineHeight(.heading) + 8).rounded()
    let plotWidth = (width - (left - x) - 12).rounded()
    let inset = Self.inset
    func px(_ v: Double) -> Double? { xAxis.fraction(v).map { left + inset + $0 * (plotWidth - 2 * inset) } }
    func py(_ v: Double) -> Double? { yAxis.fraction(v).map { top + plotHeight - inset - $0 * (plotHeight - 2 * inset) } }

    // Grid, ticks and tick labels.
    for (t, label) in zip(yAxis.ticks, yAxis.labels) {
      guard let yy = py(t).map({ $0.rounded() + 0.5 }) else { continue }
      d.line([(left, yy), (left + plotWidth, yy)], color: Palette.grid, width: 1)
      d.text(label, x: left - 6, y: yy - d.lineHeight(.small) / 2, font: .small, color: Palette.text, align: .right)
    }
    for (t, label) in zip(xAxis.ticks, xAxis.labels) {
      guard let xx = px(t).map({ $0.rounded() + 0.5 }) else { continue }
      d.line([(xx, top), (xx, top + plotHeight)], color: Palette.grid, width: 1)
      d.line([(xx, top + plotHeight), (xx, top + plotHeight + 4)], color: Palette.frame, width: 1)
      d.text(label, x: xx, y: top + plotHeight + 5, font: .small, color: Palette.text, align: .center)
    }
    d.text(xLabel, x: left + plotWidth / 2, y: top + plotHeight + 6 + d.lineHeight(.small), font: .body, color: Palette.text, align: .center)
    d.text(yLabel, x: x, y: top + plotHeight / 2, font: .body, color: Palette.text, align: .center, angle: -Double.pi / 2)

    d.clipped(x: left, y: top, width: plotWidth, height: plotHeight) {
      if diagonal, let a = px(0), let b = py(0), let c = px(1), let e = py(1) {
        d.line([(a, b), (c, e)], color: Palette.frame, width: 1, dash: [4, 4])
      }
      if let marker, let mx = px(marker.x).map({ $0.rounded() + 0.5 }) {
        d.line([(mx, top), (mx, top + plotHeight)], color: Palette.secondaryText, width: 1, dash: [2, 3])
        // The label on the side with room.
        let right = mx < left + plotWidth / 2
        d.text(marker.label, x: right ? mx + 4 : mx - 4, y: top + 2, font: .small, color: Palette.secondaryText, align: right ? .left : .right)
      }
      for s in series {
        let points = zip(s.x, s.y).map { (vx, vy) -> (Double, Double)? in
          guard let vy, let a = px(vx), let b = py(vy) else { return nil }
          return (a, b)
        }
        d.line(points, color: s.color, width: 2, dash: s.dashed ? Self.dash : [])
        // Markers where points are few, so a single epoch still shows.
        if markers ?? (points.count <= 40) { for case let (a, b)? in points { d.disc(x: a, y: b, radius: 2.5, color: s.color) } }
      }
    }
    d.stroke(x: left + 0.5, y: top + 0.5, width: plotWidth - 1, height: plotHeight - 1, color: Palette.frame)

    switch legend {
    case .below:
      var ly = top + plotHeight + 6 + d.lineHeight(.small) + d.lineHeight(.body) + 6
      for row in legendRows(d, width: width) {
        var lx = x
        for entry in row {
          legendEntry(d, entry, x: lx, y: ly)
          lx += 30 + d.textWidth(entry.0, .body) + 18
        }
        ly += d.lineHeight(.body)
      }
    case .insideLowerRight:
      let entries = legendEntries().map { ($0.0.isEmpty ? " " : d.shortened($0.0, toFit: plotWidth - 60, font: .body), $0.1, $0.2) }
      let boxWidth = 30 + (entries.map { d.textWidth($0.0, .body) }.max() ?? 0) + 16
      let boxHeight = Double(entries.count) * d.lineHeight(.body) + 10
      let bx = (left + plotWidth - boxWidth - 8).rounded(), by = (top + plotHeight - boxHeight - 8).rounded()
      d.fill(x: bx, y: by, width: boxWidth, height: boxHeight, color: .white)
      d.stroke(x: bx + 0.5, y: by + 0.5, width: boxWidth - 1, height: boxHeight - 1, color: Palette.grid)
      for (i, entry) in entries.enumerated() {
        legendEntry(d, entry, x: bx + 8, y: by + 5 + Double(i) * d.lineHeight(.body))
      }
    }
  }

  private func legendEntry(_ d: Drawing, _ entry: (String, RGB, Bool), x: Double, y: Double) {
    let mid = (y + d.lineHeight(.body) / 2).rounded()
    d.line([(x, mid), (x + 24, mid)], color: entry.1, width: 2, dash: entry.2 ? Self.dash : [])
    d.text(entry.0, x: x + 30, y: y, font: .body, color: Palette.text)
  }
}
