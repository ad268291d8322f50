/// A picture drawn through Cairo on an RGB image surface: fills, lines, markers, pixel
/// images enlarged by whole pixels (nearest neighbour), and text (Text.swift). `canvas()`
/// returns the pixels for the PNG writer. Drawing is deterministic: the same calls give
/// the same pixels on the same machine (text depends on the installed fonts).
///
/// A Cairo context that has gone into an error state draws nothing more; every call first
/// replaces such a context, so one failed call never blanks the rest of a picture.

import CCairo

/// A picture that cannot be drawn (too large, or Cairo refused the surface).
public struct PictureError: Error, CustomStringConvertible, Sendable {
  public var description: String
  public init(_ description: String) { self.description = description }
}

public final class Drawing {
  /// How text is drawn: Cairo's fonts (DejaVu Sans through fontconfig), or the built-in
  /// bitmap font at a whole-pixel scale (also the fallback when Cairo's text fails).
  public enum Fonts: Sendable { case cairo, bitmap }

  public let width: Int
  public let height: Int
  /// The largest picture drawn, in pixels (a surface of 4 bytes per pixel).
  public static let maximumPixels = 40_000_000
  let surface: OpaquePointer
  var context: OpaquePointer
  /// Whether text is drawn with the bitmap font (asked for, or Cairo's text failed).
  public internal(set) var usesBitmapFont: Bool

