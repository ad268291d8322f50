import Foundation
import GraphIR
import ModelLang
import TestSupport
import Testing

@testable import Export

/// Weights for every parameter of `graph`: seeded values, running variances positive.
func seededWeights(_ graph: Graph, seed: UInt64 = 1) -> [String: ExportTensor] {
  var rng = SplitMix64(seed: seed)
  var table: [String: ExportTensor] = [:]
  for p in graph.parameters {
    let values = (0..<p.elementCount).map { _ in
      let u = Float(rng.unit())
      return p.role == .runningVar ? 0.5 + u : u - 0.5
    }
    table[p.name] = ExportTensor(shape: p.shape, values: values)
  }
  return table
}

/// The decoded parts of an exported model the tests look at.
struct DecodedModel {
  var irVersion: Int64
  var opsets: [(domain: String, version: Int64)]
  var opTypes: [String]
  var nodeDomains: [String]
  var initializers: [(name: String, dims: [Int64], dataLocation: Int64, external: [String: String], raw: [UInt8])]
  var inputs: [(name: String, dims: [String])]
  var outputs: [(name: String, dims: [String])]

  init(_ bytes: [UInt8]) throws {
    let model = try decodeMessage(bytes)
    irVersion = model.first(1)?.int ?? 0
    opsets = model.all(8).map { ($0.message.first(1)?.string ?? "", $0.message.first(2)?.int ?? 0) }
    let graph = model.first(7)?.message ?? []
    opTypes = graph.all(1).map { $0.message.first(4)?.string ?? "" }
    nodeDomains = graph.all(1).map { $0.message.first(7)?.string ?? "" }
    initializers = try graph.all(5).map { t in
      let fields = t.message
      var external: [String: String] = [:]
      for entry in fields.all(13) { external[entry.message.first(1)?.string ?? ""] = entry.message.first(2)?.string ?? "" }
      return (
        fields.first(8)?.string ?? "", try fields.all(1).flatMap { try packedVarints($0.bytes) }, fields.first(14)?.int ?? 0,
        external, fields.first(9)?.bytes ?? []
      )
    }
    func info(_ f: ProtobufField) -> (String, [String]) {
      let shape = f.message.first(2)?.message.first(1)?.message.first(2)?.message ?? []
      let dims = shape.all(1).map { d -> String in
        let m = d.message
        if let p = m.first(2) { return p.string }
        return String(m.first(1)?.int ?? -1)
      }
      return (f.message.first(1)?.string ?? "", dims)
    }
    inputs = graph.all(11).map(info)
    outputs = graph.all(12).map(info)
  }
}

func temporaryDirectory() throws -> String {
  let path = NSTemporaryDirectory() + "isnetc-export-\(UInt64.random(in: 0...UInt64.max))"
  try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
  return path
}

@Suite struct ExportTests {
  @Test func heatmapGraphStructure() throws {
    let graph = try compileModel("tiny")
    let weights = seededWeights(graph)
    let model = try ONNXExport.model(classifier: graph, weights: weights, options: ExportOptions(graph: .heatmaps), source: "tiny.isnet")
    let decoded = try DecodedModel(model.encoded())
    #expect(decoded.irVersion == 8)
    #expect(decoded.opsets.count == 1 && decoded.opsets[0].domain == "" && decoded.opsets[0].version >= 17)
    #expect(decoded.nodeDomains.allSatisfy { $0.isEmpty })
    let ops = Set(decoded.opTypes)
    for expected in ["Conv", "BatchNormalization", "Relu", "MaxPool", "AveragePool", "GlobalAveragePool", "Gemm", "Concat",
      "ConvTranspose", "MatMul", "ScatterElements", "Where", "GreaterOrEqual", "Div", "Slice"]
    {
      #expect(ops.contains(expected), "no \(expected) node")
    }
    // Every torchvision parameter is an initializer under its own name; the only other
    // initializers are the Zᴮ layer's folded weight and bias.
    let names = Set(decoded.initializers.map(\.name))
    let parameters = Set(graph.parameters.map(\.name))
    #expect(parameters.isSubset(of: names))
    #expect(names.subtracting(parameters) == ["features.conv0.weight+features.norm0", "features.conv0.bias+features.norm0"])
    #expect(decoded.inputs.map(\.name) == ["input"])
    #expect(decoded.inputs[0].dims == ["N", "3", "64", "64"])
    #expect(decoded.outputs.map(\.name) == ["logits", "heatmaps"])
    #expect(decoded.outputs[0].dims == ["N", "3"])
    #expect(decoded.outputs[1].dims == ["N", "3", "3", "64", "64"])
  }

