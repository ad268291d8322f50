/// A program: the main file and everything it imports, parsed, with its blocks gathered
/// by name and its single model found.

import GraphIR

struct Program {
  var files: [SourceFile] = []
  var blocks: [String: BlockDecl] = [:]
  var model: ModelDecl?
  var log = DiagnosticLog()

  /// Loads and parses `path` and its imports (depth-first; each file once; cycles are errors).
  init(path: String, loader: some SourceLoader) {
    var loading: [String] = []
    var loaded: Set<String> = []
    var models: [ModelDecl] = []
    load(normalize(path), importedAt: nil, loader: loader, loading: &loading, loaded: &loaded, models: &models)
    if models.isEmpty && !log.hasErrors {
      log.error(at: files.isEmpty ? nil : SourceLocation(file: 0, offset: 0), "no model declared (expected 'model NAME(input: f32[...]) { ... }')")
    }
    for extra in models.dropFirst() {
      log.report(
        Diagnostic(
          at: extra.location, "only one model per program; '\(models[0].name)' is already declared",
          notes: [Diagnostic(.note, at: models[0].location, "'\(models[0].name)' declared here")]))
    }
    model = models.first
  }

  private mutating func load(
    _ path: String, importedAt: SourceLocation?, loader: some SourceLoader,
    loading: inout [String], loaded: inout Set<String>, models: inout [ModelDecl]
  ) {
    if loading.contains(path) {
      let cycle = (loading.drop(while: { $0 != path }) + [path]).joined(separator: " -> ")
      log.error(at: importedAt, "import cycle: \(cycle)")
      return
    }
    guard loaded.insert(path).inserted else { return }
    let bytes: [UInt8]
    do {
      bytes = try loader.read(path)
    } catch {
      log.error(at: importedAt, importedAt == nil ? "\(path): \(error.message)" : "cannot import '\(path)': \(error.message)")
      return
    }
    let file = SourceFile(path: path, bytes: bytes)
    let fileIndex = files.count
    files.append(file)
    let (ast, updated) = Parser.parse(file, fileIndex: fileIndex, log: log)
    log = updated
    loading.append(path)
    for decl in ast.imports {
      load(resolveImport(decl.path, from: path), importedAt: decl.location, loader: loader, loading: &loading, loaded: &loaded, models: &models)
    }
    loading.removeLast()
    for block in ast.blocks {
      var seen: Set<String> = []
      for param in block.params {
        if !seen.insert(param.name).inserted {
          log.error(at: param.location, "duplicate parameter '\(param.name)' in block '\(block.name)'")
        }
        if case .shaped = param.type {
          log.error(at: param.location, "only a model's input declares a shape; use 'tensor' in a block")
        }
      }
      if let previous = blocks[block.name] {
        log.report(
          Diagnostic(
            at: block.location, "block '\(block.name)' is already declared",
            notes: [Diagnostic(.note, at: previous.location, "previous declaration here")]))
      } else if OpCatalog.signatures[block.name] != nil {
        log.error(at: block.location, "block '\(block.name)' has the name of a built-in op")
      } else {
        blocks[block.name] = block
      }
    }
    models += ast.models
  }
}
