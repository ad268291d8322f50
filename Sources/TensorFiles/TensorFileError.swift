/// The one error type of TensorFiles. Every message names the file and, where one is involved,
/// the tensor, so a bad checkpoint can be found without a debugger.

public struct TensorFileError: Error, CustomStringConvertible, Sendable, Equatable {
  /// The path of the file being read or written.
  public let file: String
  /// The tensor concerned, when the problem belongs to one tensor.
  public let tensor: String?
  /// What is wrong, without the file and tensor names.
  public let message: String

  public init(file: String, tensor: String? = nil, _ message: String) {
    self.file = file
    self.tensor = tensor
    self.message = message
  }

  public var description: String {
    if let tensor {
      return "\(file): tensor '\(tensor)': \(message)"
    }
    return "\(file): \(message)"
  }
}
