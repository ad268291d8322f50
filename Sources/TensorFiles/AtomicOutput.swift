/// Atomic file creation for other modules (the ONNX export): the bytes go to a temporary
/// file next to the destination, which is renamed over it only when everything was
/// written and flushed. On any error the destination is untouched.

public struct AtomicOutput: ~Copyable {
  fileprivate var writer: AtomicFileWriter

  public mutating func write(_ bytes: [UInt8]) throws { try writer.write(bytes) }
  public mutating func write(_ bytes: UnsafeRawBufferPointer) throws { try writer.write(bytes) }
}

/// Creates `path` with what `fill` writes, atomically.
public func writeAtomically(to path: String, _ fill: (inout AtomicOutput) throws -> Void) throws {
  var output = AtomicOutput(writer: try AtomicFileWriter(destination: path))
  try fill(&output)
  try output.writer.commit()
}