  public init(width: Int, height: Int, background: RGB = .white, fonts: Fonts = .cairo) throws {
    guard width > 0, height > 0, width <= 32_000, height <= 32_000, width * height <= Self.maximumPixels else {
      throw PictureError("a picture of \(width)×\(height) pixels is too large to draw (at most 32000 a side and \(Self.maximumPixels / 1_000_000) million pixels)")
    }
    guard let surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, Int32(width), Int32(height)) else {
      throw PictureError("Cairo cannot create a \(width)×\(height) surface")
    }
    let status = cairo_surface_status(surface)
    guard status == CAIRO_STATUS_SUCCESS else {
      cairo_surface_destroy(surface)
      throw PictureError("Cairo cannot create a \(width)×\(height) surface: \(String(cString: cairo_status_to_string(status)))")
    }
    self.width = width
    self.height = height
    self.surface = surface
    context = cairo_create(surface)
    usesBitmapFont = fonts == .bitmap
    configure()
    if !usesBitmapFont, !hasOutlineFont() { usesBitmapFont = true }
    fill(x: 0, y: 0, width: Double(width), height: Double(height), color: background)
  }

  deinit {
    cairo_destroy(context)
    cairo_surface_destroy(surface)
  }

  /// Grayscale anti-aliasing (no colour fringes), slight hinting, unhinted metrics (text
  /// widths scale with the size, so layouts are stable).
  private func configure() {
    guard let options = cairo_font_options_create() else { return }
    cairo_font_options_set_antialias(options, CAIRO_ANTIALIAS_GRAY)
    cairo_font_options_set_hint_style(options, CAIRO_HINT_STYLE_SLIGHT)
    cairo_font_options_set_hint_metrics(options, CAIRO_HINT_METRICS_OFF)
    cairo_set_font_options(context, options)
    cairo_font_options_destroy(options)
  }

  var isHealthy: Bool { cairo_status(context) == CAIRO_STATUS_SUCCESS }

  /// Replaces a context in an error state (the surface keeps what was drawn).
  func renewIfBroken() {
    guard !isHealthy else { return }
    cairo_destroy(context)
    context = cairo_create(surface)
    configure()
  }

  func setColor(_ c: RGB) {
    cairo_set_source_rgb(context, Double(c.r) / 255, Double(c.g) / 255, Double(c.b) / 255)
  }

  // MARK: - Shapes

  public func fill(x: Double, y: Double, width: Double, height: Double, color: RGB) {
    renewIfBroken()
    setColor(color)
    cairo_rectangle(context, x, y, width, height)
    cairo_fill(context)
  }

  /// A rectangle's outline, `lineWidth` wide, centred on the rectangle's edges.
  public func stroke(x: Double, y: Double, width: Double, height: Double, color: RGB, lineWidth: Double = 1) {
    renewIfBroken()
    setColor(color)
    cairo_set_line_width(context, lineWidth)
    cairo_rectangle(context, x, y, width, height)
    cairo_stroke(context)
  }

  /// A polyline through `points`; a nil point breaks it. Points that are not finite break it too.
  public func line(_ points: [(Double, Double)?], color: RGB, width: Double = 1.5, dash: [Double] = []) {
    renewIfBroken()
    setColor(color)
    cairo_set_line_width(context, width)
    cairo_set_line_join(context, CAIRO_LINE_JOIN_ROUND)
    cairo_set_line_cap(context, CAIRO_LINE_CAP_BUTT)
    dash.withUnsafeBufferPointer { cairo_set_dash(context, $0.baseAddress, Int32($0.count), 0) }
    var open = false
    for point in points {
      guard let (x, y) = point, x.isFinite, y.isFinite else {
        open = false
        continue
      }
      if open { cairo_line_to(context, x, y) } else { cairo_move_to(context, x, y) }
      open = true
    }
    cairo_stroke(context)
    cairo_set_dash(context, nil, 0, 0)
  }

  /// A filled disc (a data point's marker).
  public func disc(x: Double, y: Double, radius: Double, color: RGB) {
    guard x.isFinite, y.isFinite else { return }
    renewIfBroken()
    setColor(color)
    cairo_new_sub_path(context)
    cairo_arc(context, x, y, radius, 0, 2 * Double.pi)
    cairo_fill(context)
  }

  /// Runs `body` with drawing clipped to the rectangle.
  public func clipped(x: Double, y: Double, width: Double, height: Double, _ body: () -> Void) {
    renewIfBroken()
    cairo_save(context)
    cairo_rectangle(context, x, y, width, height)
    cairo_clip(context)
    body()
    renewIfBroken()
    cairo_restore(context)
  }

  // MARK: - Pixels

  /// Copies `image` with its top-left corner at (x, y), each pixel a `scale`×`scale`
  /// square (nearest neighbour: small inputs stay sharp when enlarged). Clipped to the picture.
  public func draw(_ image: Canvas, x: Int, y: Int, scale: Int = 1) {
    let scale = max(scale, 1)
    let rows = max(0, -y)..<max(max(0, -y), min(image.height * scale, height - y))
    let columns = max(0, -x)..<max(max(0, -x), min(image.width * scale, width - x))
    guard !rows.isEmpty, !columns.isEmpty else { return }
    cairo_surface_flush(surface)
    guard let data = cairo_image_surface_get_data(surface) else { return }
    let stride = Int(cairo_image_surface_get_stride(surface))
    let raw = UnsafeMutableRawPointer(data)
    for sy in rows {
      let row = (y + sy) * stride
      for sx in columns {
        let i = ((sy / scale) * image.width + sx / scale) * 3
        let pixel = 0xFF00_0000 | UInt32(image.rgb[i]) << 16 | UInt32(image.rgb[i + 1]) << 8 | UInt32(image.rgb[i + 2])
        raw.storeBytes(of: pixel, toByteOffset: row + (x + sx) * 4, as: UInt32.self)
      }
    }
    cairo_surface_mark_dirty(surface)
  }

  /// The picture's pixels.
  public func canvas() -> Canvas {
    cairo_surface_flush(surface)
    var rgb = [UInt8](repeating: 255, count: width * height * 3)
    guard let data = cairo_image_surface_get_data(surface) else { return Canvas(width: width, height: height, rgb: rgb) }
    let stride = Int(cairo_image_surface_get_stride(surface))
    let raw = UnsafeRawPointer(data)
    for y in 0..<height {
      for x in 0..<width {
        let pixel = raw.load(fromByteOffset: y * stride + x * 4, as: UInt32.self)
        let i = (y * width + x) * 3
        rgb[i] = UInt8(truncatingIfNeeded: pixel >> 16)
        rgb[i + 1] = UInt8(truncatingIfNeeded: pixel >> 8)
        rgb[i + 2] = UInt8(truncatingIfNeeded: pixel)
      }
    }
    return Canvas(width: width, height: height, rgb: rgb)
  }
}
