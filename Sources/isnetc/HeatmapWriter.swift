import ArgumentParser
import Foundation
import GraphIR
import ImageIO
import TensorFiles
import Visualization

/// How raw heatmaps are stored: one `.npy` per class, or one safetensors file per input
/// holding every explained class (`heatmap.K`, [C, H, W]) and the logits.
enum RawFormat: String, ExpressibleByArgument, CaseIterable {
  case npy
  case safetensors
}

/// Writes, for one input, the raw heatmaps of the chosen classes, a picture per class and a
/// sheet (the image, every chosen class's map alone and over the image, on one colour
/// scale): Visualization's HeatmapSheet.
struct HeatmapWriter {
  var directory: String
  var format: RawFormat
  var overlay: Bool
  var classNames: [String]
  /// The model input [C, H, W] and its declared value range.
  var inputDims: [Int]
  var range: ClosedRange<Float>

  /// Creates the output directory; an error names it.
  func prepare() throws {
    do {
      try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    } catch {
      throw fail("cannot create the output directory '\(directory)': \(error.localizedDescription)")
    }
  }

  /// `heatmaps`: [K, C, H, W] for every class of the model. Returns the files written.
  func write(stem: String, sample: LoadedSample, scores: Scores, heatmaps: [Float], classes: [Int]) throws -> [String] {
    let (c, h, w) = (inputDims[0], inputDims[1], inputDims[2])
    let perClass = c * h * w
    func map(_ k: Int) -> [Float] { Array(heatmaps[k * perClass..<(k + 1) * perClass]) }
    var files: [String] = []
    let base = (directory as NSString).appendingPathComponent(stem)
    switch format {
    case .npy:
      for k in classes {
        let path = "\(base).class\(k).npy"
        try NumpyFile.write(shape: [c, h, w], values: map(k), to: path)
        files.append(path)
      }
    case .safetensors:
      let path = "\(base).heatmaps.safetensors"
      let tensors = classes.map { (name: "heatmap.\($0)", shape: [c, h, w], values: map($0)) }
        + [(name: "logits", shape: [scores.logits.count], values: scores.logits)]
      try SafetensorsWriter.write(tensors, metadata: ["input": sample.name, "classes": classes.map(String.init).joined(separator: ",")], to: path)
      files.append(path)
    }
    let sheet = HeatmapSheet(
      fileName: sample.name, subtitle: Self.subtitle(scores, classNames: classNames), image: imageCanvas(sample.values),
      gray: grayImage(sample.values),
      classes: classes.map { k in
        HeatmapSheet.ClassMap(
          title: "\(k): \(classNames[k])", detail: Self.detail(scores, k),
          picture: HeatmapPicture(values: map(k), channels: c, height: h, width: w))
      })
    do {
      for (index, k) in classes.enumerated() {
        let path = "\(base).class\(k).png"
        try PNGCodec.write(canvas: sheet.renderClass(index, overlay: overlay), to: path)
        files.append(path)
      }
      let sheetPath = "\(base).sheet.png"
      try PNGCodec.write(canvas: sheet.render(), to: sheetPath)
      files.append(sheetPath)
    } catch let error as PictureError {
      throw fail("\(sample.name): \(error); explain fewer classes (--explain top, or a list)")
    }
    return files
  }

  /// "logit 2.80 · p 0.97 (softmax)": the probability as the model's output kind gives it.
  static func detail(_ scores: Scores, _ k: Int) -> String {
    let logit = String(format: "%.2f", scores.logits[k]).replacingOccurrences(of: "-", with: "−")
    return "logit \(logit) · p \(String(format: "%.2f", scores.probabilities[k])) (\(scores.kind == .softmax ? "softmax" : "sigmoid"))"
  }

  /// The predicted class (softmax) or labels at p ≥ 0.5 (sigmoid).
  static func subtitle(_ scores: Scores, classNames: [String]) -> String {
    let names = scores.predicted.map { "\($0): \(classNames[$0])" }
    switch scores.kind {
    case .softmax: return "predicted: " + (names.first ?? "–")
    case .sigmoid, .segmentation: return "predicted labels (p ≥ 0.5): " + (names.isEmpty ? "none" : names.joined(separator: ", "))
    }
  }

  /// The input as the model saw it, mapped back from its range to [0, 1] and averaged over
  /// channels: [H, W].
  private func grayImage(_ values: [Float]) -> [Float] {
    let (c, plane) = (inputDims[0], inputDims[1] * inputDims[2])
    let span = max(range.upperBound - range.lowerBound, .leastNormalMagnitude)
    return (0..<plane).map { i in
      (0..<c).reduce(0) { $0 + (values[$1 * plane + i] - range.lowerBound) / span } / Float(c)
    }
  }

  /// The input as a picture: RGB for three channels, gray otherwise.
  private func imageCanvas(_ values: [Float]) -> Canvas {
    let (c, h, w) = (inputDims[0], inputDims[1], inputDims[2])
    let gray = grayImage(values)
    let span = max(range.upperBound - range.lowerBound, .leastNormalMagnitude)
    var canvas = Canvas(width: w, height: h)
    func byte(_ v: Float) -> UInt8 { UInt8((min(max(v, 0), 1) * 255).rounded()) }
    for y in 0..<h {
      for x in 0..<w {
        let i = y * w + x
        if c == 3 {
          let channel = { (k: Int) in byte((values[k * h * w + i] - self.range.lowerBound) / span) }
          canvas[x, y] = RGB(channel(0), channel(1), channel(2))
        } else {
          canvas[x, y] = RGB(byte(gray[i]), byte(gray[i]), byte(gray[i]))
        }
      }
    }
    return canvas
  }
}

/// File-name stems for inputs: the base name without extension, `_N` for the samples of a
/// tensor file, and `-2`, `-3`, … where two inputs would share a name.
struct StemNamer {
  private var used: [String: Int] = [:]

  mutating func stem(for sampleName: String) -> String {
    var name = (sampleName as NSString).lastPathComponent
    var index: String? = nil
    if name.hasSuffix("]"), let open = name.lastIndex(of: "[") {
      index = String(name[name.index(after: open)..<name.index(before: name.endIndex)])
      name = String(name[..<open])
    }
    name = (name as NSString).deletingPathExtension
    if let index { name += "_\(index)" }
    let safe = String(name.map { $0.isLetter || $0.isNumber || "-_.".contains($0) ? $0 : "_" })
    let count = used[safe, default: 0] + 1
    used[safe] = count
    return count == 1 ? safe : "\(safe)-\(count)"
  }
}
