// Mutation fuzzing of the safetensors and .npy parsers (in memory, deterministic seed): any
// corruption must give a TensorFileError, never a trap or a crash.

import SeededRandom
import Testing

@testable import TensorFiles


/// Truncates, flips bytes of, or splices digits into `bytes`.
func mutate(_ bytes: [UInt8], using rng: inout SplitMix64) -> [UInt8] {
  var out = bytes
  switch Int.random(in: 0..<4, using: &rng) {
  case 0:
    out = Array(out.prefix(Int.random(in: 0...out.count, using: &rng)))
  case 1:
    for _ in 0..<Int.random(in: 1...4, using: &rng) where !out.isEmpty {
      out[Int.random(in: 0..<out.count, using: &rng)] ^= UInt8.random(in: 1...255, using: &rng)
    }
  case 2:
    // Replace a byte by something JSON-significant.
    let tokens = Array("{}[]\",:-0123456789e. ".utf8)
    for _ in 0..<Int.random(in: 1...3, using: &rng) where out.count > 8 {
      out[Int.random(in: 8..<out.count, using: &rng)] = tokens.randomElement(using: &rng)!
    }
  default:
    let at = Int.random(in: 0...out.count, using: &rng)
    out.insert(contentsOf: Array("99999999999999999999".utf8).prefix(Int.random(in: 1...20, using: &rng)), at: at)
  }
  return out
}

@Suite struct RobustnessTests {
  @Test func mutatedSafetensorsNeverCrash() {
    let header =
      #"{"__metadata__":{"format":"pt"},"a":{"dtype":"F16","shape":[3],"data_offsets":[0,6]},"#
      + #""b":{"dtype":"F32","shape":[2,1],"data_offsets":[6,14]},"c":{"dtype":"I64","shape":[],"data_offsets":[14,22]}}"#
    let valid = safetensorsBytes(header: header, data: Array(repeating: 0x3C, count: 22))
    valid.withUnsafeBytes { #expect((try? SafetensorsHeader(fileBytes: $0, file: "f")) != nil) }
    var rng = SplitMix64(seed: 42)
    var rejected = 0
    for _ in 0..<3000 {
      let bytes = mutate(valid, using: &rng)
      bytes.withUnsafeBytes { raw in
        do {
          let parsed = try SafetensorsHeader(fileBytes: raw, file: "f")
          for info in parsed.tensors.values where info.dtype.convertsToFloat32 {
            let range = (parsed.dataStart + info.dataOffsets.lowerBound)..<(parsed.dataStart + info.dataOffsets.upperBound)
            #expect(range.upperBound <= raw.count)
            _ = convertToFloats(UnsafeRawBufferPointer(rebasing: raw[range]), dtype: info.dtype, count: info.elementCount)
          }
        } catch let error as TensorFileError {
          #expect(error.file == "f")
          rejected += 1
        } catch {
          Issue.record("unexpected error \(error)")
        }
      }
    }
    #expect(rejected > 2000)
  }

  @Test func mutatedNumpyNeverCrashes() {
    let valid = NumpyFile.headerBytes(shape: [2, 3]) + Array(repeating: 0, count: 24)
    var rng = SplitMix64(seed: 7)
    for _ in 0..<3000 {
      let bytes = mutate(valid, using: &rng)
      bytes.withUnsafeBytes { raw in
        do {
          let (shape, values) = try NumpyFile.parse(raw, file: "n")
          #expect(values.count == shape.reduce(1, *))
        } catch let error as TensorFileError {
          #expect(error.file == "n")
        } catch {
          Issue.record("unexpected error \(error)")
        }
      }
    }
  }
}
