/// The entry point: a `.isnet` file (and its imports) to a verified GraphIR graph, or
/// diagnostics.

import GraphIR

public struct CompileOptions: Sendable {
  /// Overrides the model's `classes` parameter.
  public var classes: Int?
  /// Overrides the input's height and width.
  public var inputSize: Pair?

  public init(classes: Int? = nil, inputSize: Pair? = nil) {
    self.classes = classes
    self.inputSize = inputSize
  }
}

public struct Compilation: Sendable {
  /// The graph, when there were no errors.
  public var graph: Graph?
  public var log: DiagnosticLog
  public var files: [SourceFile]
  /// Where each node of the graph was made: the op call (nil for the input).
  public var nodeLocations: [SourceLocation?] = []

  /// The diagnostics as the terminal shows them.
  public var renderedDiagnostics: String { DiagnosticRenderer(files: files).render(log) }
}

public enum ModelCompiler {
  public static func compile(
    path: String, loader: some SourceLoader = FileSystemLoader(), options: CompileOptions = CompileOptions()
  ) -> Compilation {
    let program = Program(path: path, loader: loader)
    guard let model = program.model, !program.log.hasErrors else {
      return Compilation(graph: nil, log: program.log, files: program.files)
    }
    var elaborator = Elaborator(program: program)
    let graph = elaborator.elaborate(model, options: options)
    var compilation = Compilation(graph: graph, log: elaborator.log, files: program.files)
    compilation.nodeLocations = elaborator.nodeCalls.map { $0?.location }
    return compilation
  }
}
