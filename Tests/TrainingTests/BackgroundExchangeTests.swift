import Testing

@testable import Training

@Suite struct BackgroundExchangeTests {
  let plane = 6 * 5
  let channels = 2

  /// Sample `s`: every pixel of channel c holds 100·s + c (so a pixel names its source), a
  /// foreground of the pixels `foreground`, and label s.
  func sample(_ s: Int, foreground: Set<Int>) -> TrainingSample {
    let image = (0..<(channels * plane)).map { i in Float(100 * s + i / plane) }
    let mask = (0..<plane).map { foreground.contains($0) ? Float(1) : 0 }
    return TrainingSample(image: image, mask: mask, label: s)
  }

  func batch() -> [TrainingSample] {
    [sample(0, foreground: [0, 1, 2, 7]), sample(1, foreground: [10, 11, 12]), sample(2, foreground: [20, 21, 22, 27]), sample(3, foreground: [3, 4])]
  }

  /// Which sample a pixel of `image` came from (every channel must agree).
  func source(_ image: [Float], _ p: Int) -> Int {
    let sources = (0..<channels).map { c in (Int(image[c * plane + p]) - c) / 100 }
    #expect(Set(sources).count == 1, "pixel \(p)'s channels come from different samples: \(sources)")
    return sources[0]
  }

  @Test func foregroundStaysAndBackgroundComesFromOthersBackgroundOnly() {
    let original = batch()
    var samples = original
    BackgroundExchange(probability: 1).apply(to: &samples, indices: [5, 6, 7, 8], seed: 3, epoch: 2, channels: channels)
    for k in samples.indices {
      #expect(samples[k].mask == original[k].mask && samples[k].label == original[k].label)
      var foreign = 0
      for p in 0..<plane {
        let from = source(samples[k].image, p)
        if original[k].mask![p] > 0 {
          #expect(from == k, "sample \(k)'s foreground pixel \(p) was replaced")
        } else if from != k {
          foreign += 1
          #expect(original[from].mask![p] == 0, "sample \(k)'s pixel \(p) shows sample \(from)'s object")
        }
      }
      #expect(foreign == plane - Int(original[k].mask!.reduce(0, +)), "every background pixel is exchanged when some other sample's background covers it")
    }
  }

  @Test func aPixelNoOtherSampleHasAsBackgroundStaysOwn() {
    // Pixel 0 is foreground in every sample but the first: the first keeps its own there.
    var samples = [sample(0, foreground: [5]), sample(1, foreground: [0]), sample(2, foreground: [0, 1])]
    BackgroundExchange(probability: 1).apply(to: &samples, indices: [0, 1, 2], seed: 1, epoch: 1, channels: channels)
    #expect(source(samples[0].image, 0) == 0)
    #expect(source(samples[0].image, 1) == 1)
  }

  @Test func probabilityZeroChangesNothingAndTheDrawsAreSeeded() {
    let original = batch()
    var unchanged = original
    BackgroundExchange(probability: 0).apply(to: &unchanged, indices: [0, 1, 2, 3], seed: 0, epoch: 1, channels: channels)
    #expect(unchanged.map(\.image) == original.map(\.image))

    func exchanged(seed: UInt64, epoch: Int, probability: Double = 0.5) -> [[Float]] {
      var samples = original
      BackgroundExchange(probability: probability).apply(to: &samples, indices: [0, 1, 2, 3], seed: seed, epoch: epoch, channels: channels)
      return samples.map(\.image)
    }
    #expect(exchanged(seed: 4, epoch: 2) == exchanged(seed: 4, epoch: 2))
    // Over seeds, about half the samples are exchanged and different draws give different pictures.
    let draws = (0..<40).map { exchanged(seed: UInt64($0), epoch: 1) }
    let changed = draws.flatMap { images in zip(images, original).map { $0 != $1.image } }.filter { $0 }.count
    #expect((50...110).contains(changed), "\(changed) of 160 samples exchanged at probability 0.5")
    #expect(Set(draws.map { $0.description }).count > 10)
  }

  @Test func unmaskedSamplesKeepTheirPicture() {
    var samples = batch()
    samples[1].mask = nil
    let before = samples[1].image
    BackgroundExchange(probability: 1).apply(to: &samples, indices: [0, 1, 2, 3], seed: 0, epoch: 1, channels: channels)
    #expect(samples[1].image == before)
    for k in [0, 2, 3] {
      #expect(samples[k].image != batch()[k].image)
      #expect((0..<plane).allSatisfy { source(samples[k].image, $0) != 1 }, "sample \(k) shows pixels of the unmasked sample")
    }
  }
}