  /// With the ε input rule the first layer is an ε step like the others: no Zᴮ
  /// initializers, the input rule in the metadata.
  @Test func heatmapGraphWithTheEpsilonInputRule() throws {
    let graph = try compileModel("tiny")
    let options = ExportOptions(graph: .heatmaps, lrp: LRPOptions(inputRule: .epsilon))
    let model = try ONNXExport.model(classifier: graph, weights: seededWeights(graph), options: options, source: "tiny.isnet")
    let decoded = try DecodedModel(model.encoded())
    #expect(Set(decoded.initializers.map(\.name)) == Set(graph.parameters.map(\.name)))
    #expect(decoded.outputs.map(\.name) == ["logits", "heatmaps"])
    #expect(model.metadata.contains { $0.key == "isnetc.input_rule" && $0.value == "epsilon" })
    let zb = try ONNXExport.model(classifier: graph, weights: seededWeights(graph), options: ExportOptions(graph: .heatmaps), source: "tiny.isnet")
    #expect(zb.metadata.contains { $0.key == "isnetc.input_rule" && $0.value == "zb" })
  }

  @Test func deploymentGraphFoldsBatchNorms() throws {
    let graph = try compileModel("tiny")
    let weights = seededWeights(graph)
    let model = try ONNXExport.model(classifier: graph, weights: weights, options: ExportOptions(graph: .deploy), source: "tiny.isnet")
    let decoded = try DecodedModel(model.encoded())
    #expect(!decoded.opTypes.contains("ConvTranspose") && !decoded.opTypes.contains("ScatterElements"))
    #expect(decoded.outputs.map(\.name) == ["logits"])
    // conv0's batch norm is folded: its own tensors are gone, the folded ones are there,
    // with isnetc's values W·γ/σ computed in double and rounded.
    let names = Set(decoded.initializers.map(\.name))
    #expect(!names.contains("features.norm0.weight"))
    let folded = try #require(decoded.initializers.first { $0.name == "features.conv0.weight+features.norm0" })
    let w = weights["features.conv0.weight"]!.values
    let (g, v) = (weights["features.norm0.weight"]!.values[0], weights["features.norm0.running_var"]!.values[0])
    let scale = Float(Double(g) / (Double(v) + 1e-5).squareRoot())
    let first = Float(Double(w[0]) * Double(scale))
    let raw = folded.raw
    let stored = Float(bitPattern: UInt32(raw[0]) | UInt32(raw[1]) << 8 | UInt32(raw[2]) << 16 | UInt32(raw[3]) << 24)
    #expect(stored == first)
    // The pre-activation norms after concatenations stay batch norms, torchvision-named.
    #expect(names.contains("features.denseblock1.denselayer1.norm1.running_var"))
  }

