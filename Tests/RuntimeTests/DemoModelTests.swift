import Evaluation
import Foundation
import GraphIR
import ImageIO
import LRPTransform
import Runtime
import Testing
import TestSupport

/// The models `isnetc demo` ships (demo/, made by scripts/make-demo) do what the demo says:
/// on its samples the standard classifier puts much of its relevance on the background and
/// follows the background shape, the ISNet and the distilled student keep their relevance
/// inside the lungs and answer alike with its class's shape, none and another class's.
@Suite struct DemoModelTests {
  struct Look {
    var file: String
    var label: Int
    var predicted: Int
    var background: Double
  }

  /// Each sample's predicted class and that class's share of |R| outside the mask.
  func looks(_ run: String, options: LRPOptions = LRPOptions()) throws -> [Look] {
    let directory = Repository.path("demo")
    let graph = try compileModel("tiny").withLRPBlock(options)
    let weightsPath = "\(directory)/\(run).safetensors"
    let session = try InferenceSession(
      graph: graph, weights: try WeightFiles.load(path: weightsPath), weightsSource: weightsPath, batchSize: 1, threads: testThreads)
    let dims = graph[graph.inputIDs[0]].type.dims
    let rows = try Repository.read("demo/samples/labels.csv").split(separator: "\n").dropFirst()
    return try rows.map { row in
      let cells = row.split(separator: ",").map(String.init)
      let image = try loadImage(path: "\(directory)/samples/images/\(cells[0])", channels: dims[0], height: dims[1], width: dims[2])
      let mask = try loadImage(path: "\(directory)/samples/masks/\(cells[0])", channels: 1, height: dims[1], width: dims[2])
      let logits = try session.run(image, samples: 1)
      let maps = session.values(of: graph.outputs[1], samples: 1)
      let top = logits.indices.max { logits[$0] < logits[$1] }!
      let perClass = maps.count / logits.count
      let background = backgroundRelevanceFraction(
        heatmap: Array(maps[top * perClass..<(top + 1) * perClass]), channels: dims[0], mask: mask)!
      return Look(file: cells[0], label: Int(cells[1])!, predicted: top, background: background)
    }
  }

  /// Samples SPLIT-ID: whether the answer for one image differs between its splits.
  func swayed(_ looks: [Look]) -> Int {
    let images = Dictionary(grouping: looks) { $0.file.split(separator: "-").dropFirst().joined(separator: "-") }
    return images.values.filter { Set($0.map(\.predicted)).count > 1 }.count
  }

  @Test func theISNetLooksInsideTheLungsAndTheStandardClassifierDoesNot() throws {
    let standard = try looks("standard")
    let isnet = try looks("isnet")
    func mean(_ l: [Look]) -> Double { l.map(\.background).reduce(0, +) / Double(l.count) }
    print("demo: background share standard \(mean(standard)), ISNet \(mean(isnet)); answers swayed by the shape: standard \(swayed(standard)), ISNet \(swayed(isnet))")
    #expect(standard.count == 9)
    #expect(mean(isnet) <= 0.15)
    #expect(mean(standard) >= 0.4)
    #expect(isnet.allSatisfy { $0.background <= 0.25 })
    #expect(swayed(isnet) == 0)
    #expect(swayed(standard) >= 1)
    #expect(isnet.allSatisfy { $0.predicted == $0.label })
  }

  /// The student explains with the rule it was trained with (the ε-rule to the input).
  @Test func theDistilledStudentLooksInsideTheLungsAndIgnoresTheShape() throws {
    let student = try looks("student", options: LRPOptions(inputRule: .epsilon))
    func mean(_ l: [Look]) -> Double { l.map(\.background).reduce(0, +) / Double(l.count) }
    print("demo: distilled student background share \(mean(student)), answers swayed by the shape: \(swayed(student))")
    #expect(student.count == 9)
    #expect(mean(student) <= 0.35)
    #expect(swayed(student) == 0)
    #expect(student.allSatisfy { $0.predicted == $0.label })
  }
}
