import Testing

@testable import Evaluation

/// ROC points: hand-worked cases, ties as one diagonal step, and the area under the points
/// equal to the Mann–Whitney AUC.
@Suite struct ROCCurveTests {
  @Test func pointsByHand() throws {
    // Scores 0.9 (+), 0.8 (−), 0.7 (+), 0.1 (−).
    let points = try #require(rocCurve(scores: [0.9, 0.8, 0.7, 0.1], positive: [true, false, true, false]))
    #expect(points.map(\.falsePositiveRate) == [0, 0, 0.5, 0.5, 1])
    #expect(points.map(\.truePositiveRate) == [0, 0.5, 0.5, 1, 1])
    #expect(rocCurve(scores: [0.1, 0.2], positive: [true, true]) == nil)
    #expect(rocCurve(scores: [], positive: []) == nil)
  }

  @Test func tiedScoresEnterTogether() throws {
    let points = try #require(rocCurve(scores: [0.5, 0.5, 0.5, 0.5], positive: [true, false, true, false]))
    #expect(points.count == 2)
    #expect(points[1].falsePositiveRate == 1 && points[1].truePositiveRate == 1)
  }

  @Test func areaUnderThePointsIsTheAUC() throws {
    var state: UInt64 = 12345
    func next() -> Double {
      state = state &* 6364136223846793005 &+ 1442695040888963407
      return Double(state >> 11) / Double(1 << 53)
    }
    for _ in 0..<20 {
      let positive = (0..<60).map { _ in next() < 0.4 }
      // Rounded scores make ties.
      let scores = positive.map { (($0 ? 0.3 : 0) + next()).rounded(toPlaces: 1) }
      guard let points = rocCurve(scores: scores, positive: positive), let auc = binaryAUC(scores: scores, positive: positive) else { continue }
      let area = zip(points, points.dropFirst()).reduce(0.0) { sum, pair in
        sum + (pair.1.falsePositiveRate - pair.0.falsePositiveRate) * (pair.1.truePositiveRate + pair.0.truePositiveRate) / 2
      }
      #expect(abs(area - auc) < 1e-12)
    }
  }

  @Test func nanScoresRankLowestWithoutHanging() throws {
    let points = try #require(rocCurve(scores: [.nan, 0.9, .nan, 0.1], positive: [true, true, false, false]))
    #expect(points.last!.falsePositiveRate == 1 && points.last!.truePositiveRate == 1)
  }
}

extension Double {
  fileprivate func rounded(toPlaces places: Int) -> Double {
    var scale = 1.0
    for _ in 0..<places { scale *= 10 }
    return (self * scale).rounded() / scale
  }
}
