/// `DIR/confusion.png` of `isnetc eval --plot DIR`: confusion matrices, rows the true
/// class, columns the predicted one. Each cell shows its count and its share of the row
/// (the true class's samples) and is shaded by that share, so recall reads off the
/// diagonal whatever the class sizes. A single-label model has one matrix; a multi-label
/// model one 2×2 matrix per label at its threshold.
///
/// Cells shrink with the class count (text inside them only while it fits); names longer
/// than their room are shortened with an ellipsis in the middle.
public struct ConfusionPlot: Sendable {
  public struct Matrix: Sendable {
    public var title: String
    public var rowNames: [String]
    public var columnNames: [String]
    /// counts[true][predicted].
    public var counts: [[Int]]
    public init(title: String, rowNames: [String], columnNames: [String], counts: [[Int]]) {
      precondition(counts.count == rowNames.count && counts.allSatisfy { $0.count == columnNames.count })
      self.title = title
      self.rowNames = rowNames
      self.columnNames = columnNames
      self.counts = counts
    }
  }

  public var title: String
  public var subtitle: String
  public var matrices: [Matrix]
  public var rowAxis: String
  public var columnAxis: String
  public var fonts: Drawing.Fonts

  public init(
    title: String, subtitle: String, matrices: [Matrix], rowAxis: String = "true class", columnAxis: String = "predicted class",
    fonts: Drawing.Fonts = .cairo
  ) {
    self.title = title
    self.subtitle = subtitle
    self.matrices = matrices
    self.rowAxis = rowAxis
    self.columnAxis = columnAxis
    self.fonts = fonts
  }

  static let margin = 20.0
  static let matricesPerRow = 4
  static let nameWidth = 150.0
  static let shade = RGB(8, 69, 148)

  /// The side of a cell for a matrix of `classes` classes: 90 pixels down to 2.
  static func cellSide(classes: Int) -> Double { max(2, min(90, (720 / Double(max(classes, 1))).rounded(.down))) }

  /// A row's shares of its total (0 for an empty row).
  static func rowShares(_ row: [Int]) -> [Double] {
    let total = row.reduce(0, +)
    return row.map { total > 0 ? Double($0) / Double(total) : 0 }
  }

  // MARK: - Layout of one matrix

  struct Layout {
    var cell: Double
    var rowLabelWidth: Double
    var columnLabelHeight: Double
    var rotatedColumns: Bool
    var width: Double
    var height: Double
  }

  func layout(_ matrix: Matrix, _ d: Drawing) -> Layout {
    let cell = Self.cellSide(classes: max(matrix.rowNames.count, matrix.columnNames.count))
    let showNames = cell >= d.lineHeight(.small)
    let rowLabelWidth = showNames ? min(Self.nameWidth, (matrix.rowNames.map { d.textWidth($0, .small) }.max() ?? 0)) + 8 : 0
    let rotated = matrix.columnNames.contains { d.textWidth($0, .small) > cell - 6 }
    let columnLabelHeight = !showNames ? 0 : rotated ? min(Self.nameWidth, matrix.columnNames.map { d.textWidth($0, .small) }.max() ?? 0) + 8 : d.lineHeight(.small) + 4
    let side = d.lineHeight(.body) + 6
    let width = side + rowLabelWidth + cell * Double(matrix.columnNames.count)
    let height = titleHeight(matrix, d) + d.lineHeight(.body) + columnLabelHeight + cell * Double(matrix.rowNames.count)
    return Layout(cell: cell, rowLabelWidth: rowLabelWidth, columnLabelHeight: columnLabelHeight, rotatedColumns: rotated, width: max(width, 200), height: height)
  }

  /// The matrix's heading, none for an empty title.
  func titleHeight(_ matrix: Matrix, _ d: Drawing) -> Double {
    matrix.title.isEmpty ? 0 : d.lineHeight(.heading) + 4
  }

