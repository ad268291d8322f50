import ArgumentParser
import Datasets
import Foundation

struct CheckDataset: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "check-dataset",
    abstract: "Check a dataset folder before training: images, masks, labels, balance.",
    discussion: """
      Reads every image and mask of DIR (canonical, wide-CSV or ImageFolder layout; see the \
      README's Datasets section) and reports what would stop or corrupt a run: images that \
      do not decode, missing or non-binary masks, labels out of range for the model's \
      classes, names listed twice. Masks of another size than their image are noted (both \
      are resized to the model's input). Prints the samples per class and exits with \
      status 1 when there is a problem. `isnetc train` runs the same checks before epoch 1.

      Examples:
        isnetc check-dataset data/train --model models/tiny.isnet
        isnetc check-dataset photos/ --classes 2
      """
  )

  @Argument(help: "The dataset folder.")
  var directory: String

  @Option(help: ArgumentHelp("The model the data is for: its class count bounds the labels.", valueName: "FILE"))
  var model: String?

  @Option(help: "The number of classes, when no model is given.")
  var classes: Int?

  func run() throws {
    let folder: DatasetFolder
    do { folder = try DatasetFolder(directory: directory) } catch { throw fail(error) }
    var classCount = classes
    if let model {
      let graph = try ModelOptions.parse([model] + (classes.map { ["--classes", String($0)] } ?? [])).compile()
      classCount = graph[graph.outputs[0]].type.dims[0]
    }
    let bar = Progress(total: folder.entries.count, label: "checking")
    let check = DatasetCheck(folder, classes: classCount) { bar.update($0) }
    bar.finish()
    print("\(directory) (\(folder.layout.rawValue) layout\(folder.hasMasks ? ", with masks" : ", no masks")): " + check.report(names: folder.classNames), terminator: "")
    if !check.problems.isEmpty { throw ExitCode(1) }
  }
}
