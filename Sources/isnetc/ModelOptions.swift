import ArgumentParser
import Foundation
import GraphIR
import ModelLang

/// The options every command that reads a model shares.
struct ModelOptions: ParsableArguments {
  @Argument(help: "The model file (.isnet).")
  var model: String

  @Option(help: "Number of classes (overrides the model's 'classes' parameter).")
  var classes: Int?

  @Option(help: ArgumentHelp("Input height and width, overriding the model's.", valueName: "H,W"))
  var inputSize: InputSize?

  func validate() throws {
    if let classes, classes < 1 { throw ValidationError("--classes must be at least 1, got \(classes)") }
  }

  /// The compiled classifier; prints diagnostics and exits with status 1 on errors.
  func compile() throws -> Graph {
    let options = CompileOptions(classes: classes, inputSize: inputSize?.pair)
    let compilation = ModelCompiler.compile(path: model, options: options)
    guard let graph = compilation.graph else {
      printError(compilation.renderedDiagnostics, newline: false)
      throw ExitCode(1)
    }
    return graph
  }
}

struct InputSize: ExpressibleByArgument {
  var pair: Pair

  init?(argument: String) {
    let parts = argument.split(separator: ",", omittingEmptySubsequences: false)
    guard parts.count == 2, let h = Int(parts[0]), let w = Int(parts[1]), h > 0, w > 0 else { return nil }
    pair = Pair(h, w)
  }
}

func printError(_ text: String, newline: Bool = true) {
  FileHandle.standardError.write(Data((text + (newline ? "\n" : "")).utf8))
}

/// Reports `error` as `error: …` on standard error and exits with status 1: for failures
/// whose message already says everything (they name the file and the tensor).
func fail(_ error: Error) -> ExitCode {
  printError("error: \(error)")
  return ExitCode(1)
}

/// Writes `text` to `path` (atomically), or to standard output when `path` is nil.
func write(_ text: String, to path: String?) throws {
  guard let path else {
    FileHandle.standardOutput.write(Data(text.utf8))
    return
  }
  do {
    try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
  } catch {
    throw fail("cannot write '\(path)': \(error.localizedDescription)")
  }
}

func fail(_ message: String) -> ExitCode {
  printError("error: \(message)")
  return ExitCode(1)
}