  @Test func explainSelectsClasses() throws {
    let graph = try compileModel("tiny")
    let weights = seededWeights(graph)
    for (explain, count) in [(ExplainedClasses.top, 1), (.list([2, 0]), 2)] {
      let model = try ONNXExport.model(
        classifier: graph, weights: weights, options: ExportOptions(graph: .heatmaps, explain: explain), source: "tiny.isnet")
      #expect(try DecodedModel(model.encoded()).outputs[1].dims == ["N", String(count), "3", "64", "64"])
    }
    #expect(throws: ExportError.self) {
      try ONNXExport.model(classifier: graph, weights: weights, options: ExportOptions(graph: .heatmaps, explain: .list([3])), source: "tiny.isnet")
    }
  }

  static let uneven = """
    isnet 1;
    model uneven(input: f32[3, 10, 10] in [0, 1], classes: int = 3) {
      x = relu(conv(input, out: 4, k: 3, pad: 1) @ "conv");
      x = adaptive_avgpool(x, out: 3);
      x = flatten(x);
      return linear(x, out: classes) @ "fc";
    }
    """

  @Test func refusesAnOpONNXCannotExpress() throws {
    let compilation = compileSources(["uneven.isnet": Self.uneven], main: "uneven.isnet")
    let graph = try #require(compilation.graph)
    let directory = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let path = directory + "/uneven.onnx"
    var message = ""
    do {
      let model = try ONNXExport.model(
        classifier: graph, weights: seededWeights(graph), options: ExportOptions(graph: .deploy), source: "uneven.isnet",
        position: { compilation.position(of: $0) })
      try ONNXFile.write(model, to: path)
    } catch let error as ExportError {
      message = error.message
    }
    #expect(message.hasPrefix("uneven.isnet:4:7: cannot export op 'adaptive_avgpool' to ONNX: its windows differ in size"))
    #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)
  }

  @Test func refusesWeightsThatDoNotFit() throws {
    let graph = try compileModel("tiny")
    var weights = seededWeights(graph)
    weights["features.conv0.weight"] = nil
    weights["stray"] = ExportTensor(shape: [1], values: [0])
    var message = ""
    do {
      _ = try ONNXExport.model(classifier: graph, weights: weights, options: ExportOptions(graph: .deploy), source: "tiny.isnet", weightsSource: "w.safetensors")
    } catch {
      message = error.message
    }
    #expect(message.hasPrefix("w.safetensors: weights do not fit model 'tiny'"))
    #expect(message.contains("missing tensor 'features.conv0.weight'") && message.contains("unexpected tensor 'stray'"))
  }

  @Test func writesAtomicallyAndExternalData() throws {
    let graph = try compileModel("tiny")
    let model = try ONNXExport.model(classifier: graph, weights: seededWeights(graph), options: ExportOptions(graph: .deploy), source: "tiny.isnet")
    let directory = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }

    // A write that cannot happen leaves nothing behind.
    #expect(throws: (any Error).self) { try ONNXFile.write(model, to: directory + "/missing/m.onnx") }

    let path = directory + "/m.onnx"
    try ONNXFile.write(model, to: path)
    try ONNXFile.write(model, to: path)  // replaces it
    #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["m.onnx"])
    let inline = try DecodedModel(Array(try Data(contentsOf: URL(fileURLWithPath: path))))
    #expect(inline.initializers.allSatisfy { $0.dataLocation == 0 && !$0.raw.isEmpty })

    // Above the limit (here lowered to 1 KiB) every tensor goes to the sidecar file.
    let external = directory + "/e.onnx"
    let files = try ONNXFile.write(model, to: external, limit: 1024)
    #expect(files == [external + ".data", external])
    let decoded = try DecodedModel(Array(try Data(contentsOf: URL(fileURLWithPath: external))))
    let data = Array(try Data(contentsOf: URL(fileURLWithPath: external + ".data")))
    for (tensor, original) in zip(decoded.initializers, model.graph.initializers) {
      #expect(tensor.dataLocation == 1 && tensor.raw.isEmpty)
      #expect(tensor.external["location"] == "e.onnx.data")
      let offset = Int(tensor.external["offset"] ?? "") ?? -1
      let length = Int(tensor.external["length"] ?? "") ?? -1
      #expect(offset % 4096 == 0 && length == original.byteCount)
      var expected: [UInt8] = []
      original.appendRawBytes(to: &expected)
      #expect(Array(data[offset..<offset + length]) == expected)
    }
  }
}
