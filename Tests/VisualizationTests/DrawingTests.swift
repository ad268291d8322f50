import ImageIO
import Testing

@testable import Visualization

/// The Cairo drawing: anti-aliased text, the bitmap fallback when text fails, fitting names
/// and sentences into a width, numbers as pictures print them.
@Suite struct DrawingTests {
  func pixels(_ canvas: Canvas) -> [RGB] {
    (0..<canvas.height).flatMap { y in (0..<canvas.width).map { canvas[$0, y] } }
  }

  @Test func textIsDrawnAntiAliased() throws {
    let d = try Drawing(width: 200, height: 40)
    d.text("Relevance 0.5", x: 4, y: 4, font: .body)
    let all = pixels(d.canvas())
    #expect(all.filter { $0 != .white }.count > 50)
    #expect(!d.usesBitmapFont)
    // Anti-aliasing leaves gray edge pixels between the ink and the paper.
    #expect(all.contains { $0.r == $0.g && $0.r > 40 && $0.r < 215 })
  }

  @Test func bitmapFontIsCrispAndCoversLabels() throws {
    for character in "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,:-+=_%()[]/#?|!'*<>±×·…−≥ε" {
      let rows = BitmapFont.glyphs[character]
      #expect(rows?.count == 7 && rows?.allSatisfy { $0.count == 5 } == true, "glyph '\(character)'")
    }
    let d = try Drawing(width: 200, height: 40, fonts: .bitmap)
    d.text("p99.5 ß", x: 4, y: 4, font: .body)
    let all = pixels(d.canvas())
    #expect(all.filter { $0 == .black }.count > 40)
    // Whole-pixel squares, no anti-aliasing: only ink and paper.
    #expect(all.allSatisfy { $0 == .black || $0 == .white })
    #expect(d.textWidth("hi", .body) == Double(BitmapFont.width(of: "hi", scale: 2)))
  }

  /// A text call that Cairo cannot draw (here an invalid font size puts the context into
  /// an error state) still draws the text, with the bitmap font, and later calls work.
  @Test func failedTextFallsBackToTheBitmapFont() throws {
    let d = try Drawing(width: 200, height: 60)
    d.text("broken", x: 4, y: 4, font: Font(size: .nan))
    #expect(d.usesBitmapFont)
    d.fill(x: 150, y: 40, width: 10, height: 10, color: RGB(1, 2, 3))
    let canvas = d.canvas()
    #expect(pixels(canvas).filter { $0 == .black }.count > 20)
    #expect(canvas[155, 45] == RGB(1, 2, 3))
  }

  @Test func longNamesAreShortenedInTheMiddle() throws {
    for fonts in [Drawing.Fonts.cairo, .bitmap] {
      let d = try Drawing(width: 10, height: 10, fonts: fonts)
      let path = "out/bias-experiment/data/test-biased/images/00000.png"
      let short = d.shortened(path, toFit: 180, font: .body)
      #expect(short.contains("…") && short.hasPrefix("out") && short.hasSuffix(".png"))
      #expect(d.textWidth(short, .body) <= 180)
      // More of the end than of the start is kept (the file name).
      let parts = short.split(separator: "…")
      #expect(parts.count == 2 && parts[1].count >= parts[0].count)
      #expect(d.shortened("a.png", toFit: 180, font: .body) == "a.png")
      #expect(d.shortened(path, toFit: 1, font: .body) == "")
    }
  }

  @Test func sentencesWrapWithinTheWidth() throws {
    let d = try Drawing(width: 10, height: 10)
    let text = "relevance, ±p99.5 of |R| = 0.0123; one scale for all 3 classes; an-extremely-long-word-that-cannot-fit-anywhere"
    let lines = d.wrapped(text, width: 150, font: .body)
    #expect(lines.count >= 3)
    #expect(lines.allSatisfy { d.textWidth($0, .body) <= 150 })
    #expect(lines.first?.hasPrefix("relevance,") == true)
  }

  @Test func tooLargeAPictureIsAnError() {
    #expect(throws: PictureError.self) { try Drawing(width: 40_000, height: 10) }
    #expect(throws: PictureError.self) { try Drawing(width: 0, height: 10) }
    #expect(throws: PictureError.self) { try Drawing(width: 10_000, height: 10_000) }
  }

  @Test func imagesAreEnlargedByWholePixelsAndClipped() throws {
    var image = Canvas(width: 2, height: 1)
    image[0, 0] = RGB(200, 0, 0)
    image[1, 0] = RGB(0, 0, 200)
    let d = try Drawing(width: 10, height: 10)
    d.draw(image, x: 6, y: 1, scale: 3)
    let canvas = d.canvas()
    #expect(canvas[6, 1] == RGB(200, 0, 0) && canvas[8, 3] == RGB(200, 0, 0))
    #expect(canvas[9, 2] == RGB(0, 0, 200))
    #expect(canvas[5, 1] == .white && canvas[6, 4] == .white)
  }

  @Test func numbersPrintShortAndLocaleFree() {
    #expect(NumberText.short(0.012345) == "0.0123")
    #expect(NumberText.short(-3) == "−3")
    #expect(NumberText.short(1.2e-5) == "1.2e-5")
    #expect(NumberText.short(123_456) == "1.23e5")
    #expect(NumberText.short(9.9996e-4) == "1e-3")
    #expect(NumberText.short(198.005) == "198")
    #expect(NumberText.tick(0.30000000000000004, step: 0.1) == "0.3")
    #expect(NumberText.tick(-0.0, step: 0.5) == "0.0")
    #expect(NumberText.tick(-1, step: 0.25) == "−1.00")
    #expect(NumberText.fixed(0.9734, decimals: 3) == "0.973")
    #expect(NumberText.fixed(0.05, decimals: 0) == "0")
  }
}
