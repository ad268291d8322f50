import Testing

@testable import Datasets

/// The glyphs and objects benchmarks: same seed same bytes, images in range, the bias
/// outside the mask only and drawn last (so the test splits pair), the swapped bias the
/// next class's.
@Suite struct BenchmarkTests {
  static let tasks: [any BiasBenchmark] = [SyntheticGlyphs(resolution: 64), SyntheticObjects(resolution: 64)]

  @Test(arguments: 0..<2) func sameSeedSameBytesAndInRange(_ t: Int) {
    let task = Self.tasks[t]
    for label in 0..<3 {
      let a = task.draw(label: label, bias: .matching, seed: 42)
      let b = task.draw(label: label, bias: .matching, seed: 42)
      #expect(a.image.map(\.bitPattern) == b.image.map(\.bitPattern) && a.mask == b.mask)
      #expect(task.draw(label: label, bias: .matching, seed: 43).image != a.image)
      #expect(a.image.count == task.channels * 64 * 64 && a.mask.count == 64 * 64)
      #expect(a.image.allSatisfy { $0 >= 0 && $0 <= 1 })
      let share = a.mask.reduce(0, +) / Float(a.mask.count)
      #expect(share > 0.03 && share < 0.5, "mask share \(share)")
    }
  }

  /// The objects' mask is the object grown by its margin: it holds the exact outline's
  /// mask and every pixel within the margin of it, nothing farther.
  @Test func objectsMaskIsTheObjectWithItsMargin() {
    let n = 64
    for seed: UInt64 in [1, 2, 3] {
      let exact = SyntheticObjects(resolution: n, maskMargin: 0).draw(label: Int(seed % 3), bias: .none, seed: seed).mask
      let grown = SyntheticObjects(resolution: n).draw(label: Int(seed % 3), bias: .none, seed: seed).mask
      #expect(exact.indices.allSatisfy { exact[$0] == 0 || grown[$0] == 1 })
      let reach = 3
      for i in exact.indices where exact[i] == 1 {
        let (x, y) = (i % n, i / n)
        for (dx, dy) in [(reach, 0), (-reach, 0), (0, reach), (0, -reach), (2, 2), (-2, -2)] {
          let (gx, gy) = (x + dx, y + dy)
          if gx >= 0, gx < n, gy >= 0, gy < n { #expect(grown[gy * n + gx] == 1) }
        }
      }
      #expect(grown.reduce(0, +) > exact.reduce(0, +) * 1.2)
      // …and nothing farther than the margin from the object.
      let inside = exact.indices.filter { exact[$0] == 1 }
      for i in grown.indices where grown[i] == 1 && exact[i] == 0 {
        let near = inside.contains { j in
          let (dx, dy) = (i % n - j % n, i / n - j / n)
          return dx * dx + dy * dy <= reach * reach
        }
        #expect(near, "pixel \(i % n),\(i / n) is farther than \(reach) from the object")
      }
    }
    // A single pixel grown by 1 is a plus; by 1.5, its 3×3 square.
    var dot = [Float](repeating: 0, count: 25)
    dot[12] = 1
    #expect(Raster.dilate(dot, side: 5, by: 1).reduce(0, +) == 5)
    #expect(Raster.dilate(dot, side: 5, by: 1.5).reduce(0, +) == 9)
  }

  /// Biased, clean and swapped images of one seed differ only outside the mask, and only
  /// where the bias is drawn; the mask is the same.
  @Test(arguments: 0..<2) func testSplitsArePairedAndTheBiasIsOutsideTheMask(_ t: Int) {
    let task = Self.tasks[t]
    let plane = 64 * 64
    for seed: UInt64 in [1, 2, 3] {
      for label in 0..<3 {
        let clean = task.draw(label: label, bias: .none, seed: seed)
        for bias in [SyntheticChest.Shapes.matching, .swapped] {
          let biased = task.draw(label: label, bias: bias, seed: seed)
          #expect(biased.mask == clean.mask)
          let changed = biased.image.indices.filter { biased.image[$0] != clean.image[$0] }
          #expect(changed.count > 20, "the bias changes \(changed.count) values")
          #expect(changed.allSatisfy { clean.mask[$0 % plane] == 0 })
        }
      }
    }
  }

  /// The swapped bias of class k is the matching bias of class k + 1: the same pixels
  /// change for the same image content. Checked where the image content does not depend
  /// on the class (the bias is placed from the generator's state after the image, which
  /// depends on the class), so the comparison is of where the bias lands relative to the
  /// class: glyphs' corner patch position.
  @Test func swappedCornerIsTheNextClasss() {
    let task = SyntheticGlyphs(resolution: 64)
    let n = 64
    func corner(_ label: Int, _ bias: SyntheticChest.Shapes) -> (Bool, Bool) {
      let clean = task.draw(label: label, bias: .none, seed: 5)
      let biased = task.draw(label: label, bias: bias, seed: 5)
      let changed = biased.image.indices.filter { biased.image[$0] != clean.image[$0] }
      let (x, y) = (changed.map { $0 % n }.reduce(0, +) / changed.count, changed.map { $0 / n }.reduce(0, +) / changed.count)
      return (x > n / 2, y > n / 2)
    }
    // Class 0: top left, 1: top right, 2: bottom right.
    let expected = [(false, false), (true, false), (true, true)]
    for label in 0..<3 {
      #expect(corner(label, .matching) == expected[label])
      #expect(corner(label, .swapped) == expected[(label + 1) % 3])
    }
  }
}
