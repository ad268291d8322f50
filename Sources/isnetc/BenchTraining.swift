import CKernels
import Foundation
import GraphIR
import Runtime
import SeededRandom
import Training

extension Bench {
  /// `isnetc bench --train`: the median time of a whole training step (training-mode
  /// forward through classifier and LRP block, the ISNet loss, the reverse-mode program,
  /// SGD with momentum and clipping) on seeded random images, masks and labels.
  func runTrainingSteps(_ classifier: Graph) throws {
    let session: TrainingSession
    var teacher: Teacher?
    do {
      let table = try weights.map(loadWeights) ?? Initialization.weights(for: classifier, seed: seed)
      // The LRP block training builds for these settings (one relevance pass per sample where
      // the loss reads one map per sample; distillation matches one class by default).
      var settings = TrainingSettings(heatmapWeight: heatmapWeight, selection: heatmaps, lrp: lrpFlags.options)
      settings.distillation = distill ? DistillationSettings(teacherModel: "", teacherWeights: "") : nil
      let block = settings.blockOptions
      let program = try classifier.trainingProgram(heatmaps: heatmapWeight > 0 || distill ? block : nil)
      session = try TrainingSession(program: program, weights: table, weightsSource: weights ?? "initial weights", batchSize: batch, threads: threads, recompute: recompute)
      if distill {
        teacher = try Teacher(classifier: classifier, weights: table, source: weights ?? "initial weights", lrp: block, batchSize: batch, threads: threads)
      }
    } catch {
      throw fail(error)
    }
    let dims = classifier[classifier.inputIDs[0]].type.dims
    let classes = classifier[classifier.outputs[0]].type.dims[0]
    var random = SplitMix64(seed: seed &+ 1)
    let images = (0..<(batch * dims.reduce(1, *))).map { _ in Float(random.unit()) }
    // A centred foreground square covering half of each side.
    let (h, w) = (dims[1], dims[2])
    let mask = (0..<batch).flatMap { _ in (0..<(h * w)).map { i -> Float in abs(i / w - h / 2) < h / 4 && abs(i % w - w / 2) < w / 4 ? 1 : 0 } }
    let labels = (0..<batch).map { _ in random.int(0...(classes - 1)) }
    // The loss `isnetc train` runs by default (--loss paper, each map normalised by itself)
    // or the later one. E only scales the paper's loss and the band only selects a branch
    // of the later one's (neither changes the cost), so the bench takes E = 1 and a band
    // around these random images' relevance.
    let d = TrainingSettings(heatmapWeight: heatmapWeight)
    let term: HeatmapTerm
    switch loss {
    case .paper:
      term = .paper(HeatmapLoss(scale: 1, stabilizer: d.heatmapStabilizer, normalization: d.heatmapNormalization))
    case .gwrp:
      term = .gwrp(
        GWRPHeatmapLoss(
          decay: d.gwrpDecay, scale: d.gwrpScale, backgroundWeight: d.backgroundWeight, foregroundWeight: d.foregroundWeight,
          lower: 1, upper: 25, penalty: d.bandPenalty))
    }
    let objective = Objective(heatmapWeight: heatmapWeight, heatmapTerm: term, selection: heatmaps, kind: classifier.outputKind)
    // SGD with momentum, as the PyTorch anchor's step (bench/train_anchors.py).
    let optimizer = Optimizer(settings: OptimizerSettings())
    var data = Batch(images: images, masks: mask, labels: labels, samples: batch)
    let distillation = DistillationObjective(
      settings: DistillationSettings(teacherModel: modelOptions.model, teacherWeights: weights ?? ""), kind: classifier.outputKind, lrp: lrpFlags.options)
    if distill {
      let (perImage, plane) = (dims.reduce(1, *), h * w)
      var teacherImages: [Float] = []
      for b in 0..<batch {
        let image = Array(images[(b * perImage)..<((b + 1) * perImage)])
        let sampleMask = Array(mask[(b * plane)..<((b + 1) * plane)])
        teacherImages += MaskFill.zero.apply(to: image, mask: sampleMask, channels: dims[0], range: 0...1, seed: 0)
      }
      data.teacherImages = teacherImages
    }
    var stepIndex: UInt64 = 0
    func step() throws -> Double {
      let start = ContinuousClock.now
      stepIndex += 1
      if let teacher {
        _ = try distillation.step(session, teacher: teacher, data, seed: stepIndex)
      } else {
        _ = try objective.step(session, data)
      }
      try optimizer.step(session)
      let d = ContinuousClock.now - start
      return d.seconds
    }
    var times: [Double] = []
    var deployment: [Double] = []
    do {
      _ = try step()
      session.profiling = profile
      for _ in 0..<max(1, iterations) { times.append(try step()) }
      if profile {
        // The trained model's deployment forward pass, the unit of the profile.
        let deploy = try InferenceSession(
          graph: classifier.lowered(for: .deploy), weights: session.weights, weightsSource: "the trained weights", batchSize: batch, threads: threads)
        _ = try deploy.run(images, samples: batch)
        for _ in 0..<max(3, iterations) {
          let start = ContinuousClock.now
          _ = try deploy.run(images, samples: batch)
          deployment.append((ContinuousClock.now - start).seconds)
        }
      }
    } catch {
      throw fail(error)
    }
    let median = times.sorted()[times.count / 2]
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    let peakMiB = Double(usage.ru_maxrss) / 1024
    let arenaMiB = Double(session.memoryPlan.arenaFloats) * 4 / 1_048_576
    let unplannedMiB = Double(session.memoryPlan.unplannedFloats) * 4 / 1_048_576
    let computed = session.graph.explainsOneClassPerSample ? 1 : classes
    let what = distill ? "distillation step (teacher forward + LRP block, student forward + LRP block + reverse, \(computed) heatmap\(computed == 1 ? "" : "s") per image computed, 1 matched)" : heatmapWeight > 0 ? "ISNet step (P \(heatmapWeight), \(computed) heatmap\(computed == 1 ? "" : "s") per image computed, \(heatmaps == .all ? classes : 1) in the loss)" : "standard classifier step (P 0)"
    if json {
      print(String(format: "{\"model\": \"%@\", \"batch\": %d, \"threads\": %d, \"P\": %g, \"distill\": %@, \"classes\": %d, \"heatmaps\": \"%@\", \"seconds_per_step\": %.4f, \"ms_per_image\": %.3f, \"arena_mib\": %.1f, \"unplanned_mib\": %.1f, \"peak_rss_mib\": %.1f, \"blas_core\": \"%@\", \"recompute\": \"%@\"}",
        classifier.name, batch, threads, heatmapWeight, distill ? "true" : "false", classes, heatmaps.rawValue, median, median * 1e3 / Double(batch), arenaMiB, unplannedMiB, peakMiB, String(cString: isn_blas_core()), session.recomputation.rawValue))
    } else {
      print("\(classifier.name) \(what), batch \(batch), \(threads) threads, input \(classifier[classifier.inputIDs[0]].type): median of \(times.count) steps")
      print(String(format: "  %.3f s per step, %.1f ms per image, peak resident %.1f MiB", median, median * 1e3 / Double(batch), peakMiB))
      print(String(format: "  planned arena %.1f MiB (values, LRP views and adjoints; %.1f MiB without reuse; recomputing: %@)", arenaMiB, unplannedMiB, session.recomputation.rawValue))
      print("  OpenBLAS kernels: \(BLASKernels.description)")
      if profile {
        let runs = Double(times.count)
        let profile = TrainingProfile(
          graph: session.graph, program: session.program, forward: session.forwardSeconds.map { $0 / runs },
          adjoint: session.adjointSeconds.map { $0 / runs }, recompute: session.recomputeSeconds.map { $0 / runs }, step: times.reduce(0, +) / runs, deployment: deployment.sorted()[deployment.count / 2])
        print(profile.table(), terminator: "")
        print(profile.memoryTable(session.memoryPlan), terminator: "")
      }
    }
  }
}
