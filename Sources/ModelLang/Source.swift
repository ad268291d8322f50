/// Source files and positions. Text is kept as bytes: the lexer never decodes, so binary
/// garbage or invalid UTF-8 is reported, not trapped on.

public struct SourceFile: Sendable {
  /// The path as the user gave it; diagnostics print it unchanged.
  public let path: String
  public let bytes: [UInt8]
  /// Offsets where each line starts.
  let lineStarts: [Int]

  public init(path: String, bytes: [UInt8]) {
    self.path = path
    self.bytes = bytes
    var starts = [0]
    for (offset, byte) in bytes.enumerated() where byte == 0x0A { starts.append(offset + 1) }
    lineStarts = starts
  }

  public init(path: String, text: String) { self.init(path: path, bytes: Array(text.utf8)) }

  /// 1-based line and column (in bytes) of `offset`.
  func lineAndColumn(_ offset: Int) -> (line: Int, column: Int) {
    var low = 0
    var high = lineStarts.count - 1
    while low < high {
      let mid = (low + high + 1) / 2
      if lineStarts[mid] <= offset { low = mid } else { high = mid - 1 }
    }
    return (low + 1, offset - lineStarts[low] + 1)
  }

  /// The bytes of 1-based line `line`, without its newline.
  func lineBytes(_ line: Int) -> ArraySlice<UInt8> {
    let start = lineStarts[line - 1]
    var end = line < lineStarts.count ? lineStarts[line] - 1 : bytes.count
    if end > start, bytes[end - 1] == 0x0D { end -= 1 }
    return bytes[start..<max(start, end)]
  }
}

/// A position in one of the program's files.
public struct SourceLocation: Sendable, Hashable {
  public var file: Int
  public var offset: Int
  public init(file: Int, offset: Int) {
    self.file = file
    self.offset = offset
  }
}
