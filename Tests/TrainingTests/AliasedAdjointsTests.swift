import GraphIR
import Testing
import TestSupport

@testable import Runtime

/// A sum's operand whose only adjoint contribution is the sum's shares the sum's adjoint
/// buffer instead of receiving a copy (AliasedAdjoints): every output and gradient is the
/// same bits as with the copies, and the copies are gone from the step.
@Suite struct AliasedAdjointsTests {
  func step(_ kind: String, aliasing: Bool) throws -> (outputs: [[Float]], session: TrainingSession) {
    let s = try GradientCheckTests().setup(kind, heatmaps: GradientCheckTests.lrp, aliasingAdjoints: aliasing)
    let outputs = try s.session.forward(s.input, samples: s.samples)
    try s.session.backward(seeds: s.seeds)
    return (outputs, s.session)
  }

  @Test(arguments: ["densenet", "resnet", "vgg"])
  func sharedAdjointsGiveTheBitsOfCopies(_ kind: String) throws {
    let copied = try step(kind, aliasing: false)
    let shared = try step(kind, aliasing: true)
    #expect(copied.session.memoryPlan.aliasedSteps.isEmpty)
    for (a, b) in zip(shared.outputs, copied.outputs) { #expect(bitwiseDifferences(a, b) == 0, "\(kind): outputs differ") }
    for (name, gradient) in copied.session.gradients {
      #expect(bitwiseDifferences(shared.session.gradients[name]!, gradient) == 0, "\(kind): gradient of \(name) differs")
    }
  }

  /// The sums' copies are gone: the dense-block relevance skips of the LRP block (a slice
  /// of the relevance above plus a batch-norm transpose) share; each shared adjoint is its
  /// source's buffer, and the arena does not grow.
  @Test func theDenseBlocksRelevanceSumsShareTheirAdjoint() throws {
    let densenet = try step("densenet", aliasing: true).session
    let plan = densenet.memoryPlan
    let aliases = AliasedAdjoints.aliases(in: densenet.program)
    #expect(Set(aliases.keys) == plan.aliasedSteps)
    let lrpSums = densenet.program.steps.indices.filter { j in
      let node = densenet.graph[densenet.program.steps[j].node]
      return node.op.name == "add" && node.inputs.contains { densenet.graph[$0].op.name == "slice_channels" }
    }
    #expect(!lrpSums.isEmpty && lrpSums.allSatisfy(plan.aliasedSteps.contains))
    for (j, alias) in aliases {
      #expect(densenet.graph[densenet.program.steps[j].node].op.name == "add")
      #expect(plan.offsets[.adjoint(alias.target)] == plan.offsets[.adjoint(alias.shares)])
    }
    #expect(plan.arenaFloats <= (try step("densenet", aliasing: false)).session.memoryPlan.arenaFloats)
  }
}
