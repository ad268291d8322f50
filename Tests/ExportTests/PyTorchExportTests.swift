import Foundation
import GraphIR
import ModelLang
import TestSupport
import Testing
import Training

@testable import Export

/// The PyTorch emitter, structurally (no Python here; scripts/check-export runs the package
/// against isnetc): the files, that every op of the model and its LRP block is lowered,
/// that the module's parameters carry the torchvision names, the training views, refusals.
@Suite struct PyTorchExportTests {
  func package(_ name: String, classes: Int? = nil) throws -> (Graph, PyTorchPackage) {
    let graph = try compileModel(name, classes: classes)
    return (graph, try PyTorchExport.package(classifier: graph, weights: seededWeights(graph), name: "\(name)_isnet", source: "models/\(name).isnet"))
  }

  func file(_ package: PyTorchPackage, _ name: String) -> String {
    package.files.first { $0.name == name }?.text ?? ""
  }

  /// train.py's defaults are isnetc train's (TrainingSettings()), with no placeholder left.
  @Test func theTrainerDefaultsAreIsnetcTrains() throws {
    let (_, p) = try package("tiny")
    let train = file(p, "train.py")
    let d = TrainingSettings()
    #expect(!train.contains("@"))
    #expect(train.contains("\"--P\", type=float, default=\(d.heatmapWeight),"))
    #expect(train.contains("\"--warmup\", type=int, default=\(d.warmupEpochs),"))
    #expect(train.contains("default=\"\(d.optimizer.kind.rawValue)\")"))
    let standard = TrainingSettings.defaultOptimizer(isnet: false).learningRate
    #expect(train.contains("learning rate (default \(d.optimizer.learningRate) with --P > 0; \(standard) with --P 0; distillation \(DistillationSettings.learningRate))"))
    #expect(train.contains("(\(d.optimizer.learningRate) if isnet else \(standard))"))
    #expect(train.contains("args.lr_schedule = \"\(d.learningRateSchedule.rawValue)\" if isnet else \"\(TrainingSettings.defaultSchedule(isnet: false).rawValue)\""))
    #expect(train.contains("args.exchange_backgrounds = \(TrainingSettings.defaultBackgroundExchange) if args.P > 0"))
    let distillation = DistillationSettings(teacherModel: "", teacherWeights: "")
    #expect(train.contains("\"--explain\", choices=loss.EXPLAINED, default=\"\(distillation.classes.rawValue)\""))
    #expect(train.contains("\"--distill-ce\", type=float, default=\(distillation.crossEntropyWeight),"))
    #expect(train.contains("\"--distill-norm\", choices=[\"separate\", \"geometric\"], default=\"\(distillation.normalization.rawValue)\""))
    #expect(train.contains("default=parse_range(\"\(distillation.epsilonRange!.map { "\($0)" }.joined(separator: ","))\")"))
    #expect(train.contains("\"--best-by\", choices=[\"loss\", \"f1\", \"last\"], default=\"\(d.bestBy.rawValue)\""))
    #expect(train.contains("default=\"\(d.heatmapNormalization.rawValue)\""))
    #expect(train.contains("default=\(d.augment ? "True" : "False"), help=\"the paper's augmentation"))
    #expect(train.contains("\"--loss\", choices=sorted(loss.HEATMAP_LOSSES), default=\"\(d.loss.rawValue)\""))
    #expect(train.contains("\"--heatmaps\", choices=loss.SELECTIONS, default=\"\(d.selection.rawValue)\""))
    #expect(train.contains("\"--decay\", type=float, default=\(d.gwrpDecay),"))
    #expect(train.contains("\"--foreground-weight\", type=float, default=\(d.foregroundWeight),"))
    #expect(train.contains("default=\"\(d.bandPenalty.rawValue)\", help=\"gwrp loss"))
    #expect(train.contains("(\(d.gwrpScale), 1.0)"))
  }

