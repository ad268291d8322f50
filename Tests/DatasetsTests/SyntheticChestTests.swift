import Testing

@testable import Datasets

@Suite struct SyntheticChestTests {
  let task = SyntheticChest(resolution: 64)

  @Test func sameSeedSameBytes() {
    for label in 0..<3 {
      let a = task.sample(label: label, shapes: .matching, seed: 42)
      let b = task.sample(label: label, shapes: .matching, seed: 42)
      #expect(a.image.map(\.bitPattern) == b.image.map(\.bitPattern) && a.mask == b.mask)
      #expect(task.sample(label: label, shapes: .matching, seed: 43).image != a.image)
    }
  }

  @Test func imagesAreInRangeWithTwoLungs() {
    let s = task.sample(label: 0, shapes: .none, seed: 1)
    #expect(s.image.allSatisfy { $0 >= 0 && $0 <= 1 })
    let foreground = s.mask.reduce(0, +) / Float(s.mask.count)
    #expect(foreground > 0.1 && foreground < 0.4)
    // Left and right halves each hold a lung, with a gap between them.
    let columns = (0..<64).map { x in (0..<64).contains { y in s.mask[y * 64 + x] > 0 } }
    #expect(columns[16] && columns[47] && !columns[32])
  }

  /// The class signal lives inside the lungs and the bias shape outside them: with the
  /// same seed, changing the class changes only lung pixels (before clutter and shapes,
  /// which are drawn outside), and adding the shape changes only background pixels.
  @Test func signalInsideShapeOutside() {
    let plain = task.sample(label: 0, shapes: .none, seed: 7)
    let shaped = task.sample(label: 0, shapes: .matching, seed: 7)
    var changedInside = 0
    var changedOutside = 0
    for i in plain.image.indices where plain.image[i] != shaped.image[i] {
      if plain.mask[i] > 0 { changedInside += 1 } else { changedOutside += 1 }
    }
    #expect(changedInside == 0 && changedOutside > 10)
    let nodules = task.sample(label: 1, shapes: .none, seed: 7)
    #expect(zip(plain.image, nodules.image).enumerated().contains { $0.element.0 != $0.element.1 && plain.mask[$0.offset] > 0 })
  }

  @Test func swappedShapesBelongToTheNextClass() {
    // The swapped shape of class k is the matching shape of class k + 1 (same pixels for
    // the same seed, as the shape is drawn last from the same stream).
    let swapped = task.sample(label: 0, shapes: .swapped, seed: 9)
    let plain = task.sample(label: 0, shapes: .none, seed: 9)
    let shapePixels = swapped.image.indices.filter { swapped.image[$0] != plain.image[$0] }
    #expect(!shapePixels.isEmpty)
    #expect(shapePixels.allSatisfy { swapped.image[$0] == 1 && swapped.mask[$0] == 0 })
  }
}

/// The benchmark's splits: paired test splits, separate training and validation streams.
@Suite struct ChestSplitTests {
  let task = SyntheticChest(resolution: 64, shapeSize: 0.2)

  @Test func testSplitsAreTheSameImagesApartFromTheShape() throws {
    let splits = SyntheticChest.splits(trainingSize: 12)
    #expect(splits.map(\.name) == ["train", "test-biased", "test-clean", "test-swapped", "val"])
    #expect(splits.map(\.count) == [12, 3, 3, 3, 3])
    let tests = splits.filter { $0.name.hasPrefix("test-") }
    #expect(Set(tests.map(\.stream)).count == 1)
    let others = splits.filter { !$0.name.hasPrefix("test-") }.map(\.stream)
    #expect(Set(others + [tests[0].stream]).count == 3)  // train, val and the tests apart
    for index in 0..<3 {
      let images = tests.map {
        task.sample(label: SyntheticChest.label(index: index), shapes: $0.shapes, seed: SyntheticChest.seed(dataset: 5, stream: $0.stream, index: index))
      }
      // Same lungs (mask and every pixel inside them); the background differs by the shape.
      #expect(images[0].mask == images[1].mask && images[1].mask == images[2].mask)
      let inside = images[0].mask.indices.filter { images[0].mask[$0] > 0 }
      #expect(inside.allSatisfy { images[0].image[$0] == images[1].image[$0] && images[1].image[$0] == images[2].image[$0] })
      let changed = images[0].image.indices.filter { images[0].image[$0] != images[1].image[$0] }
      #expect(!changed.isEmpty && changed.count < 64 * 64 / 10)
    }
  }
}
