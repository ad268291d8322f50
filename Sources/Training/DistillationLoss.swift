/// The explanation-distillation loss (Bassi et al., "Training with Explanations Alone"):
/// how far a student's heatmap S is from its teacher's T, over the full map and its
/// average-pooled versions.
///
/// Per pair and scale, with n values per map:
///   g = √(mean |S|) · √(mean |T|) + δ,   ℓ = mean |S − T| / g
/// The geometric mean of the two maps' scales keeps ℓ finite when either map is empty
/// (dividing by the student's scale alone explodes as it shrinks; by the teacher's alone,
/// the student could match a zero map) and still penalises a wrong scale: S = kT leaves
/// |√k − 1/√k|. Scales: the map, then average pools with kernel = stride 2, 4, … while the
/// pooled side is at least `minimumSide` (64² → 4 scales, 224² → 5); each is normalised on
/// its own and the loss is their mean, then the mean over pairs. Pooling compares where
/// relevance lies at coarser grains, so a student is not punished for a one-pixel shift
/// as much as for relevance in the wrong region.
public struct DistillationLoss: Sendable, Equatable {
  /// δ in g.
  public static let stabilizer = 1e-10

  /// How each pair is brought to a common scale.
  public enum Normalization: String, Sendable, Codable, CaseIterable {
    /// Both maps divided by the geometric mean of their mean |R| (the authors').
    case geometric
    /// Each map divided by its own mean |R|: ℓ = mean |S/m_S − T/m_T|, blind to the
    /// student map's scale.
    case separate
  }

  public var pyramid: Bool
  public var minimumSide: Int
  public var normalization: Normalization

  public init(pyramid: Bool = true, minimumSide: Int = 8, normalization: Normalization = .geometric) {
    self.pyramid = pyramid
    self.minimumSide = minimumSide
    self.normalization = normalization
  }

  /// The pooling factors used for a map of `height` × `width`.
  public func factors(height: Int, width: Int) -> [Int] {
    var factors = [1]
    guard pyramid else { return factors }
    while min(height / (factors.last! * 2), width / (factors.last! * 2)) >= minimumSide { factors.append(factors.last! * 2) }
    return factors
  }

  /// The loss of `pairs` map pairs, each [C, H, W] (flattened, student and teacher alike),
  /// and, when `gradient`, its gradient by the student's maps.
  public func evaluate(student: [Double], teacher: [Double], pairs: Int, channels: Int, height: Int, width: Int, gradient: Bool) -> (loss: Double, gradient: [Double]?) {
    let perMap = channels * height * width
    precondition(student.count == pairs * perMap && teacher.count == pairs * perMap, "maps must be [pairs, C, H, W]")
    let factors = factors(height: height, width: width)
    var total = 0.0
    var grad = gradient ? [Double](repeating: 0, count: student.count) : nil
    let weight = 1 / Double(factors.count * pairs)
    for p in 0..<pairs {
      let base = p * perMap
      let s = Array(student[base..<base + perMap]), t = Array(teacher[base..<base + perMap])
      for f in factors {
        let (ps, h, w) = Self.pool(s, channels: channels, height: height, width: width, factor: f)
        let (pt, _, _) = Self.pool(t, channels: channels, height: height, width: width, factor: f)
        let (loss, dPooled) = normalization == .geometric ? Self.pairLoss(ps, pt, gradient: gradient) : Self.separateLoss(ps, pt, gradient: gradient)
        total += loss * weight
        guard let dPooled else { continue }
        // The pool's transpose: each pooled value's gradient spread evenly over its window.
        let share = weight / Double(f * f)
        for c in 0..<channels {
          for i in 0..<h {
            for j in 0..<w {
              let d = dPooled[(c * h + i) * w + j] * share
              guard d != 0 else { continue }
              for a in 0..<f {
                let row = base + (c * height + i * f + a) * width + j * f
                for b in 0..<f { grad![row + b] += d }
              }
            }
          }
        }
      }
    }
    return (total, grad)
  }

  /// ℓ of one pair at one scale and dℓ/dS. At S = 0 the derivative of |S| is taken as 0,
  /// as autograd's.
  static func pairLoss(_ s: [Double], _ t: [Double], gradient: Bool) -> (Double, [Double]?) {
    let n = Double(s.count)
    var meanS = 0.0, meanT = 0.0, difference = 0.0
    for i in s.indices {
      meanS += abs(s[i])
      meanT += abs(t[i])
      difference += abs(s[i] - t[i])
    }
    (meanS, meanT, difference) = (meanS / n, meanT / n, difference / n)
    let (rootS, rootT) = (meanS.squareRoot(), meanT.squareRoot())
    let g = rootS * rootT + stabilizer
    let loss = difference / g
    guard gradient else { return (loss, nil) }
    // dℓ/dS_i = sign(S_i − T_i)/(n·g) − (ℓ/g)·√mean|T|/(2·√mean|S|)·sign(S_i)/n
    let scaleTerm = rootS > 0 ? loss / g * rootT / (2 * rootS) : 0
    let d = s.indices.map { i in (absDerivative(s[i] - t[i]) / g - scaleTerm * absDerivative(s[i])) / n }
    return (loss, d)
  }

  /// ℓ = mean |S/m_S − T/m_T| (m: mean |·| + δ) and dℓ/dS.
  static func separateLoss(_ s: [Double], _ t: [Double], gradient: Bool) -> (Double, [Double]?) {
    let n = Double(s.count)
    let meanS = s.reduce(0) { $0 + abs($1) } / n + stabilizer
    let meanT = t.reduce(0) { $0 + abs($1) } / n + stabilizer
    var loss = 0.0
    var signs = [Double](repeating: 0, count: gradient ? s.count : 0)
    var projection = 0.0  // Σ_j sign(u_j − v_j)·S_j
    for i in s.indices {
      let d = s[i] / meanS - t[i] / meanT
      loss += abs(d)
      if gradient {
        signs[i] = absDerivative(d)
        projection += signs[i] * s[i]
      }
    }
    loss /= n
    guard gradient else { return (loss, nil) }
    // u = S/m_S: du_j/dS_i = δ_ij/m_S − S_j·sign(S_i)/(n·m_S²).
    let d = s.indices.map { i in signs[i] / (n * meanS) - absDerivative(s[i]) * projection / (n * n * meanS * meanS) }
    return (loss, d)
  }

  /// Average pooling with kernel = stride = `factor` (a remainder at the edge is dropped,
  /// as PyTorch's avg_pool2d does).
  static func pool(_ map: [Double], channels: Int, height: Int, width: Int, factor: Int) -> ([Double], Int, Int) {
    guard factor > 1 else { return (map, height, width) }
    let (h, w) = (height / factor, width / factor)
    var out = [Double](repeating: 0, count: channels * h * w)
    let area = Double(factor * factor)
    for c in 0..<channels {
      for i in 0..<h {
        for j in 0..<w {
          var sum = 0.0
          for a in 0..<factor {
            let row = (c * height + i * factor + a) * width + j * factor
            for b in 0..<factor { sum += map[row + b] }
          }
          out[(c * h + i) * w + j] = sum / area
        }
      }
    }
    return (out, h, w)
  }
}