  @Test func writesTheFilesOfAPackage() throws {
    let (_, p) = try package("tiny")
    #expect(p.fileNames == ["__init__.py", "data.py", "distill.py", "loss.py", "model.py", "ops.py", "train.py", "weights.safetensors"])
    #expect(p.className == "Tiny")
    #expect(file(p, "__init__.py").contains("from .model import CONFIG, WEIGHTS, Tiny, build_model, load_model"))
    #expect(file(p, "model.py").contains("\"input_shape\": [3, 64, 64]"))
    #expect(file(p, "train.py").contains("DistributedDataParallel"))
    #expect(file(p, "loss.py").contains("HEATMAP_LOSSES = {\"paper\": Paper, \"gwrp\": GWRP}"))
    #expect(file(p, "model.py").contains("def forward(self, x, heatmaps=False, explain=None, epsilons=None):"))
    #expect(file(p, "model.py").contains("= O.lrp_seed(v"))
  }

  /// One line per node of the LRP graph (`vN = …`): the classifier's before the early
  /// return, the LRP block's after it.
  @Test func lowersEveryNodeOfTheModelAndItsLRPBlock() throws {
    for name in ["tiny", "resnet18", "vgg_small", "vgg_small_nobn"] {
      let (graph, p) = try package(name)
      let lrp = try graph.lowered(for: .explain(LRPOptions()))
      let model = file(p, "model.py")
      let forward = model[model.range(of: "def forward")!.lowerBound...]
      let early = forward.range(of: "if not heatmaps:")!.lowerBound
      var kinds: Set<String> = []
      for index in lrp.nodes.indices {
        let assigned = forward.range(of: "\n        v\(index) = ") ?? forward.range(of: "\n        v\(index), ")
        #expect(assigned != nil, "\(name): node \(index) (\(lrp.nodes[index].op.name)) has no lowering")
        if let assigned { #expect((assigned.lowerBound < early) == (index < graph.nodes.count), "\(name): node \(index) on the wrong side of the early return") }
        kinds.insert(lrp.nodes[index].op.name)
      }
      if name == "tiny" {
        for kind in ["zb_preactivation", "zb_relevance", "max_unpool2d", "avg_pool2d_transpose", "adaptive_avg_pool2d_transpose", "batch_norm_transpose", "conv2d_transpose", "linear_transpose", "slice_channels", "unflatten", "lrp_seed", "lrp_epsilon_divide", "lrp_multiply", "add", "concat"] {
          #expect(kinds.contains(kind), "tiny's LRP graph lacks \(kind)")
        }
      }
    }
  }

  /// The module is emitted from the LRP block the options derive: with the ε input rule,
  /// no Zᴮ operation, every node lowered, the rule in CONFIG.
  @Test func honoursTheEpsilonInputRule() throws {
    let graph = try compileModel("tiny")
    let options = PyTorchOptions(lrp: LRPOptions(inputRule: .epsilon))
    let p = try PyTorchExport.package(classifier: graph, weights: seededWeights(graph), name: "tiny_isnet", options: options, source: "models/tiny.isnet")
    let model = file(p, "model.py")
    #expect(!model.contains("O.zb_"))
    #expect(model.contains("\"input_rule\": \"epsilon\","))
    let lrp = try graph.lowered(for: .explain(options.lrp))
    let last = lrp.outputs[1].index
    // The heatmaps: the input times the first layer's transposed convolution.
    #expect(model.contains("v\(last) = v0.unsqueeze(1) * v\(lrp.nodes[last].inputs[1].index)"))
    for index in lrp.nodes.indices {
      #expect(model.contains("\n        v\(index) = ") || model.contains("\n        v\(index), "), "node \(index) has no lowering")
    }
    let (_, zb) = try package("tiny")
    #expect(file(zb, "model.py").contains("\"input_rule\": \"zb\","))
  }

  /// Parameters are placed under their torchvision names (so state_dict keys are them) and
  /// the weights file holds exactly the model's parameters.
  @Test func parametersCarryTheTorchvisionNames() throws {
    let (graph, p) = try package("densenet121", classes: 1000)
    let model = file(p, "model.py")
    let placed = model.split(separator: "\n").compactMap { line -> String? in
      guard let r = line.range(of: "O.place(self, \"") else { return nil }
      return String(line[r.upperBound...].prefix { $0 != "\"" })
    }
    let owners = Set(graph.parameters.map { $0.name.split(separator: ".").dropLast().joined(separator: ".") })
    #expect(Set(placed) == owners)
    #expect(placed.contains("features.denseblock1.denselayer1.norm1"))
    #expect(placed.contains("features.transition3.conv"))
    #expect(p.weights.map(\.name) == graph.parameters.map(\.name))
    #expect(model.contains("O.place(self, \"classifier\", O.Affine((1000, 1024), bias=True))"))
  }

  /// The LRP block reads batch norms through their detached-statistics view, the logits
  /// through the detached bias; the first layer accumulates in float64.
  @Test func emitsTheTrainingViews() throws {
    let (_, p) = try package("tiny")
    let model = file(p, "model.py")
    #expect(model.contains("= O.batch_norm_view(L[\"features.norm5\"]"))
    #expect(model.contains("L[\"classifier\"].bias.detach()"))
    #expect(model.contains("O.conv2d_accurate(v0, L[\"features.conv0\"].weight"))
    let (_, resnet) = try package("resnet18")
    // Residual additions sum their inputs' views.
    #expect(file(resnet, "model.py").contains(" = z"))
  }

  @Test func refusesWhatItCannotExport() throws {
    let graph = try compileModel("tiny")
    #expect(throws: ExportError.self) {
      try PyTorchExport.package(classifier: graph, weights: seededWeights(graph), name: "tiny-net", source: "tiny.isnet")
    }
    do {
      _ = try PyTorchExport.package(classifier: graph, weights: seededWeights(graph), name: "class", source: "tiny.isnet")
      Issue.record("a keyword was accepted as the package name")
    } catch {
      #expect(error.message.contains("cannot name a Python package"))
    }
    var weights = seededWeights(graph)
    weights.removeValue(forKey: "features.norm0.running_var")
    weights["extra.weight"] = ExportTensor(shape: [1], values: [0])
    do {
      _ = try PyTorchExport.package(classifier: graph, weights: weights, name: "tiny_isnet", source: "tiny.isnet", weightsSource: "w.safetensors")
      Issue.record("weights that do not fit were accepted")
    } catch {
      #expect(error.message.contains("w.safetensors: weights do not fit model 'tiny'"))
      #expect(error.message.contains("missing tensor 'features.norm0.running_var'"))
      #expect(error.message.contains("unexpected tensor 'extra.weight'"))
    }
  }

  /// The language refuses such pools already; a graph built otherwise is refused here.
  @Test func refusesPoolsTorchCannotPad() {
    let wide = Pool2DAttributes(kernel: Pair(2, 2), padding: Pair(2, 2))
    #expect(PyTorchExport.inexpressible(.pool(.max(wide)))?.contains("exceeds half its window") == true)
    #expect(PyTorchExport.inexpressible(.pool(.average(wide))) != nil)
    #expect(PyTorchExport.inexpressible(.pool(.max(Pool2DAttributes(kernel: Pair(3, 3), stride: Pair(2, 2), padding: Pair(1, 1))))) == nil)
  }

  @Test func classNamesArePythonIdentifiers() {
    #expect(PyTorchExport.pythonClassName("densenet121") == "Densenet121")
    #expect(PyTorchExport.pythonClassName("my-net") == "MyNet")
    #expect(PyTorchExport.pythonClassName("3d") == "Model3d")
    #expect(PyTorchExport.isPackageName("tiny_isnet"))
    #expect(!PyTorchExport.isPackageName("2tiny"))
    #expect(!PyTorchExport.isPackageName("torch"))
  }
}
