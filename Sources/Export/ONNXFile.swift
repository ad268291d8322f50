/// Writing an ONNX model: one `.onnx` file, or, when the model would pass protobuf's 2 GB
/// message limit (or when asked), the `.onnx` file plus a sidecar `FILE.onnx.data` holding
/// every initializer's bytes (TensorProto external data: location, offset, length; offsets
/// 4096-aligned so the data can be memory-mapped). Each file is written atomically: a
/// temporary file renamed into place, so an error leaves no partial file.

import TensorFiles

public enum ExternalData: Sendable, Equatable {
  /// External data exactly when the model would exceed the protobuf limit.
  case automatic
  /// Always: every initializer goes to the sidecar file.
  case always
}

public enum ONNXFile {
  /// Protobuf messages are limited to 2 GiB − 1 bytes.
  public static let protobufLimit = Int(Int32.max)
  /// Room kept under the limit for everything that is not initializer data.
  public static let structureAllowance = 64 << 20

  /// The sidecar's path for a model at `path`.
  public static func dataPath(for path: String) -> String { path + ".data" }

  /// Writes `model` to `path`. Returns the files written. `limit`: the size above which
  /// initializers go to external data (tests lower it).
  @discardableResult
  public static func write(
    _ model: ONNXModel, to path: String, externalData: ExternalData = .automatic,
    limit: Int = protobufLimit - structureAllowance
  ) throws -> [String] {
    var model = model
    let dataBytes = model.graph.initializers.reduce(0) { $0 + $1.byteCount }
    let external = externalData == .always || dataBytes > limit
    var written: [String] = []
    if external {
      let dataPath = dataPath(for: path)
      let location = dataPath.split(separator: "/").last.map(String.init) ?? dataPath
      var offset = 0
      for i in model.graph.initializers.indices {
        let count = model.graph.initializers[i].byteCount
        model.graph.initializers[i].external = ONNXTensor.ExternalLocation(location: location, offset: offset, length: count)
        offset = (offset + count + 4095) / 4096 * 4096
      }
      let tensors = model.graph.initializers
      try writeAtomically(to: dataPath) { out in
        var position = 0
        for tensor in tensors {
          let start = tensor.external!.offset
          if start > position { try out.write([UInt8](repeating: 0, count: start - position)) }
          var bytes: [UInt8] = []
          tensor.appendRawBytes(to: &bytes)
          try out.write(bytes)
          position = start + bytes.count
        }
      }
      written.append(dataPath)
    }
    let bytes = model.encoded()
    guard bytes.count <= protobufLimit else {
      throw ExportError("\(path): the model's structure alone is \(bytes.count) bytes, over protobuf's 2 GiB limit")
    }
    try writeAtomically(to: path) { try $0.write(bytes) }
    written.append(path)
    return written
  }
}
