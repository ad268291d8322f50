import Foundation
import GraphIR
import ImageIO
import Visualization

/// `isnetc run` for a segmentation model: per input, the predicted mask (foreground where
/// the logit is positive) as `NAME.mask.png` (0/255) and a picture, `NAME.segmentation.png`:
/// the input in grey, four times its size, the predicted foreground tinted and outlined.
/// Prints each input's foreground share and its files.
/// `graph`: the segmentation model's deployment graph.
func segment(_ graph: Graph, inference: InferenceOptions, out: String, json: Bool, inputs: [String]) throws {
  let session = try inference.session(for: graph)
  let reader = inference.reader(for: graph)
  let (channels, height, width) = (reader.dims[0], reader.dims[1], reader.dims[2])
  do { try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true) } catch { throw fail(error) }
  var stems = StemNamer()
  var rows: [(name: String, share: Double, mask: String, picture: String)] = []
  try forEachBatch(inputs, reader: reader, batch: inference.batch, label: "segmenting") { batch in
    let logits = try session.run(batch.flatMap(\.values), samples: batch.count)
    let plane = height * width
    for (i, sample) in batch.enumerated() {
      let mask = logits[i * plane..<(i + 1) * plane].map { $0 > 0 }
      let stem = stems.stem(for: sample.name)
      let maskPath = (out as NSString).appendingPathComponent("\(stem).mask.png")
      let picturePath = (out as NSString).appendingPathComponent("\(stem).segmentation.png")
      try PNGCodec.write(Image(channels: 1, height: height, width: width, pixels: mask.map { $0 ? 1 : 0 }), to: maskPath)
      let grey = (0..<plane).map { p in
        (0..<channels).reduce(Float(0)) { $0 + sample.values[$1 * plane + p] } / Float(channels)
      }
      try PNGCodec.write(canvas: SegmentationPicture.render(grey: grey, range: reader.range, mask: mask, height: height, width: width), to: picturePath)
      rows.append((sample.name, Double(mask.filter { $0 }.count) / Double(plane), maskPath, picturePath))
    }
  }
  if json {
    let objects: [[String: Any]] = rows.map { ["input": $0.name, "foreground": $0.share, "mask": $0.mask, "picture": $0.picture] }
    let data = (try? JSONSerialization.data(withJSONObject: ["model": graph.name, "results": objects], options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])) ?? Data()
    print(String(decoding: data, as: UTF8.self))
  } else {
    print("input\tforeground\tmask\tpicture")
    for row in rows { print("\(row.name)\t\(String(format: "%.3f", row.share))\t\(row.mask)\t\(row.picture)") }
  }
}

enum SegmentationPicture {
  static let scale = 4
  static let tint = RGB(40, 140, 255)
  static let outline = RGB(255, 210, 0)

  /// The grey image (values in `range`) `scale` times its size, foreground tinted, and each
  /// side of a foreground pixel that faces the background drawn in the outline colour.
  static func render(grey: [Float], range: ClosedRange<Float>, mask: [Bool], height: Int, width: Int) -> Canvas {
    var canvas = Canvas(width: width * scale, height: height * scale)
    let span = max(range.upperBound - range.lowerBound, .leastNormalMagnitude)
    func background(_ y: Int, _ x: Int) -> Bool { y < 0 || x < 0 || y >= height || x >= width || !mask[y * width + x] }
    for y in 0..<height {
      for x in 0..<width {
        let level = min(max((grey[y * width + x] - range.lowerBound) / span, 0), 1)
        let v = UInt8((level * 255).rounded())
        let inside = mask[y * width + x]
        let colour = inside ? RGB(v, v, v).mixed(with: tint, 0.45) : RGB(v, v, v)
        let (top, bottom, left, right) = inside
          ? (background(y - 1, x), background(y + 1, x), background(y, x - 1), background(y, x + 1)) : (false, false, false, false)
        for sy in 0..<scale {
          for sx in 0..<scale {
            let edge = (top && sy == 0) || (bottom && sy == scale - 1) || (left && sx == 0) || (right && sx == scale - 1)
            canvas[x * scale + sx, y * scale + sy] = edge ? outline : colour
          }
        }
      }
    }
    return canvas
  }
}
