/// The pictures of one input's heatmaps. The sheet (`NAME.sheet.png`): the file name on
/// top, then a column for the input (the image, and below it the colour bar) and one per
/// explained class (its name, logit and probability; the map alone; the map over the
/// image in gray). The per-class picture (`NAME.classK.png`): one class's map, or its
/// overlay, with the same title and colour bar.
///
/// Every class of the input is drawn on one scale, ±R (RelevanceScale), so their maps
/// compare. Panels are at least `HeatmapSheet.minimumPanelSide` pixels on their short
/// side: small inputs are enlarged by whole pixels (nearest neighbour, 64×64 → 256×256).
/// With many classes the columns wrap into further rows.
public struct HeatmapSheet: Sendable {
  public struct ClassMap: Sendable {
    /// E.g. "0: normal".
    public var title: String
    /// E.g. "logit 2.80 · p 0.97 (softmax)".
    public var detail: String
    public var picture: HeatmapPicture
    public init(title: String, detail: String, picture: HeatmapPicture) {
      self.title = title
      self.detail = detail
      self.picture = picture
    }
  }

  public var fileName: String
  /// A line under the file name (e.g. the predicted class); may be empty.
  public var subtitle: String
  /// The input as the model saw it.
  public var image: Canvas
  /// The input in gray [height, width], values in [0, 1], under the overlays.
  public var gray: [Float]
  public var classes: [ClassMap]
  public var scale: RelevanceScale
  public var fonts: Drawing.Fonts

  public static let minimumPanelSide = 224
  static let margin = 20.0
  static let gap = 16.0
  static let columnsPerRow = 5

  public init(
    fileName: String, subtitle: String, image: Canvas, gray: [Float], classes: [ClassMap], percentile: Double = 99.5,
    fonts: Drawing.Fonts = .cairo
  ) {
    precondition(gray.count == image.width * image.height)
    precondition(classes.allSatisfy { $0.picture.width == image.width && $0.picture.height == image.height })
    self.fileName = fileName
    self.subtitle = subtitle
    self.image = image
    self.gray = gray
    self.classes = classes
    self.fonts = fonts
    scale = RelevanceScale(maps: classes.map(\.picture.map), percentile: percentile)
  }

  /// The whole-pixel enlargement of a `height`×`width` panel: its short side reaches
  /// `minimumPanelSide`, unless that would take its long side past 1024 pixels.
  public static func enlargement(height: Int, width: Int) -> Int {
    let short = max(min(height, width), 1), long = max(height, width, 1)
    let wanted = (minimumPanelSide + short - 1) / short
    return long * wanted <= 1024 ? wanted : max(1, 1024 / long)
  }

  var enlargement: Int { Self.enlargement(height: image.height, width: image.width) }
  var panelWidth: Double { Double(image.width * enlargement) }
  var panelHeight: Double { Double(image.height * enlargement) }

  var colourBar: ColourBar {
    var notes: [String] = []
    if classes.count > 1 { notes.append("one scale for all \(classes.count) classes") }
    if scale.maximum > scale.range { notes.append("|R| up to \(NumberText.short(scale.maximum)) shows the end colours") }
    return ColourBar(scale: scale, notes: notes)
  }

  // MARK: - The sheet

