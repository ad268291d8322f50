import ImageIO
import Testing

@testable import Visualization

/// Training curves, ROC curves and confusion matrices: what they plot, their sizes, valid
/// PNGs, the same bytes for the same numbers.
@Suite struct PlotTests {
  /// Encodes and decodes as the command line writes it: a valid PNG of the picture's size.
  func roundTrip(_ canvas: Canvas) throws -> Image {
    let bytes = try PNGCodec.encode(rgb: canvas.rgb, height: canvas.height, width: canvas.width)
    #expect(bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]))
    return try PNGCodec.decode(bytes)
  }

  func epochs(_ count: Int, validation: Bool, background: Bool) -> [TrainingCurves.Epoch] {
    (1...count).map { e in
      let t = Double(e)
      return TrainingCurves.Epoch(
        epoch: e, trainClassificationLoss: 1 / t, trainHeatmapLoss: 0.5 / t, trainLoss: 0.65 / t, trainAccuracy: 1 - 0.5 / t,
        validationClassificationLoss: validation ? 1.1 / t : nil, validationHeatmapLoss: validation ? 0.6 / t : nil,
        validationLoss: validation ? 0.75 / t : nil, validationAccuracy: validation ? 1 - 0.6 / t : nil,
        validationMacroF1: validation ? 1 - 0.7 / t : nil, validationBackgroundFraction: background ? 0.5 / t : nil)
    }
  }

  @Test func curvesPlotWhatTheRunRecorded() throws {
    let isnet = TrainingCurves(title: "run", epochs: epochs(5, validation: true, background: true), heatmapLoss: true, bestEpoch: 4)
    #expect(isnet.charts.map(\.series.count) == [6, 3, 1])
    #expect(isnet.charts[0].series.map(\.name) == ["training L_C", "validation L_C", "training L_H", "validation L_H", "training total", "validation total"])
    #expect(isnet.charts.allSatisfy { $0.marker?.x == 4 })
    // A standard classifier without a validation set: L_C and training accuracy only.
    let standard = TrainingCurves(title: "run", epochs: epochs(3, validation: false, background: false), heatmapLoss: false, bestEpoch: nil)
    #expect(standard.charts.map { $0.series.map(\.name) } == [["training L_C"], ["training accuracy"]])
    // A distillation run names its heatmap term L_D and its total.
    let distilled = TrainingCurves(
      title: "run", epochs: epochs(2, validation: true, background: true), heatmapLoss: true, heatmapTerm: "L_D", total: "L_D + 0.3·L_C", bestEpoch: 2)
    #expect(distilled.charts[0].series.map(\.name) == ["training L_C", "validation L_C", "training L_D", "validation L_D", "training total", "validation total"])
    #expect(distilled.charts[0].title.contains("L_D + 0.3·L_C"))
    let canvas = try isnet.render()
    #expect(canvas.width == 2 * 20 + 3 * 470 + 2 * 30)
    let decoded = try roundTrip(canvas)
    #expect(decoded.width == canvas.width && decoded.height == canvas.height)
    #expect(try standard.render().width == 2 * 20 + 2 * 470 + 30)
    // One epoch still draws (markers); the same history gives the same pixels.
    _ = try TrainingCurves(title: "run", epochs: epochs(1, validation: true, background: false), heatmapLoss: true, bestEpoch: 1).render()
    #expect(try isnet.render() == canvas)
  }

  @Test func lossesSpanningDecadesUseALogarithmicAxis() {
    var chart = LineChart(title: "", xLabel: "", yLabel: "", series: [LineChart.Series(name: "a", x: [1, 2, 3], y: [1, 0.1, 0.004], color: .black)])
    #expect(chart.yAxis.logarithmic && chart.yAxis.low == 0.001 && chart.yAxis.high == 1)
    chart.series[0].y = [1, 0.5, 0.2]
    #expect(!chart.yAxis.logarithmic && chart.yAxis.low == 0)
  }

