import ArgumentParser

@main
struct Isnetc: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "isnetc",
    abstract: "Compile, run and explain ISNet image classifiers written in the .isnet language.",
    discussion: """
      isnetc reads a model written in the .isnet language (see docs/language.md), builds its \
      static graph with every shape inferred and every parameter named as torchvision names \
      it, derives the ISNet LRP block (docs/lrp.md) and the pruned deployment graph, and \
      runs them on the CPU: `demo` shows a shipped ISNet beside a standard classifier, `compile` prints graphs, `run` classifies, `heatmap` explains, \
      `train` trains an ISNet or a standard classifier, `eval` measures a classifier on a dataset folder, `make-dataset` writes the synthetic \
      background-bias benchmark, `init` writes initial weights, `convert` turns a PyTorch checkpoint into safetensors and \
      `bench` times the runtime. Wherever --weights is read, a PyTorch .pth checkpoint works too.
      """,
    version: "0.1.0",
    subcommands: [Demo.self, Compile.self, Run.self, Heatmap.self, Train.self, Eval.self, CheckDataset.self, Init.self, Convert.self, Combine.self, Export.self, Bench.self, MakeDataset.self, Step.self]
  )

  static func main() {
    BLASKernels.selectFastest()
    main(nil)
  }
}
