// Helpers for ImageIO tests: temporary directories that clean up, file writing, error assertions.

import Foundation
import Testing

@testable import ImageIO

/// A fresh empty directory; call `remove()` (in a `defer`) to delete it with its contents.
struct TemporaryDirectory {
  let path: String

  init() throws {
    path = FileManager.default.temporaryDirectory.appendingPathComponent("isnetc-imageio-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
  }

  func remove() { try? FileManager.default.removeItem(atPath: path) }

  /// Writes `bytes` to `name` in the directory; returns the path.
  func write(_ bytes: [UInt8], _ name: String) throws -> String {
    let file = "\(path)/\(name)"
    try Data(bytes).write(to: URL(fileURLWithPath: file))
    return file
  }

  func entries() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: path).sorted() }
}

/// An image from nested rows per channel: `channels[c][y][x]`.
func image(_ channels: [[[Float]]]) -> Image {
  Image(
    channels: channels.count, height: channels[0].count, width: channels[0][0].count,
    pixels: channels.flatMap { $0.flatMap { $0 } })
}

/// A deterministic image whose values are multiples of 1/maximum (exact after quantization).
func patternImage(channels: Int, height: Int, width: Int, maximum: Int) -> Image {
  var pixels = [Float]()
  for c in 0..<channels {
    for y in 0..<height {
      for x in 0..<width {
        pixels.append(Float((c * 7919 + y * 104_729 + x * 1299 + (x * y) % 97) % (maximum + 1)) / Float(maximum))
      }
    }
  }
  return Image(channels: channels, height: height, width: width, pixels: pixels)
}

/// Asserts that `body` throws an ImageError naming `file` whose message contains `text`.
func expectImageError(
  _ text: String, file: String?, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void
) {
  do {
    try body()
    Issue.record("expected an error containing \"\(text)\"", sourceLocation: sourceLocation)
  } catch let error as ImageError {
    #expect(error.file == file, "\(error)", sourceLocation: sourceLocation)
    if let file { #expect(error.description.hasPrefix("\(file): "), "\(error)", sourceLocation: sourceLocation) }
    #expect(error.description.contains(text), "\(error)", sourceLocation: sourceLocation)
  } catch {
    Issue.record("unexpected error type: \(error)", sourceLocation: sourceLocation)
  }
}

func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Float {
  zip(a, b).map { abs($0 - $1) }.max() ?? 0
}
