/// DICOM images (X-rays as hospitals store them) through DCMTK: the first frame of a
/// monochrome image, 8 to 16 bits, uncompressed or in a transfer syntax DCMTK's codecs
/// decode (JPEG, JPEG-LS, RLE; JPEG 2000 is refused with a clear error).
///
/// Display, as a radiology viewer shows it (DICOM PS3.3 C.11.2.1.2): stored values are
/// turned into modality values (× rescale slope + intercept), then mapped to [0, 1] by the
/// file's window (centre and width) when it has one, else by the image's own minimum and
/// maximum; MONOCHROME1 images (the lowest value white) are inverted.

import CDicom

public enum DICOMCodec {
  /// What the file says about its pixels.
  public struct Info: Sendable, Equatable {
    public var rows: Int
    public var columns: Int
    public var bitsStored: Int
    public var slope: Double
    public var intercept: Double
    public var monochrome1: Bool
    public var window: (center: Double, width: Double)?
    public var transferSyntax: String

    public static func == (a: Info, b: Info) -> Bool {
      a.rows == b.rows && a.columns == b.columns && a.bitsStored == b.bitsStored && a.slope == b.slope
        && a.intercept == b.intercept && a.monochrome1 == b.monochrome1 && a.window?.center == b.window?.center
        && a.window?.width == b.window?.width && a.transferSyntax == b.transferSyntax
    }
  }

  /// The modality values of the first frame, row by row, and the file's description.
  public static func modalityValues(_ bytes: [UInt8], file: String? = nil) throws -> (values: [Float], info: Info) {
    var raw = isn_dicom_info()
    var values: UnsafeMutablePointer<Float>? = nil
    var message = [CChar](repeating: 0, count: 512)
    let status = bytes.withUnsafeBufferPointer { buffer in
      isn_dicom_decode(buffer.baseAddress, buffer.count, &raw, &values, &message, message.count)
    }
    guard status == 0, let values else {
      throw ImageError(file: file, "DICOM: " + String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }
    defer { isn_dicom_free(values) }
    let count = Int(raw.rows) * Int(raw.columns)
    let info = Info(
      rows: Int(raw.rows), columns: Int(raw.columns), bitsStored: Int(raw.bits_stored), slope: raw.slope,
      intercept: raw.intercept, monochrome1: raw.monochrome1 != 0,
      window: raw.has_window != 0 ? (raw.window_center, raw.window_width) : nil,
      transferSyntax: withUnsafeBytes(of: raw.transfer_syntax) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) })
    return (Array(UnsafeBufferPointer(start: values, count: count)), info)
  }

  /// The image as it is displayed: one channel in [0, 1].
  public static func decode(_ bytes: [UInt8], file: String? = nil) throws -> Image {
    let (values, info) = try modalityValues(bytes, file: file)
    var pixels: [Float]
    if let window = info.window {
      pixels = values.map { Float(windowed(Double($0), center: window.center, width: window.width)) }
    } else {
      let low = values.min() ?? 0, high = values.max() ?? 0
      let span = high - low
      pixels = values.map { span > 0 ? ($0 - low) / span : 0 }
    }
    if info.monochrome1 { pixels = pixels.map { 1 - $0 } }
    return Image(channels: 1, height: info.rows, width: info.columns, pixels: pixels)
  }

  /// DICOM's linear VOI function, scaled to [0, 1].
  static func windowed(_ x: Double, center c: Double, width w: Double) -> Double {
    if w <= 1 { return x < c - 0.5 ? 0 : 1 }
    if x <= c - 0.5 - (w - 1) / 2 { return 0 }
    if x > c - 0.5 + (w - 1) / 2 { return 1 }
    return (x - (c - 0.5)) / (w - 1) + 0.5
  }
}
