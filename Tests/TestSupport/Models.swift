import GraphIR
import ModelLang
import Testing

/// Every model file in `models/` that compiles on its own (blocks files are imported).
public let allModels = [
  "densenet121", "densenet169", "densenet201", "tiny", "deep", "vgg_small", "vgg_small_nobn",
  "resnet18", "ag_sononet", "ag_sononet_small", "unet", "unet_small", "multitask_unet", "multitask_unet_small",
  "unet_densenet121", "unet_tiny", "tiny_multilabel", "vgg16_bn",
]

public struct CompileFailed: Error, CustomStringConvertible {
  public var description: String
}

/// Compiles `models/NAME.isnet`, failing the test with its diagnostics.
public func compileModel(_ name: String, options: CompileOptions = CompileOptions()) throws -> Graph {
  let compilation = ModelCompiler.compile(path: Repository.path("models/\(name).isnet"), options: options)
  guard let graph = compilation.graph else {
    Issue.record("models/\(name).isnet failed to compile:\n\(compilation.renderedDiagnostics)")
    throw CompileFailed(description: compilation.renderedDiagnostics)
  }
  return graph
}

public func compileModel(_ name: String, classes: Int?) throws -> Graph {
  try compileModel(name, options: CompileOptions(classes: classes))
}

/// Compiles in-memory sources; the first file is the main one.
public func compileSources(
  _ files: [String: String], main: String = "m.isnet", options: CompileOptions = CompileOptions()
) -> Compilation {
  ModelCompiler.compile(path: main, loader: InMemoryLoader(files), options: options)
}

/// Compiles one in-memory source, failing the test with its diagnostics.
public func compileSource(_ source: String, options: CompileOptions = CompileOptions()) throws -> Graph {
  let compilation = compileSources(["m.isnet": source], options: options)
  guard let graph = compilation.graph else {
    Issue.record("compile failed:\n\(compilation.renderedDiagnostics)")
    throw CompileFailed(description: compilation.renderedDiagnostics)
  }
  return graph
}
