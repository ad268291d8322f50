// Preprocessing: PyTorch-compatible bilinear resize, padding to square, histogram equalization,
// channel conversions, range scaling, and the loadImage pipeline.

import Testing
import TestSupport

@testable import ImageIO

@Suite struct PreprocessingTests {
  /// PyTorch's align_corners=False bilinear, written out independently in Double.
  func referenceResize(_ input: [[Double]], height: Int, width: Int) -> [[Double]] {
    func taps(_ n: Int, _ m: Int, _ d: Int) -> (Int, Int, Double) {
      let src = max((Double(d) + 0.5) * Double(n) / Double(m) - 0.5, 0)
      let i0 = min(Int(src.rounded(.down)), n - 1)
      return (i0, min(i0 + 1, n - 1), src - Double(i0))
    }
    return (0..<height).map { y in
      let (y0, y1, ly) = taps(input.count, height, y)
      return (0..<width).map { x in
        let (x0, x1, lx) = taps(input[0].count, width, x)
        let top = (1 - lx) * input[y0][x0] + lx * input[y0][x1]
        let bottom = (1 - lx) * input[y1][x0] + lx * input[y1][x1]
        return (1 - ly) * top + ly * bottom
      }
    }
  }

  @Test func bilinearResize2x3To4x5MatchesPyTorch() {
    let rows: [[Float]] = [[1, 2, 4], [8, 16, 32]]
    let resized = resizeBilinear(image([rows]), height: 4, width: 5)
    #expect(resized.channels == 1 && resized.height == 4 && resized.width == 5)
    let expected = referenceResize(rows.map { $0.map(Double.init) }, height: 4, width: 5)
    // Four taps with weights summing to 1: Σ|terms| ≤ the largest input value, 32.
    let bound = Float32Bound.sum(terms: 4) * 32
    for y in 0..<4 {
      for x in 0..<5 {
        #expect(abs(Double(resized[0, y, x]) - expected[y][x]) <= bound, "(\(y), \(x))")
      }
    }
    // By hand: rows sample input rows at 0, 0.25, 0.75, 1 (clamped); columns at 0 (clamped),
    // 0.4, 1.0, 1.6, 2 (clamped). Row 1 = 0.75 * row0 + 0.25 * row1, etc.
    // F.interpolate(torch.tensor([[[[1., 2, 4], [8, 16, 32]]]]), size=(4, 5), mode="bilinear", align_corners=False)
    let literal: [(Int, Int, Float)] = [(0, 0, 1), (0, 1, 1.4), (1, 1, 3.85), (1, 4, 11), (2, 3, 20), (3, 1, 11.2), (3, 3, 25.6)]
    for (y, x, value) in literal {
      // The literal is itself a float32 rounding of the exact value: one more term.
      #expect(Double(abs(resized[0, y, x] - value)) <= Float32Bound.sum(terms: 5) * 32, "(\(y), \(x)): \(resized[0, y, x]) vs \(value)")
    }
  }

  @Test func bilinearTapsFollowAlignCornersFalse() {
    let taps = linearTaps(inputSize: 3, outputSize: 5)
    #expect(taps.map(\.index0) == [0, 0, 1, 1, 2])
    #expect(taps.map(\.index1) == [1, 1, 2, 2, 2])
    for (tap, weight) in zip(taps, [Float(0), 0.4, 0, 0.6, 0.2]) {
      // A position's fraction: a product and a difference of values ≤ 3, relative to 3.
      #expect(Double(abs(tap.weight1 - weight)) <= Float32Bound.sum(terms: 2) * 3)
    }
  }

  @Test func bilinearDownscaleHasNoAntialiasing() {
    // 1x4 -> 1x2: scale 2, sources at 0.5 and 2.5: averages of neighbour pairs only.
    let resized = resizeBilinear(image([[[0, 10, 20, 100]]]), height: 1, width: 2)
    #expect(resized.pixels == [5, 60])
  }

  @Test func bilinearResizeMatchesTheReferenceOnLargerCases() {
    let input = patternImage(channels: 2, height: 7, width: 5, maximum: 255)
    for (h, w) in [(3, 4), (13, 11), (7, 5), (1, 1), (20, 2)] {
      let resized = resizeBilinear(input, height: h, width: w)
      for c in 0..<2 {
        let rows = (0..<7).map { y in (0..<5).map { x in Double(input[c, y, x]) } }
        let expected = referenceResize(rows, height: h, width: w)
        for y in 0..<h {
          for x in 0..<w {
            // Four taps, weights summing to 1: relative to the largest value, 255.
            #expect(abs(Double(resized[c, y, x]) - expected[y][x]) <= Float32Bound.sum(terms: 4) * 255)
          }
        }
      }
    }
  }

  @Test func padToSquareCentres() {
    let wide = image([[[1, 2, 3, 4], [5, 6, 7, 8]]])
    let padded = padToSquare(wide)
    #expect(padded.height == 4 && padded.width == 4)
    #expect(padded.pixels == [0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0])

    // Odd difference: the extra row/column goes to the bottom/right.
    let tall = image([[[1], [2], [3]], [[4], [5], [6]]])
    let paddedTall = padToSquare(tall)
    #expect(paddedTall.channels == 2 && paddedTall.width == 3)
    #expect(paddedTall.pixels == [0, 1, 0, 0, 2, 0, 0, 3, 0, 0, 4, 0, 0, 5, 0, 0, 6, 0])
    let row = padToSquare(image([[[9, 9, 9, 9]]]))
    #expect(row.pixels == [0, 0, 0, 0] + [9, 9, 9, 9] + Array(repeating: 0, count: 8))
    #expect(padToSquare(image([[[1, 2], [3, 4]]])) == image([[[1, 2], [3, 4]]]))
  }

