import Foundation
import SeededRandom

/// Colour face-like objects with four binary attributes on textured backgrounds whose cues
/// agree with the attributes: the paper's artificially biased CelebA experiment (sections
/// 2.3 and 4.8.3) in miniature, a multi-label task.
///
/// - background: a gradient between two random colours, low-frequency waves, coloured
///   blotches;
/// - foreground (the mask): a head (an oval with ears) of random skin tone, size, place and
///   tilt, with hair, eyebrows, eyes, nose and mouth, and the hat when the face wears one;
/// - attributes, each drawn independently with probability ½ and drawn only on the head:
///   `glasses` (two rings with a bridge and temples), `smiling` (an open mouth showing
///   teeth; else a closed, straight to slightly down mouth), `hat` (a brimmed hat on the
///   head, part of the mask), `beard` (stubble over the lower face in the hair's colour).
///   `signal` scales how visible glasses, beard and smile are;
/// - the bias, one cue per attribute, two-valued, outside the mask only: `glasses` tints
///   the background warm (orange) or cool (blue); `smiling` lays horizontal or vertical
///   stripes over it; `hat` puts a square or a circle in the top-left corner; `beard` a
///   triangle or a cross in the bottom-right corner. The cues show the image's own values
///   in train, val and test-biased, are absent in test-clean and show the opposite values
///   in test-swapped. `cueStrength` scales the tint, the stripes' amplitude and the
///   badges' opacity.
///
/// The cues are drawn last from the image's generator: the same seed with `.matching`,
/// `.none` and `.swapped` gives the same face and background apart from the cues.
public struct SyntheticFaces: Sendable {
  public static let attributeNames = ["glasses", "smiling", "hat", "beard"]
  public var attributeNames: [String] { Self.attributeNames }
  public var channels: Int { 3 }
  public var resolution: Int
  /// How visible glasses, beard and smile are (1: dark frames, a full beard, a wide
  /// smile; lower is subtler).
  public var signal: Double
  /// Strength of the background cues (1: the default; larger is a stronger bias; 0: no
  /// cues, every split drawn as test-clean is).
  public var cueStrength: Double

  public init(resolution: Int = 64, signal: Double = 0.6, cueStrength: Double = 1) {
    self.resolution = resolution
    self.signal = signal
    self.cueStrength = cueStrength
  }

  public struct Sample: Sendable, Equatable {
    /// [3, resolution, resolution] in [0, 1].
    public var image: [Float]
    /// [resolution, resolution], 1 on the head, its ears and its hat.
    public var mask: [Float]
    /// One per attribute, in `attributeNames`' order.
    public var attributes: [Bool]
    /// The indices of the attributes present.
    public var labels: [Int] { attributes.indices.filter { attributes[$0] } }
  }

  static let hairColours: [[Double]] = [
    [0.08, 0.06, 0.05], [0.3, 0.18, 0.1], [0.78, 0.62, 0.34], [0.55, 0.22, 0.08], [0.62, 0.62, 0.6],
  ]

  public func sample(bias: SyntheticChest.Shapes, seed: UInt64) -> Sample {
    sample(seed: seed) { attributes in
      switch bias {
      case .matching: attributes
      case .none: nil
      case .swapped: attributes.map { !$0 }
      }
    }
  }

  /// The attributes of image `seed`, as `sample` draws them (each present with
  /// probability ½, independently).
  public func attributes(seed: UInt64) -> [Bool] {
    var r = SplitMix64(seed: seed)
    return (0..<4).map { _ in r.bool() }
  }

