import Testing

@testable import Visualization

/// Heatmap pictures: the colormap, the channel sum, the percentile scale (an outlier must
/// not wash the map out), overlays, and the sheet's panel sizes.
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

  @Test func pictureSumsChannels() {
    // Two channels of [1, 2] pixels: [1, 1] + [0, 2].
    let picture = HeatmapPicture(values: [1, 1, 0, 2], channels: 2, height: 1, width: 2)
    #expect(picture.map == [1, 3])
  }

  @Test func renderColoursBySignAndOverlayShowsTheImage() {
    let picture = HeatmapPicture(values: [-2, 0, 2, 0], channels: 1, height: 2, width: 2)
    let plain = picture.render(range: 2)
    #expect(plain[0, 0] == DivergingColormap.color(-1))
    #expect(plain[1, 0] == .white)
    #expect(plain[0, 1] == DivergingColormap.color(1))
    // Over a black image, zero relevance shows the image, full relevance its colour, and
    // a tenth of the range still tints it visibly.
    let over = picture.render(range: 2, image: [0, 0, 0, 0])
    #expect(over[1, 0] == .black)
    #expect(over[0, 1] == DivergingColormap.color(1))
    let faint = HeatmapPicture(values: [0.2], channels: 1, height: 1, width: 1).render(range: 2, image: [0.5])
    #expect(faint[0, 0] != RGB(128, 128, 128))
    // A zero range draws white.
    #expect(picture.render(range: 0)[0, 0] == .white)
  }

  @Test func scaleIsAPercentileOfAbsoluteRelevance() {
    // |R| = 0...199: the 99.5th percentile is at rank 198.005.
    let scale = RelevanceScale(maps: [(0..<200).map { Double($0) * ($0 % 2 == 0 ? 1 : -1) }], percentile: 99.5)
    #expect(abs(scale.range - 198.005) < 1e-9)
    #expect(scale.basis == .percentile(99.5))
    #expect(scale.maximum == 199)
    #expect(scale.label == "relevance, ±p99.5 of |R| = 198")
    // Shared over maps: the second map's large values raise the first's range.
    let shared = RelevanceScale(maps: [[1, 1, 1, 1], [10, 10, 10, 10]], percentile: 50)
    #expect(shared.range == 5.5)
    // Nearly all zero: the percentile is 0, the largest |R| is used; all zero draws white.
    var sparse = [Double](repeating: 0, count: 1000)
    sparse[7] = -0.25
    #expect(RelevanceScale(maps: [sparse]).basis == .maximum)
    #expect(RelevanceScale(maps: [sparse]).range == 0.25)
    let zero = RelevanceScale(maps: [[0, 0, .nan]])
    #expect(zero.basis == .zero && zero.range == 0)
  }

  /// A map with structure and one huge outlier: scaled by the maximum (or by a few
  /// standard deviations of a heavy tail) it is white; at the 99.5th percentile most of
  /// it shows in colour.
  @Test func anOutlierDoesNotWashTheMapOut() {
    let side = 64
    var values = (0..<(side * side)).map { i -> Float in
      let (x, y) = (Float(i % side), Float(i / side))
      return 0.2 + (x - 32) * (y - 20) / 1000
    }
    values[100] = 1e6
    let picture = HeatmapPicture(values: values, channels: 1, height: side, width: side)
    func coloured(_ canvas: Canvas) -> Double {
      var count = 0
      for y in 0..<side {
        for x in 0..<side {
          let c = canvas[x, y]
          let darkening: Int = 765 - Int(c.r) - Int(c.g) - Int(c.b)
          if darkening > 45 { count += 1 }
        }
      }
      return Double(count) / Double(side * side)
    }
    let scale = RelevanceScale(maps: [picture.map])
    #expect(coloured(picture.render(range: scale.range)) > 0.8)
    #expect(coloured(picture.render(range: scale.maximum)) < 0.01)
    #expect(scale.maximum == 1e6 && scale.range < 10)
  }

  @Test func panelsAreEnlargedByWholePixelsToAReadableSize() {
    #expect(HeatmapSheet.enlargement(height: 64, width: 64) == 4)
    #expect(HeatmapSheet.enlargement(height: 120, width: 120) == 2)
    #expect(HeatmapSheet.enlargement(height: 224, width: 224) == 1)
    #expect(HeatmapSheet.enlargement(height: 600, width: 400) == 1)
    #expect(HeatmapSheet.enlargement(height: 16, width: 16) == 14)
    #expect(HeatmapSheet.enlargement(height: 32, width: 48) == 7)
    // The long side stays within 1024 pixels for very elongated inputs.
    #expect(HeatmapSheet.enlargement(height: 8, width: 500) == 2)
    for side in [1, 7, 28, 64, 100, 223, 224, 500] {
      #expect(side * HeatmapSheet.enlargement(height: side, width: side) >= HeatmapSheet.minimumPanelSide)
    }
  }

  func sheet(side: Int = 64, classes: Int = 2, fileName: String = "data/test/images/00000.png", fonts: Drawing.Fonts = .cairo) -> HeatmapSheet {
    let image = Canvas(width: side, height: side, fill: RGB(10, 200, 30))
    let maps = (0..<classes).map { k in
      HeatmapPicture(values: (0..<(side * side)).map { Float(($0 * (k + 3)) % 17) - 8 }, channels: 1, height: side, width: side)
    }
    return HeatmapSheet(
      fileName: fileName, subtitle: "predicted: 0: normal", image: image, gray: [Float](repeating: 0.5, count: side * side),
      classes: maps.enumerated().map { HeatmapSheet.ClassMap(title: "\($0): class \($0)", detail: "logit 1.00 · p 0.50 (softmax)", picture: $1) },
      fonts: fonts)
  }

  func count(_ color: RGB, in canvas: Canvas) -> Int {
    (0..<canvas.height).reduce(0) { sum, y in sum + (0..<canvas.width).filter { canvas[$0, y] == color }.count }
  }

  /// The input panel of a 64×64 input is 256×256 pixels, drawn whole once.
  @Test func sheetShowsTheInputAtTheEnlargedSize() throws {
    for fonts in [Drawing.Fonts.cairo, .bitmap] {
      let canvas = try sheet(fonts: fonts).render()
      #expect(count(RGB(10, 200, 30), in: canvas) == 256 * 256)
      // Three columns of 256 with margins and gaps, two rows of panels.
      #expect(canvas.width == 2 * 20 + 3 * 256 + 2 * 16)
      #expect(canvas.height > 2 * 256)
      let single = try sheet(fonts: fonts).renderClass(1, overlay: false)
      #expect(single.width == 256 + 2 * 20 && single.height > 256)
    }
  }

  /// A class's line keeps logit and probability: a trailing "(softmax)" goes first.
  @Test func classDetailsDropTheirParentheticalBeforeShortening() throws {
    let bitmap = try Drawing(width: 1, height: 1, fonts: .bitmap)
    let detail = "logit −0.73 · p 0.52 (softmax)"
    #expect(HeatmapSheet.fitted(detail, bitmap, width: 256) == "logit −0.73 · p 0.52")
    #expect(HeatmapSheet.fitted(detail, bitmap, width: 1000) == detail)
    #expect(HeatmapSheet.fitted(detail, bitmap, width: 100).contains("…"))
  }

  @Test func manyClassesWrapIntoRows() throws {
    let one = try sheet(side: 16, classes: 3).render()
    let wrapped = try sheet(side: 16, classes: 11).render()
    #expect(wrapped.width == 2 * 20 + 5 * 224 + 4 * 16)
    #expect(wrapped.height > 2 * one.height)
  }

  @Test func renderingIsDeterministic() throws {
    #expect(try sheet().render() == (try sheet().render()))
    #expect(try sheet().renderClass(0, overlay: true) == (try sheet().renderClass(0, overlay: true)))
    #expect(try sheet(fonts: .bitmap).render() == (try sheet(fonts: .bitmap).render()))
  }
}
