import Foundation
import GraphIR
import ImageIO
import TensorFiles

/// One sample ready for the model: its display name and its values, [C, H, W] flattened.
struct LoadedSample {
  var name: String
  var values: [Float]
}

/// Reads the command line's inputs into samples of the model's input type.
///
/// - PNG and JPEG (by content, not extension): decoded, grayscale repeated to 3 channels
///   (or RGB reduced to gray for a 1-channel model), optionally equalized and padded to a
///   square, resized bilinearly to the model's size and scaled to its declared range.
/// - `.npy` and `.safetensors` (the tensor named `input`, or the file's only tensor):
///   [C, H, W] or [N, C, H, W] of exactly the model's input shape, used as given.
struct InputReader {
  var dims: [Int]
  var range: ClosedRange<Float>
  var options: PreprocessOptions

  init(graph: Graph, options: PreprocessOptions) {
    let input = graph[graph.inputIDs[0]]
    dims = input.type.dims
    if case .input(let r) = input.op { range = Float(r.low)...Float(r.high) } else { range = 0...1 }
    self.options = options
  }

  func read(_ path: String) throws -> [LoadedSample] {
    let lowered = path.lowercased()
    if lowered.hasSuffix(".npy") {
      let (shape, values) = try NumpyFile.read(path: path)
      return try split(shape: shape, values: values, path: path)
    }
    if lowered.hasSuffix(".safetensors") {
      let file = try SafetensorsFile(path: path)
      let name = file.names.contains("input") ? "input" : (file.names.count == 1 ? file.names[0] : nil)
      guard let name, let info = file.info(name) else {
        throw InputError("\(path): holds no tensor named 'input' and more than one tensor (\(file.names.prefix(5).joined(separator: ", ")))")
      }
      return try split(shape: info.shape, values: try file.floats(name), path: path)
    }
    guard dims.count == 3 else {
      throw InputError("\(path): model input \(shapeText(dims)) is not an image; give a .npy or .safetensors tensor")
    }
    let values = try loadImage(path: path, channels: dims[0], height: dims[1], width: dims[2], range: range, options: options)
    return [LoadedSample(name: path, values: values)]
  }

  private func split(shape: [Int], values: [Float], path: String) throws -> [LoadedSample] {
    let perSample = dims.reduce(1, *)
    if shape == dims { return [LoadedSample(name: path, values: values)] }
    guard shape.count == dims.count + 1, Array(shape.dropFirst()) == dims else {
      throw InputError("\(path): tensor of shape \(shapeText(shape)) does not match the model input \(shapeText(dims)) (or [N] + that)")
    }
    if let bad = values.firstIndex(where: { !$0.isFinite }) {
      throw InputError("\(path): value at flat index \(bad) is not finite (\(values[bad]))")
    }
    return (0..<shape[0]).map { n in
      LoadedSample(name: "\(path)[\(n)]", values: Array(values[n * perSample..<(n + 1) * perSample]))
    }
  }
}

struct InputError: Error, CustomStringConvertible {
  var description: String
  init(_ description: String) { self.description = description }
}