  @Test func axesTickAtNiceValues() {
    let unit = Axis.linear(values: [0.13, 0.87], fixed: 0...1)
    #expect(unit.low == 0 && unit.high == 1 && unit.ticks.count == 6)
    #expect(unit.labels == ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"])
    let epochs = Axis.linear(values: [1, 2, 3], integer: true, count: 6)
    #expect(epochs.labels == ["1", "2", "3"])
    let many = Axis.linear(values: [1, 150], integer: true, count: 6)
    #expect(many.low == 0 && many.high == 150 && many.labels.first == "0" && many.labels.count <= 8)
    let log = Axis.logarithmic(values: [0.002, 0.5])
    #expect(log.low == 0.001 && log.high == 1 && log.labels == ["0.001", "0.01", "0.1", "1"])
    #expect(log.fraction(0.01)! > 0.33 && log.fraction(0.01)! < 0.34)
    #expect(log.fraction(0) == nil)
  }

  @Test func rocPlotNamesEachCurveWithItsAUC() throws {
    let curves = [
      ROCPlot.Curve(name: "normal", points: [(0, 0), (0, 0.5), (0.5, 1), (1, 1)], auc: 0.875),
      ROCPlot.Curve(name: "haze", points: [], auc: nil),
    ]
    let plot = ROCPlot(title: "ROC", subtitle: "test, 10 samples", curves: curves)
    #expect(plot.chart.series.map(\.name) == ["normal (AUC 0.875)", "haze: no curve (needs positives and negatives)"])
    let canvas = try plot.render()
    let decoded = try roundTrip(canvas)
    #expect(decoded.width == canvas.width && canvas.width > 460 && canvas.height > 460)
    #expect(try plot.render() == canvas)
  }

  @Test func confusionCellsAreShadedByTheirShareOfTheRow() throws {
    let counts = [[8, 2, 0], [1, 1, 0], [0, 0, 0]]
    let plot = ConfusionPlot(
      title: "Confusion matrix", subtitle: "3 classes",
      matrices: [ConfusionPlot.Matrix(title: "", rowNames: ["normal", "nodules", "haze"], columnNames: ["normal", "nodules", "haze"], counts: counts)])
    #expect(ConfusionPlot.rowShares(counts[0]) == [0.8, 0.2, 0])
    #expect(ConfusionPlot.rowShares(counts[2]) == [0, 0, 0])
    #expect(ConfusionPlot.cellSide(classes: 3) == 90 && ConfusionPlot.cellSide(classes: 1000) == 2)
    let canvas = try plot.render()
    _ = try roundTrip(canvas)
    // Cell (0, 0) at 80%: its corner (away from the text) has the shade mixed 0.8.
    let shaded = RGB.white.mixed(with: ConfusionPlot.shade, 0.8)
    #expect((0..<canvas.height).contains { y in (0..<canvas.width).contains { canvas[$0, y] == shaded } })
    #expect(try plot.render() == canvas)
  }

  /// Many classes: cells shrink, names and numbers are left out, the picture stays drawable.
  @Test func confusionOfManyClassesStaysDrawable() throws {
    let k = 300
    let counts = (0..<k).map { t in (0..<k).map { $0 == t ? 5 : 0 } }
    let names = (0..<k).map { "class \($0)" }
    let canvas = try ConfusionPlot(title: "many", subtitle: "", matrices: [ConfusionPlot.Matrix(title: "", rowNames: names, columnNames: names, counts: counts)]).render()
    #expect(canvas.width < 1200 && canvas.height < 1200)
  }

  @Test func multiLabelMatricesLieInAGrid() throws {
    let matrices = (0..<5).map { ConfusionPlot.Matrix(title: "label \($0)", rowNames: ["no", "yes"], columnNames: ["no", "yes"], counts: [[5, 1], [2, 7]]) }
    let plot = ConfusionPlot(title: "labels", subtitle: "", matrices: matrices, rowAxis: "has the label", columnAxis: "predicted")
    let one = try ConfusionPlot(title: "labels", subtitle: "", matrices: [matrices[0]]).render()
    let canvas = try plot.render()
    // Four to a row: two rows.
    #expect(canvas.height > 2 * (one.height - 100))
    #expect(canvas.width > 3 * one.width / 2)
  }
}
