/// Reading an image file of either format: the format is told by the magic bytes, never by the
/// file name's extension.

public enum ImageFormat: String, Sendable {
  case png
  case jpeg
  case dicom

  /// The format whose signature starts `bytes` (DICOM: "DICM" after the 128-byte preamble), or nil.
  public init?(magic bytes: [UInt8]) {
    if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) {
      self = .png
    } else if bytes.starts(with: [0xFF, 0xD8, 0xFF]) {
      self = .jpeg
    } else if bytes.count >= 132, bytes[128..<132].elementsEqual([0x44, 0x49, 0x43, 0x4D]) {
      self = .dicom
    } else {
      return nil
    }
  }
}

/// Decodes PNG, JPEG or DICOM bytes (detected by signature) into a planar image in [0, 1] with
/// the file's own channels (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA; DICOM: 1, as displayed).
/// `file` names the source in errors.
public func decodeImage(_ bytes: [UInt8], file: String? = nil) throws -> Image {
  if bytes.isEmpty {
    throw ImageError(file: file, "file is empty")
  }
  switch ImageFormat(magic: bytes) {
  case .png: return try PNGCodec.decode(bytes, file: file)
  case .jpeg: return try JPEGCodec.decode(bytes, file: file)
  case .dicom: return try DICOMCodec.decode(bytes, file: file)
  case nil:
    throw ImageError(file: file, "not a PNG, JPEG or DICOM file (unrecognised signature \(bytes.prefix(8).map { hex($0) }.joined(separator: " ")))")
  }
}

/// Reads and decodes the PNG, JPEG or DICOM file at `path`.
public func readImage(path: String) throws -> Image {
  try decodeImage(try readFileBytes(path), file: path)
}

private func hex(_ byte: UInt8) -> String {
  let digits = Array("0123456789abcdef")
  return String([digits[Int(byte >> 4)], digits[Int(byte & 15)]])
}
