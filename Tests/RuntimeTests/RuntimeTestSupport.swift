import Foundation
import GraphIR
import ModelLang
import Runtime
import Testing
import TestSupport
import TensorFiles

/// A reference fixture of the ISNet authors' implementation (float64).
struct ReferenceFixture {
  let weights: WeightTable
  let weightsPath: String
  let eval: SafetensorsFile

  /// Reads `NAME.*.safetensors` from the project's fixtures, or from `directory`.
  init(_ name: String, directory: String? = nil) throws {
    let folder = directory ?? Repository.path("Tests/Fixtures/reference")
    weightsPath = "\(folder)/\(name).weights.safetensors"
    weights = try WeightFiles.load(path: weightsPath)
    eval = try SafetensorsFile(path: "\(folder)/\(name).eval.safetensors")
  }

  /// Where the full reference fixtures are (densenet121's weights are 28 MB and not part
  /// of the project): `ISNETC_REFERENCE_DIR`, when set.
  static var externalDirectory: String? { ProcessInfo.processInfo.environment["ISNETC_REFERENCE_DIR"] }

  var batch: Int { eval.info("input")!.shape[0] }
  func input() throws -> [Float] { try eval.floats("input") }
  func logits() throws -> [Float] { try eval.floats("logits") }
}

/// max |a − b| / max |b|: the error measure the fixtures ask for.
func relativeError(_ actual: [Float], _ expected: [Float]) -> Double {
  precondition(actual.count == expected.count)
  let scale = expected.map { abs(Double($0)) }.max() ?? 1
  let worst = zip(actual, expected).map { abs(Double($0) - Double($1)) }.max() ?? 0
  return worst / max(scale, .leastNormalMagnitude)
}
