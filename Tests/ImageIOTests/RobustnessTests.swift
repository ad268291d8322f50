// Mutation fuzzing of the PNG and JPEG decoders through the C shim (deterministic seed): any
// corruption must give an ImageError or a valid image, never a crash.

import SeededRandom
import Testing

@testable import ImageIO


@Suite struct ImageRobustnessTests {
  @Test(arguments: ["png8", "png16", "jpeg"])
  func mutatedFilesNeverCrash(kind: String) throws {
    let source = patternImage(channels: 3, height: 24, width: 19, maximum: 255)
    let valid: [UInt8] =
      switch kind {
      case "png8": try PNGCodec.encode(source)
      case "png16": try PNGCodec.encode(source, bitDepth: 16)
      default: try JPEGCodec.encode(source, quality: 80)
      }
    var rng = SplitMix64(seed: 2024)
    var failures = 0
    for _ in 0..<1000 {
      var bytes = valid
      if Bool.random(using: &rng) {
        bytes = Array(bytes.prefix(Int.random(in: 0..<bytes.count, using: &rng)))
      }
      for _ in 0..<Int.random(in: 0...4, using: &rng) where bytes.count > 3 {
        bytes[Int.random(in: 3..<bytes.count, using: &rng)] ^= UInt8.random(in: 1...255, using: &rng)
      }
      do {
        let image = try decodeImage(bytes, file: "mutant")
        #expect(image.pixels.count == image.channels * image.height * image.width)
        #expect(image.pixels.allSatisfy { $0 >= 0 && $0 <= 1 })
      } catch let error as ImageError {
        #expect(error.file == "mutant")
        failures += 1
      }
    }
    #expect(failures > 300)
  }
}
