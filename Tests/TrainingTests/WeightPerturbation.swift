import Runtime
import TestSupport

/// `weights` with every trainable value scaled by 1 + u·`perturbation`, u uniform in
/// [−1, 1) from `seed` (running statistics kept): how the step tests measure how far
/// rounding-sized changes move heatmaps and gradients.
func perturbed(_ weights: WeightTable, by perturbation: Double, seed: UInt64) -> WeightTable {
  guard perturbation > 0 else { return weights }
  var weights = weights
  var random = SplitMix64(seed: seed)
  for name in weights.keys.sorted() where !name.contains("running") {
    weights[name]!.values = weights[name]!.values.map { Float(Double($0) * (1 + perturbation * (random.unit() * 2 - 1))) }
  }
  return weights
}
