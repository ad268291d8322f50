/// One picture per input: the input image, then the heatmap of every explained class on
/// a shared colour range, each labelled with its class, logit and score, and a colour bar
/// giving the range in standard deviations.
public struct ContactSheet: Sendable {
  public struct Panel: Sendable {
    public var title: String
    public var caption: String
    public var picture: Canvas
    public init(title: String, caption: String, picture: Canvas) {
      self.title = title
      self.caption = caption
      self.picture = picture
    }
  }

  public var title: String
  public var panels: [Panel]
  /// The colour range of the maps, in standard deviations (drawn on the colour bar).
  public var range: Double

  public init(title: String, panels: [Panel], range: Double) {
    self.title = title
    self.panels = panels
    self.range = range
  }

  static let margin = 12
  static let textScale = 2
  static var lineHeight: Int { BitmapFont.glyphHeight * textScale + 6 }

  public func render() -> Canvas {
    let side = panels.map { max($0.picture.width, $0.picture.height) }.max() ?? 1
    // Enlarge small maps by whole pixels to about 256 pixels a side.
    let scale = max(1, 256 / max(side, 1))
    let tileWidth = max(panels.map { $0.picture.width * scale }.max() ?? 0, 1)
    let tileHeight = max(panels.map { $0.picture.height * scale }.max() ?? 0, 1)
    let m = Self.margin
    let line = Self.lineHeight
    let width = m + panels.count * (tileWidth + m)
    let height = m + line + (line + tileHeight + line + m) + line * 2 + m
    var canvas = Canvas(width: max(width, 320), height: height)
    canvas.drawText(Self.fit(title, width: canvas.width - 2 * m), x: m, y: m, scale: Self.textScale)
    let top = m + line + m / 2
    for (index, panel) in panels.enumerated() {
      let x = m + index * (tileWidth + m)
      canvas.drawText(Self.fit(panel.title, width: tileWidth), x: x, y: top, scale: Self.textScale)
      canvas.draw(panel.picture, x: x, y: top + line, scale: scale)
      canvas.drawText(Self.fit(panel.caption, width: tileWidth), x: x, y: top + line + tileHeight + 6, scale: Self.textScale)
    }
    drawColourBar(on: &canvas, x: m, y: top + line + tileHeight + line + m)
    return canvas
  }

  private func drawColourBar(on canvas: inout Canvas, x: Int, y: Int) {
    let barWidth = 256
    for i in 0..<barWidth {
      let color = DivergingColormap.color(Double(i) / Double(barWidth - 1) * 2 - 1)
      for dy in 0..<10 { canvas[x + i, y + dy] = color }
    }
    let low = Self.number(-range) + " SD"
    let high = Self.number(range) + " SD"
    canvas.drawText(low, x: x, y: y + 14, scale: Self.textScale)
    canvas.drawText("0", x: x + barWidth / 2 - 5, y: y + 14, scale: Self.textScale)
    canvas.drawText(high, x: x + barWidth - BitmapFont.width(of: high, scale: Self.textScale), y: y + 14, scale: Self.textScale)
  }

  static func number(_ v: Double) -> String {
    let rounded = (v * 100).rounded() / 100
    return rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
  }

  /// `text`, shortened from the left with ".." to fit `width` pixels.
  static func fit(_ text: String, width: Int) -> String {
    let fitting = max(1, (width / textScale + 1) / BitmapFont.advance)
    guard text.count > fitting else { return text }
    return ".." + text.suffix(max(0, fitting - 2))
  }
}
