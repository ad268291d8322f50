/// `DIR/roc.png` of `isnetc eval --plot DIR`: one ROC curve per class (one class against
/// the rest) or per label of a multi-label model, each named with its AUC in the legend,
/// over the dashed chance diagonal.
public struct ROCPlot: Sendable {
  public struct Curve: Sendable {
    public var name: String
    /// (false positive rate, true positive rate) from (0, 0) to (1, 1); empty when the
    /// class has no positive or no negative sample (no curve exists).
    public var points: [(Double, Double)]
    public var auc: Double?
    public init(name: String, points: [(Double, Double)], auc: Double?) {
      self.name = name
      self.points = points
      self.auc = auc
    }
  }

  public var title: String
  public var subtitle: String
  public var curves: [Curve]
  public var fonts: Drawing.Fonts

  public init(title: String, subtitle: String, curves: [Curve], fonts: Drawing.Fonts = .cairo) {
    self.title = title
    self.subtitle = subtitle
    self.curves = curves
    self.fonts = fonts
  }

  static let margin = 20.0
  static let plotSide = 460.0

  var chart: LineChart {
    let series = curves.enumerated().map { i, curve in
      let name = curve.points.isEmpty ? "\(curve.name): no curve (needs positives and negatives)"
        : "\(curve.name) (AUC \(curve.auc.map { NumberText.fixed($0, decimals: 3) } ?? "–"))"
      return LineChart.Series(name: name, x: curve.points.map(\.0), y: curve.points.map(\.1), color: Palette.color(i))
    }
    var chart = LineChart(title: "", xLabel: "false positive rate (1 − specificity)", yLabel: "true positive rate (recall)", series: series)
    chart.xRange = 0...1
    chart.yRange = 0...1
    chart.diagonal = true
    chart.markers = false
    chart.legend = .insideLowerRight
    return chart
  }

  public func render() throws -> Canvas {
    let m = Self.margin
    let measure = try Drawing(width: 1, height: 1, fonts: fonts)
    let chart = self.chart
    let width = Self.plotSide + chart.leftPad(measure) + 12
    let top = m + measure.lineHeight(.title) + measure.lineHeight(.body) + 6
    let height = top + chart.height(measure, width: width, plotHeight: Self.plotSide)
    let d = try Drawing(width: Int((width + 2 * m).rounded(.up)), height: Int((height + m).rounded(.up)), fonts: measure.usesBitmapFont ? .bitmap : fonts)
    d.text(d.shortened(title, toFit: width, font: .title), x: m, y: m, font: .title, color: Palette.text)
    d.text(d.shortened(subtitle, toFit: width, font: .body), x: m, y: m + d.lineHeight(.title), font: .body, color: Palette.secondaryText)
    chart.draw(on: d, x: m, y: top, width: width, plotHeight: Self.plotSide)
    return d.canvas()
  }
}
