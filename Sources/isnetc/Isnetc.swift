import ArgumentParser

@main
struct Isnetc: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "isnetc",
    abstract: "Compile ISNet image classifiers written in the .isnet language into static graphs.",
    discussion: """
      isnetc reads a model written in the .isnet language (see docs/language.md), builds its \
      static graph with every shape inferred and every parameter named as torchvision names \
      it, and prints that graph in a stable text form, as Graphviz DOT, as a per-layer \
      summary or as its parameter table.
      """,
    version: "0.1.0",
    subcommands: [Compile.self, Run.self, Heatmap.self, Eval.self, Init.self, Bench.self, MakeDataset.self]
  )

  static func main() {
    BLASKernels.selectFastest()
    main(nil)
  }
}
