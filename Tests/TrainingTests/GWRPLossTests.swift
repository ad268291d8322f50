import Foundation
import GraphIR
import TensorFiles
import Testing
import TestSupport

@testable import Training

/// The later heatmap loss (GWRPHeatmapLoss): ranked pooling's special cases, the band,
/// the gradient against central differences in float64, and the heatmap selection.
@Suite struct GWRPLossTests {
  /// Central differences of `f` at `x`, coordinate by coordinate, against `analytic`.
  ///
  /// The loss is piecewise smooth (ranks, |x|, the band's pieces); the random inputs keep
  /// every coordinate at least `step` from a kink (`awayFromKinks`). On a smooth piece the
  /// central difference's truncation error is f'''·h²/6: with h = 1e-6 and third
  /// derivatives of order 1e3 at most here (log and 1/m terms at m ≈ 0.3), under 1e-9;
  /// rounding adds ε·|f|/h ≈ 2.2e-16·10/1e-6 = 2.2e-9. 1e-7 relative to the gradient's
  /// largest entry leaves margin for both.
  func expectGradient(_ analytic: [Double], at x: [Double], step: Double = 1e-6, tolerance: Double = 1e-7, _ f: ([Double]) -> Double) {
    let scale = max(analytic.map(abs).max() ?? 1, 1e-12)
    for i in x.indices {
      var (plus, minus) = (x, x)
      plus[i] += step
      minus[i] -= step
      let numeric = (f(plus) - f(minus)) / (2 * step)
      #expect(abs(numeric - analytic[i]) <= tolerance * scale, "coordinate \(i): analytic \(analytic[i]), numeric \(numeric)")
    }
  }

  /// Random heatmap values with |x| ≥ 0.05 and pairwise gaps ≥ 1e-4 in |x| (no sign change,
  /// no rank swap within a step of 1e-6).
  func awayFromKinks(_ count: Int, seed: UInt64) -> [Double] {
    var r = SplitMix64(seed: seed)
    var values: [Double] = []
    while values.count < count {
      let v = Double(r.float(0.05, 1)) * (r.int(0...1) == 0 ? -1 : 1)
      if values.allSatisfy({ abs(abs($0) - abs(v)) >= 1e-4 }) { values.append(v) }
    }
    return values
  }

  func loss(decay: Double, lower: Double, upper: Double, penalty: GWRPHeatmapLoss.Penalty = .hybrid) -> GWRPHeatmapLoss {
    GWRPHeatmapLoss(decay: decay, scale: 1, backgroundWeight: 1, foregroundWeight: 3, lower: lower, upper: upper, penalty: penalty)
  }

