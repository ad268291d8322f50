import Foundation
import GraphIR
import ModelLang
import Testing
import TestSupport


@Suite struct ModelTests {
  @Test(arguments: allModels) func irMatchesGolden(_ model: String) throws {
    let graph = try compileModel(model)
    #expect(graph.verify().isEmpty)
    try assertGolden(graph.text, at: "Tests/ModelLangTests/Golden/\(model).ir")
  }

  @Test(arguments: allModels) func deploymentGraphMatchesGolden(_ model: String) throws {
    let deployed = try compileModel(model).deploymentGraph()
    #expect(deployed.verify().isEmpty)
    #expect(try Graph(parsing: deployed.text) == deployed)
    try assertGolden(deployed.text, at: "Tests/ModelLangTests/Golden/\(model).deploy")
  }

  /// DenseNet deploys with no dropout and no separate ReLU: every ReLU follows a layer it
  /// fuses into; the norms after concatenations stay, the others fold.
  /// Every model file (blocks aside) is among the models whose graphs are golden.
  @Test func everyModelFileIsChecked() throws {
    let files = try FileManager.default.contentsOfDirectory(atPath: Repository.path("models"))
    let models = files.filter { $0.hasSuffix(".isnet") && !$0.hasSuffix("_blocks.isnet") }.map { String($0.dropLast(6)) }
    #expect(Set(models) == Set(allModels))
  }

  @Test func densenetDeploymentFusesEverything() throws {
    let classifier = try compileModel("densenet121")
    let deployed = classifier.deploymentGraph()
    let names = deployed.nodes.map(\.op.name)
    #expect(!names.contains("dropout") && !names.contains("relu"))
    // 120 norms: 58 follow a convolution (norm0 and each layer's norm2) and fold.
    #expect(classifier.nodes.filter { $0.op.name == "bn" }.count == 121)
    #expect(names.filter { $0 == "bn" }.count == 121 - 59)
    // Folding keeps every parameter: the weights file is the same for both graphs.
    #expect(Set(deployed.parameters.map(\.name)) == Set(classifier.parameters.map(\.name)))
  }

  @Test(arguments: allModels) func textFormRoundTrips(_ model: String) throws {
    let graph = try compileModel(model)
    let parsed = try Graph(parsing: graph.text)
    #expect(parsed == graph)
    #expect(parsed.text == graph.text)
  }

  @Test func densenet121SummaryMatchesGolden() throws {
    try assertGolden(try compileModel("densenet121").summary, at: "Tests/ModelLangTests/Golden/densenet121.summary")
  }

  /// torchvision's densenet121 with 1000 classes: 606 float tensors, 7,978,856 parameters.
  @Test func densenet121HasTorchvisionParameters() throws {
    let graph = try compileModel("densenet121")
    let table = graph.parameters
    #expect(table.count == 606)
    #expect(table.filter(\.role.isTrainable).reduce(0) { $0 + $1.elementCount } == 7_978_856)
    // The reference weight file has 3 classes; with 1000 only the classifier differs.
    let reference = try fixtureParameters("densenet121_3classes").map { line -> String in
      switch line {
      case "classifier.weight\t[3, 1024]": "classifier.weight\t[1000, 1024]"
      case "classifier.bias\t[3]": "classifier.bias\t[1000]"
      default: line
      }
    }
    #expect(parameterLines(graph) == reference)
  }

  /// About 2.87 GMAC at 224×224: 2.834 G in convolutions and the classifier (torchvision's
  /// figure), the rest in batch norm and average pooling.
  @Test func densenet121MultiplyAccumulates() throws {
    let graph = try compileModel("densenet121")
    let convAndLinear = graph.nodes.indices.filter {
      switch graph.nodes[$0].op {
      case .conv2d, .linear: true
      default: false
      }
    }.reduce(0) { $0 + graph.multiplyAccumulates(of: NodeID($1)) }
    #expect(convAndLinear == 2_834_161_664)
    let total = graph.totalMultiplyAccumulates
    #expect(total > 2_840_000_000 && total < 2_900_000_000)
  }

  @Test(arguments: [("tiny", "tiny"), ("deep", "deep"), ("densenet121", "densenet121_3classes")])
  func fixtureModelsMatchWeightFiles(model: String, fixture: String) throws {
    let graph = try compileModel(model, options: CompileOptions(classes: 3))
    #expect(parameterLines(graph) == (try fixtureParameters(fixture)))
  }

  @Test func resnet18MatchesTorchvisionSize() throws {
    let graph = try compileModel("resnet18")
    #expect(graph.parameters.filter(\.role.isTrainable).reduce(0) { $0 + $1.elementCount } == 11_689_512)
    #expect(graph.parameters.contains { $0.name == "layer2.0.downsample.1.running_var" && $0.shape == [128] })
    #expect(graph.nodes.contains { $0.op == .add })
  }

  @Test func overridesClassesAndInputSize() throws {
    let graph = try compileModel("densenet121", options: CompileOptions(classes: 3, inputSize: Pair(128, 96)))
    #expect(graph.nodes[0].type.dims == [3, 128, 96])
    #expect(graph[graph.outputs[0]].type.dims == [3])
    #expect(graph.nodes.contains { $0.name == "features.norm5" && $0.type.dims == [1024, 4, 3] })
  }

  @Test func densenetIsThePapers() throws {
    // Every transition is bn → relu → conv → relu → avgpool (the paper's extra ReLU).
    let graph = try compileModel("densenet121")
    for (index, node) in graph.nodes.enumerated() where node.name?.hasSuffix(".conv") == true {
      let consumers = graph.consumers[index]
      #expect(consumers.count == 1 && graph[consumers[0]].op == .relu)
      #expect(graph.consumers[consumers[0].index].map { graph[$0].op.name } == ["avgpool"])
    }
    #expect(graph.nodes.contains { $0.op == .dropout(DropoutAttributes(probability: 0.5)) })
  }
}

func fixtureParameters(_ name: String) throws -> [String] {
  try Repository.read("Tests/Fixtures/params/\(name).txt").split(separator: "\n").map(String.init)
}

/// `name<TAB>[shape]` lines sorted by name, the format of the fixture lists.
func parameterLines(_ graph: Graph) -> [String] {
  graph.parameters.map { "\($0.name)\t\(shapeText($0.shape))" }.sorted()
}
