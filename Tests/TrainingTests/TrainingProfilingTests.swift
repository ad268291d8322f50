import GraphIR
import Testing
import TestSupport

@testable import Runtime

/// `TrainingSession.profiling` (`isnetc bench --train --profile`): timing a step does not
/// change it, and every node and adjoint step is accounted for.
@Suite struct TrainingProfilingTests {
  @Test func profilingChangesNoBitAndTimesEveryStep() throws {
    let plain = try GradientCheckTests().setup("densenet", heatmaps: GradientCheckTests.lrp)
    let timed = try GradientCheckTests().setup("densenet", heatmaps: GradientCheckTests.lrp)
    timed.session.profiling = true
    for _ in 0..<2 {
      let expected = try plain.session.forward(plain.input, samples: plain.samples)
      try plain.session.backward(seeds: plain.seeds)
      let outputs = try timed.session.forward(timed.input, samples: timed.samples)
      try timed.session.backward(seeds: timed.seeds)
      for (actual, wanted) in zip(outputs, expected) { #expect(bitwiseDifferences(actual, wanted) == 0) }
      for (name, gradient) in plain.session.gradients {
        #expect(bitwiseDifferences(timed.session.gradients[name]!, gradient) == 0, "gradient of \(name)")
      }
    }
    let session = timed.session
    #expect(session.forwardSeconds.count == session.graph.nodes.count)
    #expect(session.adjointSeconds.count == session.program.steps.count)
    #expect(session.forwardSeconds.allSatisfy { $0 >= 0 && $0.isFinite })
    #expect(session.adjointSeconds.allSatisfy { $0 >= 0 && $0.isFinite })
    #expect(session.forwardSeconds.reduce(0, +) > 0 && session.adjointSeconds.reduce(0, +) > 0)
    // Without profiling nothing is recorded.
    #expect(plain.session.forwardSeconds.allSatisfy { $0 == 0 })
    #expect(plain.session.adjointSeconds.allSatisfy { $0 == 0 })
  }
}
