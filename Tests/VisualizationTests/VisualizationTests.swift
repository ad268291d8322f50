import Testing

@testable import Visualization

@Suite struct VisualizationTests {
  @Test func colormapIsWhiteAtZeroBlueBelowRedAbove() {
    #expect(DivergingColormap.color(0) == .white)
    let blue = DivergingColormap.color(-1)
    let red = DivergingColormap.color(1)
    #expect(blue.b > blue.r && blue.b > blue.g)
    #expect(red.r > red.g && red.r > red.b)
    // Clamped outside [-1, 1]; NaN is drawn as zero.
    #expect(DivergingColormap.color(-7) == blue)
    #expect(DivergingColormap.color(.nan) == .white)
    // Monotone fading towards white: a weaker value is lighter.
    let weak = DivergingColormap.color(0.25), strong = DivergingColormap.color(0.75)
    #expect(Int(weak.g) + Int(weak.b) > Int(strong.g) + Int(strong.b))
  }

  @Test func pictureSumsChannelsAndDividesByStandardDeviation() {
    // Two channels [2, 1, 2]: sums are [1, 3]; mean 2, standard deviation 1.
    let picture = HeatmapPicture(values: [1, 1, 0, 2], channels: 2, height: 1, width: 2)
    #expect(picture.normalized == [1, 3])
    #expect(picture.extent == 3)
    let constant = HeatmapPicture(values: [5, 5, 5, 5], channels: 1, height: 2, width: 2)
    #expect(constant.normalized == [0, 0, 0, 0])
  }

  @Test func renderColoursBySignAndOverlayShowsTheImage() {
    let picture = HeatmapPicture(values: [-2, 0, 2, 0], channels: 1, height: 2, width: 2)
    let plain = picture.render(range: picture.extent)
    #expect(plain[0, 0] == DivergingColormap.color(-1))
    #expect(plain[1, 0] == .white)
    #expect(plain[0, 1] == DivergingColormap.color(1))
    // Over a black image, zero relevance shows the image, strong relevance its colour.
    let over = picture.render(range: picture.extent, image: [0, 0, 0, 0])
    #expect(over[1, 0] == .black)
    #expect(over[0, 1] == DivergingColormap.color(1))
  }

  @Test func fontCoversLabelsAndTextIsDrawn() {
    for character in "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,:-+=_%()[]/#?" {
      let rows = BitmapFont.glyphs[character]
      #expect(rows?.count == 7 && rows?.allSatisfy { $0.count == 5 } == true, "glyph '\(character)'")
    }
    var canvas = Canvas(width: 40, height: 10)
    canvas.drawText("hi", x: 1, y: 1)
    let inked = (0..<10).flatMap { y in (0..<40).map { x in canvas[x, y] } }.filter { $0 == .black }.count
    #expect(inked > 10)
    #expect(BitmapFont.width(of: "hi", scale: 2) == 22)
  }

  @Test func contactSheetHoldsEveryPanel() {
    let tile = Canvas(width: 16, height: 16, fill: RGB(10, 20, 30))
    let panels = (0..<3).map { ContactSheet.Panel(title: "class \($0)", caption: "p 0.5", picture: tile) }
    let sheet = ContactSheet(title: "x.png", panels: panels, range: 4).render()
    // Tiles are enlarged by whole pixels to 256: three tiles side by side with margins.
    #expect(sheet.width == 12 + 3 * (256 + 12))
    let m = 12
    let top = m + ContactSheet.lineHeight + m / 2 + ContactSheet.lineHeight
    for index in 0..<3 {
      #expect(sheet[m + index * (256 + m) + 100, top + 100] == RGB(10, 20, 30))
    }
  }

  @Test func longTitlesAreShortenedFromTheLeft() {
    let fitted = ContactSheet.fit("a/very/long/path/to/an/image.png", width: 240)
    #expect(fitted.hasPrefix("..") && fitted.hasSuffix("image.png"))
    #expect(BitmapFont.width(of: fitted, scale: ContactSheet.textScale) <= 240)
  }
}