  public func render() throws -> Canvas {
    let m = Self.margin, gap = 36.0
    let measure = try Drawing(width: 1, height: 1, fonts: fonts)
    let layouts = matrices.map { layout($0, measure) }
    let perRow = max(1, min(matrices.count, Self.matricesPerRow))
    let columnWidth = layouts.map(\.width).max() ?? 200
    let rowHeight = layouts.map(\.height).max() ?? 0
    let rows = (matrices.count + perRow - 1) / perRow
    let note = "Each cell: the count, and its share of the true class's samples (the row), which shades it."
    let width = max(2 * m + Double(perRow) * columnWidth + Double(perRow - 1) * gap, 480)
    let notes = measure.wrapped(note, width: width - 2 * m, font: .body)
    let subtitles = measure.wrapped(subtitle, width: width - 2 * m, font: .body)
    let top = m + measure.lineHeight(.title) + Double(subtitles.count) * measure.lineHeight(.body) + 12
    let height = top + Double(rows) * rowHeight + Double(max(rows - 1, 0)) * gap + 10 + Double(notes.count) * measure.lineHeight(.body) + m
    let d = try Drawing(width: Int(width.rounded(.up)), height: Int(height.rounded(.up)), fonts: measure.usesBitmapFont ? .bitmap : fonts)
    d.text(d.shortened(title, toFit: width - 2 * m, font: .title), x: m, y: m, font: .title, color: Palette.text)
    for (i, line) in d.wrapped(subtitle, width: width - 2 * m, font: .body).enumerated() {
      d.text(line, x: m, y: m + d.lineHeight(.title) + Double(i) * d.lineHeight(.body), font: .body, color: Palette.secondaryText)
    }
    for (i, matrix) in matrices.enumerated() {
      draw(matrix, layouts[i], on: d, x: m + Double(i % perRow) * (columnWidth + gap), y: top + Double(i / perRow) * (rowHeight + gap))
    }
    var y = top + Double(rows) * rowHeight + Double(max(rows - 1, 0)) * gap + 10
    for line in d.wrapped(note, width: width - 2 * m, font: .body) {
      d.text(line, x: m, y: y, font: .body, color: Palette.secondaryText)
      y += d.lineHeight(.body)
    }
    return d.canvas()
  }

  private func draw(_ matrix: Matrix, _ l: Layout, on d: Drawing, x: Double, y: Double) {
    let cell = l.cell
    let rows = matrix.rowNames.count, columns = matrix.columnNames.count
    d.text(d.shortened(matrix.title, toFit: l.width, font: .heading), x: x, y: y, font: .heading, color: Palette.text)
    let side = d.lineHeight(.body) + 6
    let gridLeft = x + side + l.rowLabelWidth
    let axisTop = y + titleHeight(matrix, d)
    let gridTop = axisTop + d.lineHeight(.body) + l.columnLabelHeight
    let gridWidth = cell * Double(columns), gridHeight = cell * Double(rows)
    d.text(d.shortened(columnAxis, toFit: max(gridWidth, 60), font: .body), x: gridLeft + gridWidth / 2, y: axisTop, font: .body, color: Palette.text, align: .center)
    d.text(d.shortened(rowAxis, toFit: max(gridHeight, 60), font: .body), x: x, y: gridTop + gridHeight / 2, font: .body, color: Palette.text, align: .center, angle: -Double.pi / 2)
    if l.rowLabelWidth > 0 {
      for (r, name) in matrix.rowNames.enumerated() {
        let label = d.shortened(name, toFit: l.rowLabelWidth - 8, font: .small)
        d.text(label, x: gridLeft - 6, y: gridTop + (Double(r) + 0.5) * cell - d.lineHeight(.small) / 2, font: .small, color: Palette.text, align: .right)
      }
      for (c, name) in matrix.columnNames.enumerated() {
        let centre = gridLeft + (Double(c) + 0.5) * cell
        if l.rotatedColumns {
          let label = d.shortened(name, toFit: l.columnLabelHeight - 8, font: .small)
          d.text(label, x: centre - d.lineHeight(.small) / 2, y: gridTop - 4, font: .small, color: Palette.text, angle: -Double.pi / 2)
        } else {
          d.text(name, x: centre, y: gridTop - d.lineHeight(.small) - 2, font: .small, color: Palette.text, align: .center)
        }
      }
    }
    for (r, row) in matrix.counts.enumerated() {
      let shares = Self.rowShares(row)
      let empty = row.reduce(0, +) == 0
      for (c, count) in row.enumerated() {
        let cx = gridLeft + Double(c) * cell, cy = gridTop + Double(r) * cell
        let color = RGB.white.mixed(with: Self.shade, shares[c])
        d.fill(x: cx, y: cy, width: cell, height: cell, color: color)
        guard cell >= 40 else { continue }
        let ink = shares[c] > 0.5 ? RGB.white : Palette.text
        let countFont = Font(size: cell >= 60 ? 16 : 12, bold: true)
        let share = empty ? "–" : NumberText.fixed(shares[c] * 100, decimals: 0) + "%"
        let showShare = cell >= 56
        let block = d.lineHeight(countFont) + (showShare ? d.lineHeight(.small) : 0)
        let textTop = cy + (cell - block) / 2
        d.text(d.shortened(String(count), toFit: cell - 4, font: countFont), x: cx + cell / 2, y: textTop, font: countFont, color: ink, align: .center)
        if showShare { d.text(share, x: cx + cell / 2, y: textTop + d.lineHeight(countFont), font: .small, color: ink, align: .center) }
      }
    }
    d.stroke(x: gridLeft + 0.5, y: gridTop + 0.5, width: gridWidth - 1, height: gridHeight - 1, color: Palette.frame)
  }
}
