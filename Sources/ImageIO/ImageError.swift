/// The one error type of ImageIO: a message, and the file it concerns when there is one.

public struct ImageError: Error, CustomStringConvertible, Sendable, Equatable {
  /// The path of the image file, or nil for errors not tied to a file (bad arguments).
  public let file: String?
  /// What is wrong, without the file name.
  public let message: String

  public init(file: String?, _ message: String) {
    self.file = file
    self.message = message
  }

  public var description: String {
    if let file { return "\(file): \(message)" }
    return message
  }
}
