import GraphIR
import ModelLang
import Testing
import TestSupport

@testable import Runtime

/// The reverse may recompute the LRP block's relevance tensors instead of keeping them
/// (TrainingSession.Recomputation, TrainingMemoryPlan): the same kernels on the same inputs,
/// so a step's outputs and every gradient are the same bits as when they are kept, and the
/// planned arena is smaller.
@Suite struct RecomputationTests {
  func step(_ kind: String, _ recompute: TrainingSession.Recomputation, statistics: Bool) throws -> (outputs: [[Float]], session: TrainingSession) {
    let s = try GradientCheckTests().setup(kind, heatmaps: GradientCheckTests.lrp, differentiatingStatistics: statistics, recompute: recompute)
    let outputs = try s.session.forward(s.input, samples: s.samples)
    try s.session.backward(seeds: s.seeds)
    return (outputs, s.session)
  }

  @Test(arguments: ["densenet", "resnet", "vgg"], [false, true])
  func recomputedStepIsTheSameBits(_ kind: String, statistics: Bool) throws {
    let kept = try step(kind, .none, statistics: statistics)
    for mode in [TrainingSession.Recomputation.normTransposes, .elementWise, .relevance] {
      let recomputed = try step(kind, mode, statistics: statistics)
      let hasNormTransposes = kept.session.graph.nodes.contains { $0.op.name == "batch_norm_transpose" }
      if mode != .normTransposes || hasNormTransposes {
        #expect(!recomputed.session.memoryPlan.recomputeBefore.isEmpty, "\(kind) \(mode): nothing recomputed")
        #expect(recomputed.session.memoryPlan.arenaFloats < kept.session.memoryPlan.arenaFloats, "\(kind) \(mode): the arena did not shrink")
      }
      for (a, b) in zip(recomputed.outputs, kept.outputs) {
        #expect(bitwiseDifferences(a, b) == 0, "\(kind) \(mode): outputs differ")
      }
      for (name, gradient) in kept.session.gradients {
        #expect(bitwiseDifferences(recomputed.session.gradients[name]!, gradient) == 0, "\(kind) \(mode): gradient of \(name) differs")
      }
    }
  }

  /// Every value the reverse recomputes is dead in the plan between its forward's last
  /// read and its recomputation, and is computed again before the first step that reads it.
  @Test func recomputedValuesAreTheLRPBlocksRelevance() throws {
    let (ops, count, distinct) = try recomputedOps(.relevance)
    #expect(
      ["conv2d_transpose", "batch_norm_transpose", "view of bn", "lrp_epsilon_divide", "lrp_multiply"].allSatisfy(ops.contains), "\(ops)")
    #expect(distinct == count, "a value is recomputed twice")
  }

  /// `element-wise` recomputes no convolution: the quotients and products come back from
  /// the kept transposes' outputs.
  @Test func elementWiseRecomputesOnlyElementWiseOps() throws {
    let (ops, count, distinct) = try recomputedOps(.elementWise)
    #expect(ops == ["batch_norm_transpose", "view of bn", "lrp_epsilon_divide", "lrp_multiply"], "\(ops)")
    #expect(distinct == count, "a value is recomputed twice")
  }

  /// Where a chain's product, quotient and transpose are all recomputed, the forward runs
  /// the chain as one kernel and skips them, and the reverse recomputes a quotient with
  /// its product in one kernel (the bits: recomputedStepIsTheSameBits).
  @Test func chainsWhoseValuesAreRecomputedRunAsOneKernel() throws {
    let fused = try step("densenet", .elementWise, statistics: false).session
    #expect(!fused.memoryPlan.fusedRatios.isEmpty)
    #expect(!fused.absorbedByFusedRatios.isEmpty)
    #expect(!fused.memoryPlan.recomputedRatios.isEmpty)
    #expect(!fused.productsRecomputedInRatios.isEmpty)
    #expect(!(try step("densenet", .relevance, statistics: false)).session.memoryPlan.recomputedRatios.isEmpty)
    for mode in [TrainingSession.Recomputation.none, .normTransposes] {
      let plan = try step("densenet", mode, statistics: false).session.memoryPlan
      #expect(plan.fusedRatios.isEmpty && plan.recomputedRatios.isEmpty, "\(mode)")
    }
  }

  func recomputedOps(_ mode: TrainingSession.Recomputation) throws -> (ops: Set<String>, count: Int, distinct: Int) {
    let session = try step("densenet", mode, statistics: false).session
    let graph = session.graph
    let recomputed = session.memoryPlan.recomputeBefore.values.flatMap { $0 }
    var ops: Set<String> = []
    for key in recomputed {
      switch key {
      case .value(let n): ops.insert(graph.nodes[n].op.name)
      case .view(let n): ops.insert("view of \(graph.nodes[n].op.name)")
      case .adjoint: Issue.record("an adjoint is recomputed")
      }
    }
    return (ops, recomputed.count, Set(recomputed).count)
  }

  /// A step whose buffers exceed the machine's memory is refused with its size and what to
  /// change, before anything is allocated (the allocator would abort the process).
  @Test func aStepLargerThanMemoryIsRefusedWithItsSize() throws {
    // 1024² images, 100 000 to a batch: tens of terabytes of activations.
    let classifier = try compileModel("tiny", options: CompileOptions(inputSize: Pair(square: 1024)))
    let program = try classifier.withLRPBlock().reverseMode()
    #expect {
      _ = try TrainingSession(
        program: program, weights: Initialization.weights(for: classifier, seed: 0), weightsSource: "w", batchSize: 100_000, threads: 1)
    } throws: { error in
      let message = "\(error)"
      return message.contains("a training step of tiny at batch 100000 with 3 heatmaps per image needs") && message.contains("of memory; use a smaller batch or --heatmaps selective")
    }
  }

  /// `auto`: the fast plan where the step takes at most half the memory, the small one
  /// beyond; a graph without an LRP block has nothing to recompute.
  @Test func autoRecomputesWhenTheStepWouldTakeMoreThanHalfTheMemory() throws {
    let gib: UInt64 = 1 << 30
    #expect(TrainingSession.resolve(.auto, stepBytes: 6 * gib, physicalMemory: 16 * gib, hasLRPBlock: true) == .elementWise)
    #expect(TrainingSession.resolve(.auto, stepBytes: 9 * gib, physicalMemory: 16 * gib, hasLRPBlock: true) == .relevance)
    #expect(TrainingSession.resolve(.auto, stepBytes: 9 * gib, physicalMemory: 16 * gib, hasLRPBlock: false) == .none)
    #expect(TrainingSession.resolve(.none, stepBytes: 9 * gib, physicalMemory: 16 * gib, hasLRPBlock: true) == .none)
    // A small step keeps the fast plan; the session says what it chose.
    let session = try step("densenet", .auto, statistics: false).session
    #expect(session.recomputation == .elementWise)
  }
}
