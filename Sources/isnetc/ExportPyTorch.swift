import Export
import Foundation
import GraphIR
import TensorFiles

extension Export {
  /// `--format pytorch`: the package into the directory `output` (created; files in it
  /// replaced one by one, each atomically), named after the directory.
  func writePyTorch(classifier: Graph, weights: [String: ExportTensor], position: (NodeID) -> String?) throws {
    let directory = URL(fileURLWithPath: output).standardized
    let name = directory.lastPathComponent
    let package: PyTorchPackage
    do {
      package = try PyTorchExport.package(
        classifier: classifier, weights: weights, name: name, options: PyTorchOptions(lrp: lrp.options), source: model,
        weightsSource: self.weights, position: position)
    } catch {
      throw fail("-o \(output): \(error.message)")
    }
    do {
      try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
      for (file, text) in package.files {
        try writeAtomically(to: directory.appendingPathComponent(file).path) { try $0.write(Array(text.utf8)) }
      }
      try SafetensorsWriter.write(
        package.weights.map { ($0.name, $0.tensor.shape, $0.tensor.values) },
        metadata: ["format": "pt", "isnetc.model": classifier.name], to: directory.appendingPathComponent(PyTorchPackage.weightsFile).path)
    } catch {
      throw fail(error)
    }
    let values = package.weights.reduce(0) { $0 + $1.tensor.values.count }
    print("wrote \(output)/: package \(name) (\(package.fileNames.joined(separator: ", "))), class \(package.className), \(package.weights.count) tensors (\(values) values); train with python -m \(name).train")
  }
}