  @Test func histogramEqualizationSmallCase() {
    // 8-bit values 10, 10, 20, 30, 30, 30: cdf 2, 3, 6; cdf(vmin) = 2; scale 255 / 4 = 63.75.
    // lut[10] = 0, lut[20] = round(1 * 63.75) = 64, lut[30] = round(4 * 63.75) = 255.
    let input = image([[[10, 10, 20].map { Float($0) / 255 }, [30, 30, 30].map { Float($0) / 255 }]])
    let out = equalizeHistogram(input)
    #expect(out.pixels == [0, 0, 64, 255, 255, 255].map { Float($0) / 255 })
  }

  @Test func histogramEqualizationRoundsHalfToEvenLikeOpenCV() {
    // Values 0, 100, 200 x5: scale 255 / 6 = 42.5, so lut[100] = round(42.5) = 42 (half to even).
    let input = image([[[0, 100, 200, 200, 200, 200, 200].map { Float($0) / 255 }]])
    #expect(equalizeHistogram(input).pixels.map { $0 * 255 } == [0, 42, 255, 255, 255, 255, 255])
    #expect(equalizationTable(histogram: [0, 1] + Array(repeating: 0, count: 254)) == Array(0..<256))
  }

  @Test func histogramEqualizationOfAConstantImageIsIdentity() {
    let input = image([[[0.5, 0.5], [0.5, 0.5]]])
    #expect(equalizeHistogram(input).pixels == Array(repeating: Float(128) / 255, count: 4))
  }

  @Test func histogramEqualizationOfRGBShiftsChannelsByTheLumaChange() {
    let input = image([[[0.2, 0.6]], [[0.2, 0.6]], [[0.2, 0.6]]])
    let out = equalizeHistogram(input)
    // Gray-valued RGB: luma equals the value, which equalizes to 0 and 1.
    for c in 0..<3 {
      // Luma (3 terms), its equalized value and the channel shift: a few roundings of values ≤ 1.
      let bound = Float(Float32Bound.sum(terms: 6))
      #expect(abs(out[c, 0, 0] - 0) <= bound && abs(out[c, 0, 1] - 1) <= bound)
    }
  }

  @Test func channelConversions() {
    let gray = image([[[0.25, 0.5]]])
    #expect(grayToRGB(gray).pixels == [0.25, 0.5, 0.25, 0.5, 0.25, 0.5])
    let rgba = image([[[1]], [[0]], [[0.5]], [[0.25]]])
    #expect(dropAlpha(rgba) == image([[[1]], [[0]], [[0.5]]]))
    #expect(dropAlpha(gray) == gray)
    // Luma: a sum of 3 products of values ≤ 1.
    #expect(Double(abs(rgbToGray(image([[[1]], [[0.5]], [[0]]])).pixels[0] - (0.299 + 0.2935))) <= Float32Bound.sum(terms: 3))
  }

  @Test func scaleToRangeMapsZeroOneOntoTheRange() {
    #expect(scaleToRange(image([[[0, 0.5, 1]]]), low: -1, high: 1).pixels == [-1, 0, 1])
    #expect(scaleToRange(image([[[0, 0.25, 1]]]), low: 0, high: 255).pixels == [0, 63.75, 255])
  }

  @Test func loadImagePipeline() throws {
    let dir = try TemporaryDirectory()
    defer { dir.remove() }
    // A 2x4 gray PNG, read as a 3-channel 4x4 input in [-1, 1] with padding to square.
    let gray = image([[[0, 51, 102, 153].map { Float($0) / 255 }, [204, 255, 255, 0].map { Float($0) / 255 }]])
    let path = "\(dir.path)/g.png"
    try PNGCodec.write(gray, to: path)
    let input = try loadImage(path: path, channels: 3, height: 4, width: 4, range: -1...1, options: PreprocessOptions(padToSquare: true))
    #expect(input.count == 3 * 16)
    let expectedPlane = padToSquare(gray).pixels.map { $0 * 2 - 1 }
    #expect(Array(input[0..<16]) == expectedPlane)
    #expect(Array(input[16..<32]) == expectedPlane)
    #expect(input[0] == -1 && input[4] == -1 && input[5] == -0.6)

    // An RGBA PNG for a 1-channel model: alpha dropped, luma, resized 2x2 -> 1x1 (average).
    let rgba = image([[[1, 1], [1, 1]], [[0, 0], [0, 0]], [[0, 0], [0, 0]], [[0, 0], [0, 0]]])
    let rgbaPath = "\(dir.path)/rgba.png"
    try PNGCodec.write(rgba, to: rgbaPath)
    let one = try loadImage(path: rgbaPath, channels: 1, height: 1, width: 1)
    // Luma (3 terms), then the average of 4 pixels, of values ≤ 1.
    #expect(one.count == 1 && Double(abs(one[0] - 0.299)) <= Float32Bound.sum(terms: 7))

    // Equalization happens on the decoded image, before resizing.
    let eq = try loadImage(path: path, channels: 1, height: 2, width: 4, options: PreprocessOptions(equalizeHistogram: true))
    #expect(eq == equalizeHistogram(gray).pixels)
  }
}
