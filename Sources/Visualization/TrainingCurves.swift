/// `RUN/curves.png`: a training run's history, one chart per quantity, per epoch. Solid
/// lines are training, dashed lines validation; a dotted line marks the best epoch.
///
/// - loss: L_C and, for an ISNet (P > 0), L_H and the total (1 − P)·L_C + P·L_H
///   (logarithmic when the values span over 30 times);
/// - accuracy: training and validation accuracy, validation macro F1;
/// - background relevance: the validation maps' share of |R| outside the masks, when
///   the run measured it (an ISNet with a validation set).
public struct TrainingCurves: Sendable {
  /// One epoch's numbers; nil where the run has none (no validation set, P = 0).
  public struct Epoch: Sendable {
    public var epoch: Int
    public var trainClassificationLoss: Double
    public var trainHeatmapLoss: Double
    public var trainLoss: Double
    public var trainAccuracy: Double
    public var validationClassificationLoss: Double?
    public var validationHeatmapLoss: Double?
    public var validationLoss: Double?
    public var validationAccuracy: Double?
    public var validationMacroF1: Double?
    public var validationBackgroundFraction: Double?

    public init(
      epoch: Int, trainClassificationLoss: Double, trainHeatmapLoss: Double, trainLoss: Double, trainAccuracy: Double,
      validationClassificationLoss: Double? = nil, validationHeatmapLoss: Double? = nil, validationLoss: Double? = nil,
      validationAccuracy: Double? = nil, validationMacroF1: Double? = nil, validationBackgroundFraction: Double? = nil
    ) {
      self.epoch = epoch
      self.trainClassificationLoss = trainClassificationLoss
      self.trainHeatmapLoss = trainHeatmapLoss
      self.trainLoss = trainLoss
      self.trainAccuracy = trainAccuracy
      self.validationClassificationLoss = validationClassificationLoss
      self.validationHeatmapLoss = validationHeatmapLoss
      self.validationLoss = validationLoss
      self.validationAccuracy = validationAccuracy
      self.validationMacroF1 = validationMacroF1
      self.validationBackgroundFraction = validationBackgroundFraction
    }
  }

  public var title: String
  public var epochs: [Epoch]
  /// Whether the run has a heatmap loss (P > 0, or distillation): it and the total are plotted.
  public var heatmapLoss: Bool
  /// The heatmap term's name (L_H; L_D for distillation) and the total's formula.
  public var heatmapTerm: String
  public var total: String
  public var bestEpoch: Int?
  public var fonts: Drawing.Fonts

  public init(
    title: String, epochs: [Epoch], heatmapLoss: Bool, heatmapTerm: String = "L_H", total: String = "(1 − P)·L_C + P·L_H", bestEpoch: Int?,
    fonts: Drawing.Fonts = .cairo
  ) {
    self.title = title
    self.epochs = epochs
    self.heatmapLoss = heatmapLoss
    self.heatmapTerm = heatmapTerm
    self.total = total
    self.bestEpoch = bestEpoch
    self.fonts = fonts
  }

  static let margin = 20.0
  static let chartWidth = 470.0
  static let plotHeight = 280.0

  /// The charts, left to right.
  public var charts: [LineChart] {
    let x = epochs.map { Double($0.epoch) }
    func series(_ name: String, _ color: Int, dashed: Bool = false, _ value: (Epoch) -> Double?) -> LineChart.Series? {
      let y = epochs.map(value)
      return y.contains { $0 != nil } ? LineChart.Series(name: name, x: x, y: y, color: Palette.color(color), dashed: dashed) : nil
    }
    var loss = [
      series("training L_C", 0) { $0.trainClassificationLoss },
      series("validation L_C", 0, dashed: true) { $0.validationClassificationLoss },
    ]
    if heatmapLoss {
      loss += [
        series("training \(heatmapTerm)", 1) { $0.trainHeatmapLoss }, series("validation \(heatmapTerm)", 1, dashed: true) { $0.validationHeatmapLoss },
        series("training total", 2) { $0.trainLoss }, series("validation total", 2, dashed: true) { $0.validationLoss },
      ]
    }
    let accuracy = [
      series("training accuracy", 3) { $0.trainAccuracy },
      series("validation accuracy", 3, dashed: true) { $0.validationAccuracy },
      series("validation macro F1", 4, dashed: true) { $0.validationMacroF1 },
    ]
    let background = [series("validation: share of |R| outside the mask", 6, dashed: true) { $0.validationBackgroundFraction }]
    var charts = [
      chart(heatmapLoss ? "loss: L_C, \(heatmapTerm) and \(total)" : "loss: L_C (cross-entropy)", "loss per sample", loss, includeZero: false),
      chart("accuracy and macro F1", "fraction", accuracy, range: 0...1),
    ]
    if background.contains(where: { $0 != nil }) {
      charts.append(chart("background relevance", "share of |R| outside the mask", background, range: 0...1))
    }
    return charts
  }

  private func chart(_ title: String, _ yLabel: String, _ series: [LineChart.Series?], range: ClosedRange<Double>? = nil, includeZero: Bool = true) -> LineChart {
    var chart = LineChart(title: title, xLabel: "epoch", yLabel: yLabel, series: series.compactMap { $0 })
    chart.integerX = true
    chart.yRange = range
    chart.includeZero = includeZero
    if let bestEpoch { chart.marker = (Double(bestEpoch), "best") }
    return chart
  }

  public func render() throws -> Canvas {
    let m = Self.margin
    let charts = self.charts
    let measure = try Drawing(width: 1, height: 1, fonts: fonts)
    let chartHeight = charts.map { $0.height(measure, width: Self.chartWidth, plotHeight: Self.plotHeight) }.max() ?? 0
    let width = 2 * m + Double(charts.count) * Self.chartWidth + Double(charts.count - 1) * 30
    let top = m + measure.lineHeight(.title) + measure.lineHeight(.body) + 14
    let d = try Drawing(width: Int(width), height: Int((top + chartHeight + m).rounded(.up)), fonts: measure.usesBitmapFont ? .bitmap : fonts)
    d.text(d.shortened(title, toFit: width - 2 * m, font: .title), x: m, y: m, font: .title, color: Palette.text)
    let note = "per epoch; solid: training (mean over the epoch's steps), dashed: validation (after the epoch, evaluation mode)"
    d.text(d.shortened(note, toFit: width - 2 * m, font: .body), x: m, y: m + d.lineHeight(.title), font: .body, color: Palette.secondaryText)
    for (i, chart) in charts.enumerated() {
      chart.draw(on: d, x: m + Double(i) * (Self.chartWidth + 30), y: top, width: Self.chartWidth, plotHeight: Self.plotHeight)
    }
    return d.canvas()
  }
}
