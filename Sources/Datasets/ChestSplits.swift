/// The splits `isnetc make-dataset chest` writes, and where each image's seed comes from.
extension SyntheticChest {
  public struct Split: Sendable, Equatable {
    public var name: String
    public var shapes: Shapes
    public var count: Int
    /// Splits with the same stream draw the same images (apart from the shape).
    public var stream: Int
  }

  /// The benchmark's splits for `trainingSize` training images; val and each test split get
  /// a quarter as many (at least 3).
  ///
  /// The three test splits share one stream: image i of test-clean and of test-swapped is
  /// image i of test-biased with its shape removed or replaced (the shape is drawn last),
  /// so a difference between their scores is the shape's doing, not another sample's.
  /// train and val have streams of their own: no test image is a training image.
  public static func splits(trainingSize: Int) -> [Split] {
    let test = max(3, trainingSize / 4)
    return [
      Split(name: "train", shapes: .matching, count: trainingSize, stream: 0),
      Split(name: "test-biased", shapes: .matching, count: test, stream: 1),
      Split(name: "test-clean", shapes: .none, count: test, stream: 1),
      Split(name: "test-swapped", shapes: .swapped, count: test, stream: 1),
      Split(name: "val", shapes: .matching, count: test, stream: 4),
    ]
  }

  /// Image `index`'s label in every split: the classes in turn, so each is balanced.
  public static func label(index: Int) -> Int { index % classNames.count }

  /// The seed of image `index` of a split drawn from `stream`, for the dataset's `seed`.
  public static func seed(dataset seed: UInt64, stream: Int, index: Int) -> UInt64 {
    seed &* 1_000_003 &+ UInt64(stream) << 40 &+ UInt64(index)
  }
}