  @Test func rankedPoolingIsTheMeanAtOneAndTheMaximumAtZero() {
    let x: [Double] = [0.3, 2.5, 0, 1.25, 0.7]
    #expect(abs(GWRPHeatmapLoss.rankedPool(x, decay: 1).value - x.reduce(0, +) / 5) < 1e-15)
    #expect(GWRPHeatmapLoss.rankedPool(x, decay: 0).value == 2.5)
    // d = 0.5: weights 1, 1/2, 1/4, 1/8, 1/16 over 31/16, on 2.5, 1.25, 0.7, 0.3, 0.
    let expected = (2.5 + 1.25 / 2 + 0.7 / 4 + 0.3 / 8) / (31.0 / 16)
    #expect(abs(GWRPHeatmapLoss.rankedPool(x, decay: 0.5).value - expected) < 1e-15)
    // The order of the input does not matter; the gradient is each rank's weight.
    let (value, gradient) = GWRPHeatmapLoss.rankedPool(x.reversed(), decay: 0.5, gradient: true)
    #expect(abs(value - expected) < 1e-15)
    // Reversed input [0.7, 1.25, 0, 2.5, 0.3]: ranks 2, 1, 4, 0, 3.
    let unit: Double = 16.0 / 31.0
    let weights: [Double] = [unit / 4, unit / 2, unit / 16, unit, unit / 8]
    for i in 0..<5 { #expect(abs(gradient![i] - weights[i]) < 1e-15) }
    #expect(abs(gradient!.reduce(0, +) - 1) < 1e-15)
  }

  @Test func bandPenalisesTooLittleAndTooMuch() {
    let quadratic = loss(decay: 0.9, lower: 2, upper: 10, penalty: .quadratic)
    let hybrid = loss(decay: 0.9, lower: 2, upper: 10, penalty: .hybrid)
    for band in [quadratic, hybrid] {
      #expect(band.bandPenalty(0).value == 1)  // the zero solution costs the most below
      #expect(band.bandPenalty(1).value == 0.25)
      #expect(band.bandPenalty(2).value == 0 && band.bandPenalty(6).value == 0 && band.bandPenalty(10).value == 0)
      #expect(band.bandPenalty(11).value == 0.25)
      #expect(band.bandPenalty(12).value == 1)
    }
    // Beyond C1 + C2 the hybrid form grows linearly (continuous at 12), the other quadratically.
    #expect(hybrid.bandPenalty(15).value == 4 && hybrid.bandPenalty(15).derivative == 1)
    #expect(quadratic.bandPenalty(15).value == 6.25)
    for f in [0.5, 1.7, 10.5, 11.9, 13, 20] {
      for band in [quadratic, hybrid] {
        let h = 1e-6
        let numeric = (band.bandPenalty(f + h).value - band.bandPenalty(f - h).value) / (2 * h)
        #expect(abs(numeric - band.bandPenalty(f).derivative) < 1e-6)
      }
    }
  }

  @Test func gradientMatchesFiniteDifferences() {
    let (batch, classes, channels, plane) = (2, 3, 2, 9)
    let h = awayFromKinks(batch * classes * channels * plane, seed: 11)
    var r = SplitMix64(seed: 3)
    let masks = (0..<(batch * plane)).map { i in i % plane < 3 ? 1.0 : (r.int(0...2) == 0 ? 1.0 : 0.0) }
    // Foreground sums of these maps lie between about 1 and 6: a band that puts some
    // below, some inside and some above (both pieces of the hybrid).
    for (decay, penalty) in [(0.9, GWRPHeatmapLoss.Penalty.hybrid), (0.5, .quadratic), (1, .hybrid)] {
      let l = loss(decay: decay, lower: 1.5, upper: 2.5, penalty: penalty)
      let analytic = l.evaluate(heatmaps: h, masks: masks, batch: batch, classes: classes, channels: channels, gradient: true).gradient!
      expectGradient(analytic, at: h) { l.evaluate(heatmaps: $0, masks: masks, batch: batch, classes: classes, channels: channels, gradient: false).loss }
    }
  }

  @Test func lossIsInvariantToTheHeatmapsScaleApartFromTheBand() {
    // The background term divides by the foreground mean: scaling R leaves it unchanged.
    let h = awayFromKinks(2 * 1 * 1 * 8, seed: 4)
    let masks: [Double] = [1, 1, 1, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0]
    let background = GWRPHeatmapLoss(decay: 0.9, scale: 1, backgroundWeight: 1, foregroundWeight: 0, lower: 1, upper: 1, penalty: .hybrid)
    let a = background.evaluate(heatmaps: h, masks: masks, batch: 2, classes: 1, channels: 1, gradient: false).loss
    let b = background.evaluate(heatmaps: h.map { $0 * 1000 }, masks: masks, batch: 2, classes: 1, channels: 1, gradient: false).loss
    // Exactly invariant but for δ = 1e-10 in m = F/n_fg + δ: at the original scale δ moves
    // m by δ/m ≤ 1e-10/0.05 = 2e-9 relative (|R| ≥ 0.05 here), and log(1 + g/E) moves by
    // less than g's relative change. Rounding (≈ 1e-15) is far below.
    #expect(abs(a - b) <= 2e-9 * a)
    // Relevance inside the mask only: no background loss; an empty map: the band's full
    // penalty below, 1 per map (the zero solution is not free).
    let inside = background.evaluate(heatmaps: h, masks: [Double](repeating: 1, count: 16), batch: 2, classes: 1, channels: 1, gradient: true)
    #expect(inside.loss == 0 && inside.gradient!.allSatisfy { $0 == 0 })
    let band = GWRPHeatmapLoss(decay: 0.9, scale: 1, backgroundWeight: 1, foregroundWeight: 1, lower: 1, upper: 5, penalty: .hybrid)
    let empty = band.evaluate(heatmaps: [Double](repeating: 0, count: 16), masks: masks, batch: 2, classes: 1, channels: 1, gradient: false)
    #expect(abs(empty.loss - 1) < 1e-15)
  }

  @Test func bandRuleFromRelevanceTotals() {
    // μ = 10, σ = 1 (sample): C1 = max(2, 7) = 7, C2 = 25·C1.
    let tight = GWRPHeatmapLoss.band(totals: [9, 10, 11])
    #expect(abs(tight.lower - 7) < 1e-12 && abs(tight.upper - 175) < 1e-12)
    // A wide spread: C1 = μ/5.
    let wide = GWRPHeatmapLoss.band(totals: [1, 10, 19])
    #expect(abs(wide.lower - 2) < 1e-12 && abs(wide.upper - 50) < 1e-12)
  }

  @Test func selectionChoosesTheLabelOrASeededDraw() {
    let logits: [Float] = [0.1, 2, -1, 3, 0, 0.5, -2, -1, 4, 0, 0, 0]
    let labels = [0, 1, 2, 1]
    #expect(HeatmapSelection.all.choose(logits: logits, labels: labels, classes: 3, seed: 1) == nil)
    #expect(HeatmapSelection.selective.choose(logits: logits, labels: labels, classes: 3, seed: 1) == labels)
    let a = HeatmapSelection.stochastic.choose(logits: logits, labels: labels, classes: 3, seed: 7)!
    #expect(a == HeatmapSelection.stochastic.choose(logits: logits, labels: labels, classes: 3, seed: 7)!)
    // Over many seeds: the top class about 5/11 of the time, the others evenly.
    var counts = [0, 0, 0]
    let draws = 22_000
    for seed in 0..<UInt64(draws) {
      counts[HeatmapSelection.stochastic.choose(logits: [0, 5, 1], labels: [0], classes: 3, seed: seed)![0]] += 1
    }
    // Binomial standard deviations: sqrt(n·p·(1 − p)) ≈ 74 for p = 5/11, 70 for 3/11; 5 of them.
    #expect(abs(Double(counts[1]) - Double(draws) * 5 / 11) < 5 * 74)
    #expect(abs(Double(counts[0]) - Double(draws) * 3 / 11) < 5 * 70)
    #expect(abs(Double(counts[2]) - Double(draws) * 3 / 11) < 5 * 70)
  }

  /// With a selection the loss sees only the chosen maps: it equals the loss of those maps
  /// alone, and the other maps' adjoints are zero.
  @Test func selectiveLossSeesOnlyTheChosenMaps() throws {
    let (batch, classes, plane) = (2, 3, 8)
    let h = awayFromKinks(batch * classes * plane, seed: 9).map(Float.init)
    let masks: [Float] = (0..<(batch * plane)).map { $0 % plane < 3 ? 1 : 0 }
    let term = HeatmapTerm.gwrp(loss(decay: 0.9, lower: 0.5, upper: 2))
    let objective = Objective(heatmapWeight: 0.7, heatmapTerm: term, selection: .selective, kind: .softmax)
    let data = Batch(images: [], masks: masks, labels: [2, 0], samples: batch)
    let (result, seeds) = try objective.loss(logits: [0, 0, 1, 1, 0, 0], heatmaps: h, batch: data, channels: 1, gradient: true)
    let chosen = Array(h[2 * plane..<3 * plane]) + Array(h[3 * plane..<4 * plane])
    let alone = term.evaluate(heatmaps: chosen.map(Double.init), masks: masks.map(Double.init), batch: batch, classes: 1, channels: 1, gradient: false).loss
    #expect(result.heatmapLoss == alone)
    for (i, g) in seeds[1].enumerated() {
      let map = i / plane
      if map != 2, map != 3 { #expect(g == 0) }
    }
    #expect(seeds[1][2 * plane..<4 * plane].contains { $0 != 0 })
  }
}

/// One step's loss against scripts/gwrp_loss_reference.py, a float64 numpy implementation
/// written from the equations, on the reference step's heatmaps and mask (tiny, 2 samples,
/// 3 classes, 3 × 64 × 64). Both sum in float64 in different orders: sums of n = 73,728
/// terms of one sign agree to within 2·γ_n = 2·n·u/(1 − n·u) ≈ 1.6e-11 relative (u = 2⁻⁵³);
/// the quotient, log and band steps add a few u. 1e-10 holds that with margin.
@Suite struct GWRPReferenceTests {
  @Test func matchesTheNumpyImplementationOnTheReferenceStep() throws {
    let fixture = try SafetensorsFile(path: Repository.path("Tests/Fixtures/train/tiny.train.safetensors"))
    let heatmaps = try fixture.doubles("heatmaps")
    let masks = try fixture.doubles("mask")
    let loss = GWRPHeatmapLoss(decay: 0.9, scale: 1, backgroundWeight: 1, foregroundWeight: 1, lower: 0.7, upper: 0.95, penalty: .hybrid)
    let (value, gradient) = loss.evaluate(heatmaps: heatmaps, masks: masks, batch: 2, classes: 3, channels: 3, gradient: true)
    let g = try #require(gradient)
    func close(_ a: Double, _ b: Double) -> Bool { abs(a - b) <= 1e-10 * abs(b) }
    #expect(close(value, 2.3032255081452466))
    #expect(close(g.reduce(0) { $0 + $1 * $1 }.squareRoot(), 39.771155926170678))
    #expect(close(g.reduce(0) { $0 + abs($1) }, 4660.7998871448053))
    let entries: [Int: Double] = [
      1536: -4.0079541228395241, 4355: -3.6594551926828776, 8392: -3.7993554230714497, 9857: -4.2215060256349437,
      476: 0.30266684720681475, 25052: -0.14838902811088964, 49628: 0.15644062575068388,
    ]
    for (i, expected) in entries { #expect(close(g[i], expected), "gradient[\(i)]: \(g[i]), numpy \(expected)") }
  }
}

/// The zero-solution guard: it names a collapse (relevance gone, classifier at chance), a
/// run stuck at chance, and says nothing about a healthy run.
@Suite struct ZeroSolutionGuardTests {
  func record(_ epoch: Int, loss: Double, foreground: Double) -> EpochRecord {
    var r = EpochRecord(
      epoch: epoch, steps: 10, trainLoss: loss, trainClassificationLoss: loss, trainHeatmapLoss: 0.001, trainAccuracy: 0.33,
      validationLoss: nil, validationClassificationLoss: nil, validationHeatmapLoss: nil, validationAccuracy: nil, seconds: 1, skippedSamples: 0)
    r.foregroundRelevance = foreground
    return r
  }

  @Test func firesOnACollapsedRunAndNotOnAHealthyOne() {
    let check = ZeroSolutionGuard()
    let paper = TrainingSettings(loss: .paper)
    // The run: L_C = ln 3 to four digits, relevance gone.
    let collapsed = record(2, loss: log(3) + 2e-5, foreground: 1e-4)
    let message = check.check(collapsed, history: [record(1, loss: 1.1, foreground: 0.3)], initialForeground: 0.5, classes: 3, kind: .softmax, settings: paper)
    #expect(message?.hasPrefix("zero solution") == true)
    #expect(message?.contains("--loss gwrp") == true)
    // Healthy: L_C well below chance, relevance kept.
    #expect(check.check(record(2, loss: 0.4, foreground: 0.6), history: [], initialForeground: 0.5, classes: 3, kind: .softmax, settings: paper) == nil)
    // Relevance shrank but the classifier learns: not the zero solution.
    #expect(check.check(record(2, loss: 0.4, foreground: 1e-4), history: [], initialForeground: 0.5, classes: 3, kind: .softmax, settings: paper) == nil)
    // At chance with relevance kept: reported only after `patience` epochs at chance.
    let stuck = (1...3).map { record($0, loss: 1.099, foreground: 0.5) }
    #expect(check.check(stuck[1], history: [stuck[0]], initialForeground: 0.5, classes: 3, kind: .softmax, settings: paper) == nil)
    let late = check.check(stuck[2], history: Array(stuck[0..<2]), initialForeground: 0.5, classes: 3, kind: .softmax, settings: paper)
    #expect(late?.hasPrefix("at chance for 3 epochs") == true)
  }
}
