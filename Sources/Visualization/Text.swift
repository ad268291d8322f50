/// Text on a Drawing: DejaVu Sans through Cairo's FreeType/fontconfig backend,
/// anti-aliased. Without an outline font (fontconfig finds none), or when Cairo's text
/// fails (the context reports an error: the context is replaced), this and all later text
/// of the picture is drawn with the bitmap font at a whole-pixel scale instead: the
/// picture is still produced, crisp.
///
/// Positions are of the line box: `y` is its top, `lineHeight(_:)` its height, so a
/// layout does not depend on which font drew it.

import CCairo

public struct Font: Sendable, Equatable {
  public var size: Double
  public var bold: Bool
  public init(size: Double, bold: Bool = false) {
    self.size = size
    self.bold = bold
  }
  public static let title = Font(size: 18, bold: true)
  public static let heading = Font(size: 15, bold: true)
  public static let body = Font(size: 13)
  public static let small = Font(size: 12)
}

public enum TextAlignment: Sendable { case left, center, right }

extension Drawing {
  static let family = "DejaVu Sans"

  /// The height of one line of text in `font`.
  public func lineHeight(_ font: Font) -> Double {
    usesBitmapFont ? Double(BitmapFont.glyphHeight * bitmapScale(font) + 2 * bitmapScale(font) + 2) : (safeSize(font) * 1.3).rounded()
  }

  /// The width `text` takes in `font`.
  public func textWidth(_ text: String, _ font: Font) -> Double {
    if !usesBitmapFont, let width = cairoWidth(text, font) { return width }
    return Double(BitmapFont.width(of: text, scale: bitmapScale(font)))
  }

  /// Draws `text` in the line box whose top is at `y`; `x` is its left end, centre or right
  /// end as `align` says. `angle` (radians) rotates the text around (x, y): −π/2 reads upwards.
  public func text(
    _ text: String, x: Double, y: Double, font: Font, color: RGB = .black, align: TextAlignment = .left, angle: Double = 0
  ) {
    guard !text.isEmpty, x.isFinite, y.isFinite else { return }
    renewIfBroken()
    if !usesBitmapFont {
      drawCairoText(text, x: x, y: y, font: font, color: color, align: align, angle: angle)
      if isHealthy { return }
      renewIfBroken()
      usesBitmapFont = true
    }
    drawBitmapText(text, x: x, y: y, font: font, color: color, align: align, angle: angle)
  }

  /// Whether Cairo found an outline font (FreeType) for the family. Without one it draws
  /// with its built-in stroke font, which lacks "−", "±" and "×": the bitmap font is clearer.
  func hasOutlineFont() -> Bool {
    selectFont(.body)
    guard let scaled = cairo_get_scaled_font(context), isHealthy else {
      renewIfBroken()
      return false
    }
    return cairo_scaled_font_status(scaled) == CAIRO_STATUS_SUCCESS && cairo_scaled_font_get_type(scaled) == CAIRO_FONT_TYPE_FT
  }

  private func safeSize(_ font: Font) -> Double { font.size.isFinite && font.size > 0 ? font.size : 13 }

  func bitmapScale(_ font: Font) -> Int { max(1, Int((safeSize(font) / 6.5).rounded())) }

  private func selectFont(_ font: Font) {
    cairo_select_font_face(context, Self.family, CAIRO_FONT_SLANT_NORMAL, font.bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL)
    cairo_set_font_size(context, font.size)
  }

  /// nil when Cairo cannot measure the text (then the bitmap font takes over).
  private func cairoWidth(_ text: String, _ font: Font) -> Double? {
    renewIfBroken()
    selectFont(font)
    var extents = cairo_text_extents_t()
    cairo_text_extents(context, text, &extents)
    guard isHealthy, extents.x_advance.isFinite else {
      renewIfBroken()
      usesBitmapFont = true
      return nil
    }
    return extents.x_advance
  }

  private func drawCairoText(_ text: String, x: Double, y: Double, font: Font, color: RGB, align: TextAlignment, angle: Double) {
    selectFont(font)
    var fontExtents = cairo_font_extents_t()
    cairo_font_extents(context, &fontExtents)
    var extents = cairo_text_extents_t()
    cairo_text_extents(context, text, &extents)
    guard isHealthy else { return }
    let box = lineHeight(font)
    let baseline = ((box - fontExtents.ascent - fontExtents.descent) / 2 + fontExtents.ascent).rounded()
    let offset = align == .left ? 0 : align == .center ? extents.x_advance / 2 : extents.x_advance
    cairo_save(context)
    cairo_translate(context, x, y)
    cairo_rotate(context, angle)
    setColor(color)
    cairo_move_to(context, -offset, baseline)
    cairo_show_text(context, text)
    cairo_restore(context)
  }

  /// The bitmap font, each font pixel a filled square of `bitmapScale` pixels, not anti-aliased.
  private func drawBitmapText(_ text: String, x: Double, y: Double, font: Font, color: RGB, align: TextAlignment, angle: Double) {
    let scale = bitmapScale(font)
    let width = Double(BitmapFont.width(of: text, scale: scale))
    let offset = align == .left ? 0 : align == .center ? (width / 2).rounded() : width
    let top = ((lineHeight(font) - Double(BitmapFont.glyphHeight * scale)) / 2).rounded()
    cairo_save(context)
    cairo_set_antialias(context, CAIRO_ANTIALIAS_NONE)
    cairo_translate(context, x.rounded(), y.rounded())
    cairo_rotate(context, angle)
    setColor(color)
    for (column, row) in BitmapFont.pixels(of: text) {
      cairo_rectangle(context, Double(column * scale) - offset, top + Double(row * scale), Double(scale), Double(scale))
    }
    cairo_fill(context)
    cairo_restore(context)
  }
}
