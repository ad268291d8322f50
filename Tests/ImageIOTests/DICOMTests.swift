// DICOM through GDCM, on the small files scripts/make_dicom_fixtures.py writes (pydicom):
// stored ramps whose display values follow from the header alone — rescale, masking of the
// bits above BitsStored, windows, MONOCHROME1 — and the refusals.

import Foundation
import SeededRandom
import Testing
import TestSupport

@testable import ImageIO

@Suite struct DICOMTests {
  func fixture(_ name: String) -> String { Repository.path("Tests/Fixtures/dicom/\(name)") }
  let ramp = (0..<30).map(Double.init)

  func expectPixels(_ image: Image, _ expected: [Double], sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(image.channels == 1 && image.height == 6 && image.width == 5, sourceLocation: sourceLocation)
    // A few float32 operations on values ≤ 1 (window arithmetic in float64, one rounding).
    let bound = Float32Bound.sum(terms: 4)
    let worst = zip(image.pixels, expected).map { abs(Double($0) - $1) }.max() ?? 0
    #expect(worst <= bound, "worst \(worst): \(image.pixels) vs \(expected)", sourceLocation: sourceLocation)
  }

  @Test func eightBitWithoutWindowSpansTheImagesRange() throws {
    let image = try readImage(path: fixture("mono2_8bit.dcm"))
    expectPixels(image, ramp.map { $0 / 29 })
  }

  @Test func rescaleAndWindowAfterMaskingTheUnusedHighBits() throws {
    let path = fixture("mono2_16bit_window.dcm")
    let (values, info) = try DICOMCodec.modalityValues(try readFileBytes(path), file: path)
    #expect(info.bitsStored == 12 && info.slope == 2 && info.intercept == -1024)
    #expect(info.window?.center == 0 && info.window?.width == 400)
    #expect(values == ramp.map { Float(($0 * 100 + 300) * 2 - 1024) })
    let window = { (x: Double) -> Double in
      x <= -0.5 - 199.5 ? 0 : x > -0.5 + 199.5 ? 1 : (x + 0.5) / 399 + 0.5
    }
    expectPixels(try readImage(path: path), ramp.map { window(($0 * 100 + 300) * 2 - 1024) })
  }

  @Test func monochrome1IsInverted() throws {
    let image = try readImage(path: fixture("mono1_12bit.dcm"))
    expectPixels(image, ramp.map { 1 - $0 / 29 })
  }

  @Test func signedValuesAndTheirWindow() throws {
    let path = fixture("signed_16bit.dcm")
    let (values, _) = try DICOMCodec.modalityValues(try readFileBytes(path), file: path)
    #expect(values == ramp.map { Float($0 - 15) })
    let window = { (x: Double) -> Double in x <= 9.5 - 9.5 ? 0 : x > 9.5 + 9.5 ? 1 : (x - 9.5) / 19 + 0.5 }
    expectPixels(try readImage(path: path), ramp.map { window($0 - 15) })
  }

  @Test func theFirstOfSeveralWindowsCounts() throws {
    let path = fixture("multivalue_window.dcm")
    let (_, info) = try DICOMCodec.modalityValues(try readFileBytes(path), file: path)
    #expect(info.window?.center == 100 && info.window?.width == 80)
  }

  @Test func modelInputsFromDICOMLikeFromPNG() throws {
    // Gray DICOM to a 3-channel model: repeated, resized and scaled like any image.
    let values = try loadImage(path: fixture("mono2_8bit.dcm"), channels: 3, height: 12, width: 10)
    #expect(values.count == 3 * 12 * 10)
    #expect(values.allSatisfy { (0...1).contains($0) })
    #expect(values[0..<120] == values[120..<240])
  }

  @Test func refusalsNameTheFileAndTheReason() throws {
    let damaged = fixture("jpeg2000_damaged.dcm")
    expectImageError("cannot decode the pixel data (transfer syntax", file: damaged) { _ = try readImage(path: damaged) }
    let empty = fixture("not_an_image.dcm")
    expectImageError("DICOM: ", file: empty) { _ = try readImage(path: empty) }
  }

  @Test func truncatedFilesAreErrorsNeverCrashes() throws {
    let dir = try TemporaryDirectory()
    defer { dir.remove() }
    let bytes = try readFileBytes(fixture("mono2_16bit_window.dcm"))
    for cut in stride(from: 132, to: bytes.count, by: 23) {
      let path = try dir.write(Array(bytes.prefix(cut)), "cut\(cut).dcm")
      do {
        let image = try readImage(path: path)
        // GDCM may read a file cut inside trailing optional data; it must then be whole.
        #expect(image.pixels.count == 30, "cut at \(cut)")
      } catch let error as ImageError {
        #expect(error.file == path)
      }
    }
  }
}

@Suite struct DICOMMutationTests {
  /// Random byte changes anywhere past the preamble: an image or an ImageError, never a crash.
  @Test func mutatedFilesAreErrorsNeverCrashes() throws {
    let dir = try TemporaryDirectory()
    defer { dir.remove() }
    let bytes = try readFileBytes(Repository.path("Tests/Fixtures/dicom/mono2_16bit_window.dcm"))
    var random = SplitMix64(seed: 7)
    for index in 0..<300 {
      var mutated = bytes
      for _ in 0..<(1 + Int(random.next() % 4)) {
        let at = 132 + Int(random.next() % UInt64(bytes.count - 132))
        mutated[at] = UInt8(truncatingIfNeeded: random.next())
      }
      let path = try dir.write(mutated, "m\(index).dcm")
      do {
        let image = try readImage(path: path)
        #expect(image.pixels.count == image.height * image.width)
      } catch let error as ImageError {
        #expect(error.file == path)
      }
    }
  }
}