  public func render() throws -> Canvas {
    let m = Self.margin, gap = Self.gap
    let columns = min(classes.count + 1, Self.columnsPerRow)
    let rows = (classes.count + 1 + columns - 1) / columns
    let width = 2 * m + Double(columns) * panelWidth + Double(columns - 1) * gap
    // Measure on a scratch picture with the same fonts, then draw.
    let measure = try Drawing(width: 1, height: 1, fonts: fonts)
    let header = measure.lineHeight(.heading) + measure.lineHeight(.body) + 4
    let caption = measure.lineHeight(.body) + 2
    let secondRow = max(panelHeight, colourBar.height(on: measure, width: panelWidth))
    let block = header + panelHeight + 10 + caption + secondRow
    let top = m + measure.lineHeight(.title) + (subtitle.isEmpty ? 0 : measure.lineHeight(.body)) + 12
    let height = top + Double(rows) * block + Double(rows - 1) * 2 * gap + m
    let drawing = try Drawing(width: Int(width.rounded(.up)), height: Int(height.rounded(.up)), fonts: measure.usesBitmapFont ? .bitmap : fonts)

    drawing.text(drawing.shortened(fileName, toFit: width - 2 * m, font: .title), x: m, y: m, font: .title, color: Palette.text)
    if !subtitle.isEmpty {
      drawing.text(drawing.shortened(subtitle, toFit: width - 2 * m, font: .body), x: m, y: m + drawing.lineHeight(.title), font: .body, color: Palette.secondaryText)
    }
    for item in 0...classes.count {
      let x = m + Double(item % columns) * (panelWidth + gap)
      let y = top + Double(item / columns) * (block + 2 * gap)
      let panelTop = y + header
      let secondTop = panelTop + panelHeight + 10 + caption
      if item == 0 {
        let size = "\(image.width)×\(image.height) px" + (enlargement > 1 ? ", shown ×\(enlargement)" : "")
        heading(drawing, "input", size, x: x, y: y)
        panel(drawing, image, x: x, y: panelTop)
        drawing.text("colour scale", x: x, y: secondTop - caption, font: .body, color: Palette.secondaryText)
        colourBar.draw(on: drawing, x: x, y: secondTop, width: panelWidth)
      } else {
        let entry = classes[item - 1]
        heading(drawing, entry.title, entry.detail, x: x, y: y)
        panel(drawing, entry.picture.render(range: scale.range), x: x, y: panelTop)
        drawing.text("over the image", x: x, y: secondTop - caption, font: .body, color: Palette.secondaryText)
        panel(drawing, entry.picture.render(range: scale.range, image: gray), x: x, y: secondTop)
      }
    }
    return drawing.canvas()
  }

  /// Class `index`'s picture: its map (over the image when `overlay`), titled, with the colour bar.
  public func renderClass(_ index: Int, overlay: Bool) throws -> Canvas {
    let m = Self.margin
    let width = panelWidth + 2 * m
    let measure = try Drawing(width: 1, height: 1, fonts: fonts)
    let header = measure.lineHeight(.heading) + measure.lineHeight(.body) + 4
    let top = m + measure.lineHeight(.body) + 6
    let height = top + header + panelHeight + 12 + colourBar.height(on: measure, width: panelWidth) + m
    let drawing = try Drawing(width: Int(width.rounded(.up)), height: Int(height.rounded(.up)), fonts: measure.usesBitmapFont ? .bitmap : fonts)
    let entry = classes[index]
    drawing.text(drawing.shortened(fileName, toFit: panelWidth, font: .body), x: m, y: m, font: .body, color: Palette.secondaryText)
    heading(drawing, entry.title, entry.detail, x: m, y: top)
    panel(drawing, entry.picture.render(range: scale.range, image: overlay ? gray : nil), x: m, y: top + header)
    colourBar.draw(on: drawing, x: m, y: top + header + panelHeight + 12, width: panelWidth)
    return drawing.canvas()
  }

  private func heading(_ drawing: Drawing, _ title: String, _ detail: String, x: Double, y: Double) {
    drawing.text(drawing.shortened(title, toFit: panelWidth, font: .heading), x: x, y: y, font: .heading, color: Palette.text)
    drawing.text(Self.fitted(detail, drawing, width: panelWidth), x: x, y: y + drawing.lineHeight(.heading), font: .body, color: Palette.text)
  }

  /// `text`, without a trailing parenthetical if that makes it fit, else shortened.
  static func fitted(_ text: String, _ drawing: Drawing, width: Double) -> String {
    if drawing.textWidth(text, .body) <= width { return text }
    if text.hasSuffix(")"), let open = text.lastIndex(of: "(") {
      let bare = String(text[..<open]).trimmingSuffix(" ")
      if drawing.textWidth(bare, .body) <= width { return bare }
    }
    return drawing.shortened(text, toFit: width, font: .body)
  }

  /// A picture enlarged to the panel size, framed (a white map still shows its extent).
  private func panel(_ drawing: Drawing, _ picture: Canvas, x: Double, y: Double) {
    drawing.draw(picture, x: Int(x), y: Int(y), scale: enlargement)
    drawing.stroke(x: x - 0.5, y: y - 0.5, width: panelWidth + 1, height: panelHeight + 1, color: Palette.frame)
  }
}

extension String {
  func trimmingSuffix(_ character: Character) -> String {
    var s = self
    while s.last == character { s.removeLast() }
    return s
  }
}