  /// The image of `seed` with the cues `cues(attributes)` (one value per attribute), or
  /// none when it gives nil. `attributes` replaces the seed's own attributes and leaves
  /// everything else as it is.
  func sample(seed: UInt64, attributes override: [Bool]? = nil, cues: ([Bool]) -> [Bool]?) -> Sample {
    var r = SplitMix64(seed: seed)
    let drawn = (0..<4).map { _ in r.bool() }
    let attributes = override ?? drawn
    let (glasses, smiling, hat, beard) = (attributes[0], attributes[1], attributes[2], attributes[3])
    let n = resolution
    let s = Double(n)
    let plane = n * n
    func colour(_ low: Double = 0.1, _ high: Double = 0.9) -> [Double] { (0..<3).map { _ in r.uniform(low, high) } }
    func blend(_ a: [Double], _ b: [Double], _ t: Double) -> [Double] { (0..<3).map { a[$0] * (1 - t) + b[$0] * t } }

    // Background.
    var image = [Float](repeating: 0, count: 3 * plane)
    let (c0, c1) = (colour(), colour())
    let (angle, waves, phase) = (r.uniform(0, 6.28), r.uniform(1, 3), r.uniform(0, 6.28))
    for y in 0..<n {
      for x in 0..<n {
        let (u, v) = (Double(x) / s, Double(y) / s)
        let t = 0.5 + 0.5 * sin(6.28 * waves * (u * cos(angle) + v * sin(angle)) + phase)
        for c in 0..<3 { image[c * plane + y * n + x] = Float(c0[c] * (1 - t) + c1[c] * t) }
      }
    }
    for _ in 0..<r.int(2...5) {
      let (bx, by, radius, tint) = (r.uniform(0, s), r.uniform(0, s), s * r.uniform(0.05, 0.15), colour())
      for y in 0..<n {
        for x in 0..<n {
          let d = ((Double(x) - bx) * (Double(x) - bx) + (Double(y) - by) * (Double(y) - by)).squareRoot()
          let a = max(0, min(1, radius - d)) * 0.7
          for c in 0..<3 { image[c * plane + y * n + x] = Float((1 - a) * Double(image[c * plane + y * n + x]) + a * tint[c]) }
        }
      }
    }

    // The face, in head units: u right, v down, the head the oval u² + (v / 1.25)² ≤ 1.
    // Its place leaves room for a hat whether or not there is one, so the place tells
    // nothing about the attributes.
    let a = s * r.uniform(0.15, 0.2)
    let cx = r.uniform(max(1.3 * a + 1, 0.3 * s), min(s - 1.3 * a - 1, 0.7 * s))
    let cy = r.uniform(max(1.9 * a + 1, 0.42 * s), min(s - 1.3 * a - 1, 0.62 * s))
    let tilt = r.uniform(-0.2, 0.2)
    let skin = blend([0.96, 0.8, 0.68], [0.42, 0.27, 0.18], r.unit()).map { $0 + r.uniform(-0.04, 0.04) }
    let hair = Self.hairColours[r.int(0...(Self.hairColours.count - 1))].map { $0 + r.uniform(-0.05, 0.05) }
    let (hatColour, bandColour) = (colour(), colour())
    let frame = colour(0.02, 0.3)
    let iris = colour(0.1, 0.5)
    let lips = [0.6 + r.uniform(-0.1, 0.1), 0.16, 0.16]
    let eyeX = r.uniform(0.34, 0.42)
    let mouthWidth = r.uniform(0.4, 0.5)
    // The mouth's curve: v = 0.46 + depth·(1 − (u / width)²). A closed mouth is that
    // curve, straight to slightly down; a smile is open, down to a curve as deep as the
    // signal allows.
    let straight = r.uniform(-0.06, 0.02)
    let depth = smiling ? 0.12 + 0.4 * signal : straight
    let line = 0.75 / a  // a stroke's half-width: 0.75 pixel
    let (ct, st) = (cos(tilt), sin(tilt))
    var mask = [Float](repeating: 0, count: plane)
    for y in 0..<n {
      for x in 0..<n {
        let (dx, dy) = (Double(x) + 0.5 - cx, Double(y) + 0.5 - cy)
        let (u, v) = ((dx * ct + dy * st) / a, (-dx * st + dy * ct) / a)
        let head = u * u + v * v / 1.5625 <= 1
        let ear = ((abs(u) - 1) / 0.18) * ((abs(u) - 1) / 0.18) + (v / 0.28) * (v / 0.28) <= 1
        let brim = abs(u) <= 1.2 && v >= -1.02 && v <= -0.8
        let crown = v >= -1.85 && v < -1.02 && abs(u) <= 0.72 + 0.12 * (v + 1.02)
        let onHat = hat && (brim || crown)
        guard head || ear || onHat else { continue }
        mask[y * n + x] = 1
        var p: [Double]
        if onHat {
          p = crown && v >= -1.22 ? bandColour : hatColour
          p = p.map { $0 * (1 - 0.12 * abs(u)) }
        } else {
          p = skin.map { $0 * (1 - 0.12 * (u * u + v * v / 1.5625)) }
          if head {
            if v < -0.62 + 0.3 * u * u { p = hair }
            let ex = abs(u) - eyeX
            if abs(ex) < 0.18, abs(v + 0.44 - 0.8 * ex * ex) < 0.05 + line * 0.5 { p = hair }
            if (ex / 0.17) * (ex / 0.17) + ((v + 0.12) / 0.1) * ((v + 0.12) / 0.1) <= 1 {
              p = ex * ex + (v + 0.12) * (v + 0.12) <= 0.07 * 0.07 ? iris : [0.95, 0.95, 0.93]
            }
            if abs(u) < line, v > 0, v < 0.26 { p = p.map { $0 * 0.78 } }
            if beard, v > 0.2 {
              // Stubble: dark dots on every other pixel of every other row over a
              // hair-coloured shade.
              let dot = x % 2 == 0 && y % 2 == 0
              p = blend(p, hair.map { $0 * (dot ? 0.35 : 1) }, min(1, (dot ? 1 : 0.6) * signal))
            }
            let curve = 0.46 + depth * (1 - (u / mouthWidth) * (u / mouthWidth))
            if smiling {
              // An open smile: teeth over a dark mouth between the top line and the curve
              // below it, lips around.
              if abs(u) <= mouthWidth, v >= 0.46 - line, v <= curve + line {
                p = v < 0.46 + line || v > curve - line ? lips : v < 0.46 + 0.4 * depth ? [0.96, 0.95, 0.9] : [0.3, 0.04, 0.06]
              }
            } else if abs(u) <= mouthWidth, abs(v - curve) < line * 1.2 {
              p = lips
            }
            if glasses {
              let ring = abs((ex * ex + (v + 0.12) * (v + 0.12)).squareRoot() - 0.25) < line
              let bridge = abs(v + 0.12) < line && abs(u) < eyeX - 0.24
              let temple = abs(v + 0.14) < line && abs(u) > eyeX + 0.24 && abs(u) < 0.98
              if ring || bridge || temple { p = blend(p, frame, min(1, 0.4 + 0.6 * signal)) }
            }
          }
        }
        for c in 0..<3 { image[c * plane + y * n + x] = Float(p[c]) }
      }
    }
    for i in 0..<(3 * plane) { image[i] += Float(r.normal() * 0.025) }

    // The cues, outside the mask only.
    if let cues = cues(attributes) { drawCues(cues, on: &image, mask: mask, r: &r) }
    return Sample(image: image.map { min(1, max(0, $0)) }, mask: mask, attributes: attributes)
  }

