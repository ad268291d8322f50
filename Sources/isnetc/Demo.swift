import ArgumentParser
import Datasets
import Evaluation
import Foundation
import GraphIR
import LRPTransform
import Runtime

/// `isnetc demo`: what an ISNet is, in one command. Three classifiers shipped in `demo/`,
/// trained by `scripts/make-demo` on the chest benchmark whose training images carry a
/// class-coded shape in the background: a standard classifier, an ISNet and a student
/// distilled from a teacher that never saw the background. All explain the same samples
/// (each class's image with its own shape, with none and with another class's shape); the
/// sheets and the table show where each one looks.
struct Demo: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Explain the shipped standard classifier, ISNet and distilled student on sample images: heatmap sheets and where each looks.",
    discussion: """
      demo/ holds three tiny DenseNets (models/tiny.isnet) trained on the same synthetic \
      chest images, whose class lives in the lungs but is also given away by a shape in \
      the background: a standard classifier, which learns the shortcut; an ISNet, trained \
      to keep its relevance inside the lungs; and a student trained by explanation \
      distillation to match the heatmaps of a teacher that saw the images with their \
      background zeroed (its heatmaps use the ε-rule up to the input, the rule it was \
      trained with). scripts/make-demo reproduces them; demo/RESULTS.md has their scores. \
      The demo writes each sample's heatmap sheet for every model and prints, per sample, \
      each model's prediction and the share of its relevance that falls outside the lungs.
      """
  )

  @Option(help: ArgumentHelp("The demo's folder: the models' weights, classes.txt and samples/.", valueName: "DIR"))
  var dir = "demo"

  @Option(help: ArgumentHelp("The model all were trained as.", valueName: "FILE"))
  var model = "models/tiny.isnet"

  @Option(help: ArgumentHelp("Where the sheets go (created if missing).", valueName: "DIR"))
  var out = "demo-output"

  @Option(help: "Threads for the kernels.")
  var threads = 2

  @OptionGroup var lrp: LRPFlags

  func validate() throws {
    guard threads >= 1 else { throw ValidationError("--threads must be at least 1, got \(threads)") }
  }

  /// One model's view of one sample.
  struct Look {
    var predicted: Int
    var probability: Double
    /// The share of the predicted class's |R| outside the mask.
    var background: Double
    /// The share of the image the mask covers.
    var foreground: Double
    var sheet: String
  }

  func run() throws {
    let samples: DatasetFolder
    do { samples = try DatasetFolder(directory: "\(dir)/samples") } catch { throw fail(error) }
    let graph = try ModelOptions.parse([model]).compile(for: .explain(lrp.options))
    // The student explains with the rule it was trained with, unless --input-rule says otherwise.
    var studentOptions = lrp.options
    if lrp.inputRule == nil { studentOptions.inputRule = .epsilon }
    let studentGraph = try ModelOptions.parse([model]).compile(for: .explain(studentOptions))
    let classes = graph[graph.outputs[0]].type.dims[0]
    do { try samples.requireSingleLabels(classes: classes) } catch { throw fail(error) }
    let models = [("standard", "standard classifier"), ("isnet", "ISNet"), ("student", "distilled student")]
    var looks: [String: [Look]] = [:]
    var names: [String] = []
    for (run, _) in models {
      let graph = run == "student" ? studentGraph : graph
      let inference = try InferenceOptions.parse([
        "--weights", "\(dir)/\(run).safetensors", "--labels", "\(dir)/classes.txt", "--threads", String(threads),
      ])
      names = try inference.classNames(count: classes)
      looks[run] = try explain(samples, graph: graph, inference: inference, names: names, into: "\(out)/\(run)")
    }
    report(samples, looks: looks, models: models, names: names)
  }

  /// Runs one model over the samples, writes each sample's sheet (every class explained)
  /// and measures the predicted class's background share.
  func explain(_ samples: DatasetFolder, graph: Graph, inference: InferenceOptions, names: [String], into directory: String) throws -> [Look] {
    let session = try inference.session(for: graph)
    let reader = inference.reader(for: graph)
    let (channels, height, width) = (reader.dims[0], reader.dims[1], reader.dims[2])
    let classes = names.count
    let writer = HeatmapWriter(
      directory: directory, format: .npy, overlay: true, classNames: names, inputDims: reader.dims, range: reader.range)
    try writer.prepare()
    var stems = StemNamer()
    var looks: [Look] = []
    for entry in samples.entries {
      do {
        let sample = try reader.read(samples.imagePath(entry))[0]
        let logits = try session.run(sample.values, samples: 1)
        let maps = session.values(of: graph.outputs[1], samples: 1)
        let scores = Scores(name: entry.file, logits: logits, kind: graph.outputKind)
        let top = scores.predicted[0]
        let perClass = maps.count / classes
        let mask = try samples.mask(entry, height: height, width: width)
        let background = backgroundRelevanceFraction(
          heatmap: Array(maps[top * perClass..<(top + 1) * perClass]), channels: channels, mask: mask) ?? 0
        let files = try writer.write(
          stem: stems.stem(for: entry.file), sample: sample, scores: scores, heatmaps: maps, classes: Array(0..<classes))
        let foreground = mask.reduce(0.0) { $0 + Double($1) } / Double(max(mask.count, 1))
        looks.append(Look(predicted: top, probability: scores.probabilities[top], background: background, foreground: foreground, sheet: files.last ?? ""))
      } catch let error as ExitCode {
        throw error
      } catch {
        throw fail(error)
      }
    }
    return looks
  }

  /// The table, per sample and model, and what it shows.
  func report(_ samples: DatasetFolder, looks: [String: [Look]], models: [(String, String)], names: [String]) {
    let width = max(6, samples.entries.map(\.file.count).max() ?? 0)
    func pad(_ s: String, _ n: Int) -> String { s.padding(toLength: max(n, s.count), withPad: " ", startingAt: 0) }
    print("Per model: the prediction, its probability, and the share of its relevance outside the lungs.")
    print(pad("sample", width) + "  " + pad("label", 9) + models.map { "  " + pad($0.1, 30) }.joined())
    for (i, entry) in samples.entries.enumerated() {
      var line = pad(entry.file, width) + "  " + pad(names[entry.label], 9)
      for (run, _) in models {
        let look = looks[run]![i]
        let mark = look.predicted == entry.label ? "" : " (wrong)"
        line += "  " + pad(String(format: "%@ %.2f%@, %4.1f%%", names[look.predicted], look.probability, mark, 100 * look.background), 30)
      }
      print(line)
    }
    print("")
    // Samples named SPLIT-ID show one image in several splits (with its class's shape,
    // none, another class's): an answer that differs between them followed the shape.
    let images = Dictionary(grouping: samples.entries.indices) { i -> String in
      let file = samples.entries[i].file
      return file.firstIndex(of: "-").map { String(file[file.index(after: $0)...]) } ?? file
    }.values.filter { $0.count > 1 }
    let lungs = looks[models[0].0]!.map(\.foreground).reduce(0, +) / Double(max(samples.entries.count, 1))
    for (run, name) in models {
      let all = looks[run]!
      let correct = zip(all, samples.entries).filter { $0.predicted == $1.label }.count
      let share = all.map(\.background).reduce(0, +) / Double(max(all.count, 1))
      let swayed = images.filter { Set($0.map { all[$0].predicted }).count > 1 }.count
      let changes = images.isEmpty ? "" : String(format: " its answer changes with the background shape for %d of %d images;", swayed, images.count)
      print(String(format: "%@: %d of %d correct;%@ %.0f%% of its relevance lies outside the lungs (they cover %.0f%% of the image). Sheets: %@/%@/",
        name, correct, all.count, changes, 100 * share, 100 * lungs, out, run))
    }
    print("""

      Each sheet shows a sample and, per class, where that class's relevance lies: red for \
      the class, blue against it. Relevance outside the lungs is relevance on the \
      background, where the training images gave the class away by a shape; an ISNet is \
      trained to put none there, and the student to explain as a teacher that never saw \
      the background, so the shape cannot change their answers.
      """)
  }
}