  /// The four cues for `cues` (one value per attribute), composited over the background.
  func drawCues(_ cues: [Bool], on image: inout [Float], mask: [Float], r: inout SplitMix64) {
    let n = resolution
    let s = Double(n)
    let plane = n * n
    let k = cueStrength
    let tint: [Double] = cues[0] ? [0.95, 0.5, 0.1] : [0.1, 0.45, 0.95]
    let alpha = min(1, 0.3 * k)
    let period = max(4, s / 10)
    let stripePhase = r.uniform(0, period)
    let amplitude = 0.1 * k
    let badge = s * 0.14
    let margin = s * 0.03
    let jitter = (r.uniform(0, margin), r.uniform(0, margin), r.uniform(0, margin), r.uniform(0, margin))
    let (hx, hy) = (margin + jitter.0 + badge / 2, margin + jitter.1 + badge / 2)
    let (bx, by) = (s - margin - jitter.2 - badge / 2, s - margin - jitter.3 - badge / 2)
    let opacity = min(1, 0.75 * k)
    for y in 0..<n {
      for x in 0..<n where mask[y * n + x] == 0 {
        let (px, py) = (Double(x) + 0.5, Double(y) + 0.5)
        let along = cues[1] ? py : px
        let stripe = (along + stripePhase).truncatingRemainder(dividingBy: period) < period / 2 ? amplitude : -amplitude
        // Top left: a square (hat) or a circle (no hat).
        let (hu, hv) = (px - hx, py - hy)
        let hatBadge =
          cues[2] ? max(abs(hu), abs(hv)) <= badge / 2 - 0.5 : hu * hu + hv * hv <= (badge / 2) * (badge / 2)
        // Bottom right: a triangle pointing up (beard) or a cross (no beard).
        let (bu, bv) = (px - bx, py - by)
        let beardBadge =
          cues[3]
          ? bv <= badge / 2 && bv >= -badge / 2 && abs(bu) <= (bv + badge / 2) / 2
          : max(abs(bu), abs(bv)) <= badge / 2 && (abs(bu - bv) < badge * 0.16 || abs(bu + bv) < badge * 0.16)
        for c in 0..<3 {
          let i = c * plane + y * n + x
          var value = Double(image[i]) * (1 - alpha) + tint[c] * alpha + stripe
          if hatBadge || beardBadge { value = value * (1 - opacity) + opacity }
          image[i] = Float(value)
        }
      }
    }
  }
}
